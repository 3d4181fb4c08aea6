/** The bounded write-back cache of a disk backend: one slot per (state, key, namespace), CLOCK eviction, dirty slots written back in batches. */
import type { MapKey } from '../heap/map-key.ts';
import type { Namespace } from '../heap/state-table.ts';
import { SlotIndex } from './slot-index.ts';

/**
 * The share of a full cache that may be dirty before whole key groups are written back in
 * turn: the higher, the more writes each group's write-back shares leaf pages with (about
 * twice this share of the cache over the number of key groups) and the more dirty slots the
 * hand passes looking for a clean victim. Measured at 10 M keys with a 1 M-slot cache
 * (docs/state-backends.md): 0.125 145 k records/s, 0.25 156 k, 0.5 139 k.
 */
export const DIRTY_SHARE_MAX = 0.25;

/**
 * While a full cache is over DIRTY_SHARE_MAX dirty, each eviction earns this many write-backs:
 * more than one, so a cache that filled up dirty gets down to the share; no more than a few,
 * so a hot set that keeps over the share dirty (and is dirty again soon after each write-back)
 * costs at most this many writes per eviction, where writing back in eviction order cost one.
 */
export const WRITE_BACKS_PER_EVICTION = 2;

/** Listed slots a write-back loads ahead of writing them (see `#loadAhead`). */
const LOAD_AHEAD_SLOTS = 64;
/** Where `#loadAhead` leaves what it read, so the compiler keeps its loads. */
let _loadedCharacters = 0;

/** What a slot needs from its table: drop it from the table's maps, and write it to the store. */
export interface SlotOwner {
  /** Forgets the slot (eviction); writes it back first if it is dirty. */
  evict(slot: CacheSlot): void;
  /** Writes a dirty slot's cell to the store (or removes the entry) and marks it clean. */
  writeBack(slot: CacheSlot): void;
}

/**
 * One cached entry. `cell` undefined means "no entry" (a cached miss or a pending removal),
 * so a key read once and found absent is not looked up in the store again. Slot objects are
 * reused: an evicted slot becomes the newly admitted one (no allocation per miss).
 */
export class CacheSlot {
  owner: SlotOwner;
  groupIndex: number;
  mapKey: MapKey;
  namespace: Namespace;
  cell: unknown;
  /** Changed since it was read or last written back. */
  dirty = false;
  /** The store holds an entry for it (a removal is needed when the cell goes). */
  stored: boolean;
  /** CLOCK's reference bit: set on every access, cleared as the hand passes. */
  referenced = true;
  /** In the cache's dirty list (at most once, whatever entries the object has held since). */
  listed = false;
  /** Its tag in the cache's SlotIndex (void-namespace entries), or 0 while not in it. */
  tag = 0;

  constructor(
    owner: SlotOwner,
    groupIndex: number,
    mapKey: MapKey,
    namespace: Namespace,
    cell: unknown,
    stored: boolean,
  ) {
    this.owner = owner;
    this.groupIndex = groupIndex;
    this.mapKey = mapKey;
    this.namespace = namespace;
    this.cell = cell;
    this.stored = stored;
  }
}

/**
 * All slots of one backend, across its states, bounded by `entriesMax`: a CLOCK ring. A hit
 * costs a lookup in `index` (or in a window state's Maps) plus setting `referenced`; nothing
 * moves on a hit. Admitting a slot into a full ring moves the hand past referenced slots
 * (clearing their bits) to the first unreferenced one, evicts it and reuses its object.
 *
 * Dirty slots are written back a key group at a time, never one by one as they are evicted.
 * Store keys start with (state, key group), so one group's writes land in a few contiguous
 * stretches of lmdb's B-tree: a write transaction copies each leaf page it touches once, and
 * ten writes that share a leaf cost little more than one. Written back in CLOCK order, the
 * writes of a transaction scatter over the whole tree once it is much larger than the cache,
 * one leaf copied per write (measured at 10 M keys in docs/state-backends.md). So, while the
 * ring is full and evicting:
 * - while more than DIRTY_SHARE_MAX of it (a quarter) is dirty, whole key groups are written back in turn
 *   (round robin), at WRITE_BACKS_PER_EVICTION writes per eviction: a steady trickle that
 *   lmdb's write thread commits while the main thread goes on, and each group has had a whole
 *   round to gather dirty slots;
 * - the hand passes dirty slots by (they become clean when their group's turn comes) and
 *   evicts clean ones, which costs no write; only if every slot is dirty does it write back
 *   the victim's group.
 * A cache that never fills never writes back before a snapshot. Dirty slots are listed by key
 * group, so a snapshot writes them back in O(dirty).
 */
export class WriteBackCache {
  readonly entriesMax: number;
  /** Where the tables find their void-namespace slots (their other namespaces are in Maps of their own). */
  readonly index = new SlotIndex();
  readonly #ring: CacheSlot[] = [];
  #hand = 0;
  /**
   * Per key group (by group index), the slots that became dirty since that group was last
   * written back, each object once (some may have been written back or reused since: checked
   * when flushing), so together they never outgrow the ring.
   */
  #dirtyByGroup: (CacheSlot[] | undefined)[] = [];
  /** Slots dirty now (each counted once per stretch of dirtiness). */
  #dirtyCount = 0;
  readonly #dirtyMax: number;
  /** The group index whose turn it is to be written back. */
  #nextGroup = 0;
  /** Write-backs earned by evictions and not spent yet (negative: spent ahead by a group's write-back). */
  #writeBackCredit = 0;
  #evictions = 0;
  #writeBacks = 0;

  constructor(entriesMax: number, dirtyShareMax = DIRTY_SHARE_MAX) {
    this.entriesMax = entriesMax;
    this.#dirtyMax = Math.floor(entriesMax * dirtyShareMax);
  }

  get size(): number {
    return this.#ring.length;
  }

  /** Counters for tests, benchmarks and docs. */
  stats(): { readonly entries: number; readonly evictions: number; readonly writeBacks: number } {
    return { entries: this.#ring.length, evictions: this.#evictions, writeBacks: this.#writeBacks };
  }

  /**
   * A slot for a new entry, evicting another first when the ring is full. The caller puts it
   * into its table's maps; eviction only ever drops slots that are in a map already.
   */
  acquire(
    owner: SlotOwner,
    groupIndex: number,
    mapKey: MapKey,
    namespace: Namespace,
    cell: unknown,
    stored: boolean,
  ): CacheSlot {
    const ring = this.#ring;
    if (ring.length < this.entriesMax) {
      const slot = new CacheSlot(owner, groupIndex, mapKey, namespace, cell, stored);
      ring.push(slot);
      return slot;
    }
    if (this.#dirtyCount > this.#dirtyMax) {
      this.#writeBackCredit += WRITE_BACKS_PER_EVICTION;
      if (this.#writeBackCredit > 0) this.#writeBackCredit -= this.#flushNextGroup();
    } else {
      this.#writeBackCredit = 0;
    }
    let hand = this.#hand;
    let victim = ring[hand];
    let passed = 0;
    // The first turn clears every reference bit, so a second finds a clean slot unless none is.
    while (victim.referenced || (victim.dirty && passed < 2 * ring.length)) {
      victim.referenced = false;
      hand = hand + 1 === ring.length ? 0 : hand + 1;
      victim = ring[hand];
      passed++;
    }
    this.#hand = hand + 1 === ring.length ? 0 : hand + 1;
    if (victim.dirty) this.#flushGroup(victim.groupIndex);
    if (victim.dirty) {
      // Listed under another group (its object was reused while listed): written back alone.
      this.#dirtyCount--;
      this.#writeBacks++;
    }
    victim.owner.evict(victim);
    this.#evictions++;
    victim.owner = owner;
    victim.groupIndex = groupIndex;
    victim.mapKey = mapKey;
    victim.namespace = namespace;
    victim.cell = cell;
    victim.stored = stored;
    victim.dirty = false;
    victim.referenced = true;
    return victim;
  }

  /** Marks a slot dirty (callers check `slot.dirty` first, so this runs once per write-back cycle). */
  markDirty(slot: CacheSlot): void {
    if (!slot.dirty) this.#dirtyCount++;
    slot.dirty = true;
    if (slot.listed) return;
    slot.listed = true;
    const listed = this.#dirtyByGroup[slot.groupIndex];
    if (listed === undefined) this.#dirtyByGroup[slot.groupIndex] = [slot];
    else listed.push(slot);
  }

  /** Writes back every dirty slot (all states, or those of `owner`); they stay cached, clean. */
  flush(owner?: SlotOwner): void {
    for (let group = 0; group < this.#dirtyByGroup.length; group++) this.#flushGroup(group, owner);
  }

  /**
   * Writes back the dirty slots listed under one key group (all, or those of `owner`; the
   * others' stay listed); they stay cached, clean. Returns how many it wrote.
   */
  #flushGroup(groupIndex: number, owner?: SlotOwner): number {
    const listed = this.#dirtyByGroup[groupIndex];
    if (listed === undefined) return 0;
    const kept: CacheSlot[] = [];
    let written = 0;
    for (let start = 0; start < listed.length; start += LOAD_AHEAD_SLOTS) {
      const end = Math.min(start + LOAD_AHEAD_SLOTS, listed.length);
      this.#loadAhead(listed, start, end);
      for (let i = start; i < end; i++) {
        const slot = listed[i];
        if (owner !== undefined && slot.owner !== owner && slot.dirty) {
          kept.push(slot);
          continue;
        }
        slot.listed = false;
        if (!slot.dirty) continue;
        slot.owner.writeBack(slot);
        written++;
      }
    }
    this.#dirtyByGroup[groupIndex] = kept.length === 0 ? undefined : kept;
    this.#dirtyCount -= written;
    this.#writeBacks += written;
    return written;
  }

  /**
   * Loads the listed slots [start, end) and their key strings, and does nothing else with
   * them. A slot written back was last touched about a cache's worth of accesses ago, so
   * both are cache misses; in this loop no load waits for another, so the CPU has many in
   * flight at once, where the write-back, with a key to encode and a store write between
   * two slots, has one at a time. The write-back then finds them in cache (measured at
   * 10 M keys, alternating: 229 k and 236 k records/s against 220 k and 223 k without,
   * 7 % less task-thread CPU).
   */
  #loadAhead(listed: readonly CacheSlot[], start: number, end: number): void {
    let characters = 0;
    for (let i = start; i < end; i++) {
      const key = listed[i].mapKey;
      if (typeof key === 'string') characters += key.length;
    }
    _loadedCharacters = characters;
  }

  /** Writes back the next key group, in turn, that has dirty slots listed; returns how many it wrote. */
  #flushNextGroup(): number {
    const byGroup = this.#dirtyByGroup;
    for (let tried = 0; tried < byGroup.length; tried++) {
      const group = this.#nextGroup;
      this.#nextGroup = group + 1 >= byGroup.length ? 0 : group + 1;
      if (byGroup[group] !== undefined) return this.#flushGroup(group);
    }
    throw new Error(`write-back cache: ${this.#dirtyCount} dirty slots counted, none listed`);
  }

  /** Drops everything without writing back (dispose). */
  clear(): void {
    this.index.clear();
    this.#ring.length = 0;
    this.#hand = 0;
    this.#dirtyByGroup = [];
    this.#dirtyCount = 0;
    this.#writeBackCredit = 0;
  }
}
