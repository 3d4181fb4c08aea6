/** The bounded write-back cache of a disk backend: one slot per (state, key, namespace), CLOCK eviction, dirty slots written back in batches. */
import type { MapKey } from '../heap/map-key.ts';
import type { Namespace } from '../heap/state-table.ts';

/** What a slot needs from its table: drop it from the table's maps, and write it to the store. */
export interface SlotOwner {
  /** Forgets the slot (eviction); writes it back first if it is dirty. */
  evict(slot: CacheSlot): void;
  /** Writes a dirty slot's cell to the store (or removes the entry) and marks it clean. */
  writeBack(slot: CacheSlot): void;
}

/**
 * One cached entry. `cell` undefined means "no entry" (a cached miss or a pending removal),
 * so a key read once and found absent is not looked up in the store again.
 */
export class CacheSlot {
  readonly owner: SlotOwner;
  readonly groupIndex: number;
  readonly mapKey: MapKey;
  readonly namespace: Namespace;
  cell: unknown;
  /** Changed since it was read or last written back. */
  dirty = false;
  /** The store holds an entry for it (a removal is needed when the cell goes). */
  stored: boolean;
  /** CLOCK's reference bit: set on every access, cleared as the hand passes. */
  referenced = true;

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
 * All slots of one backend, across its states, bounded by `entriesMax`. A hit costs the
 * table's Map lookup plus setting `referenced`; nothing moves on a hit. Admitting a slot
 * beyond the bound first evicts a batch (CLOCK: the hand skips, and clears, referenced
 * slots), writing dirty ones back; lmdb commits the writes of one event-loop turn in one
 * transaction. Dirty slots are also listed, so a snapshot writes them back in O(dirty).
 */
export class WriteBackCache {
  readonly entriesMax: number;
  readonly #evictBatch: number;
  /** Insertion order is the CLOCK's circle: the hand is the first element. */
  readonly #slots = new Set<CacheSlot>();
  /** Slots that became dirty since the last flush (some may have been written back since: skipped). */
  #dirty: CacheSlot[] = [];
  #evictions = 0;
  #writeBacks = 0;

  constructor(entriesMax: number, evictBatch: number) {
    this.entriesMax = entriesMax;
    this.#evictBatch = Math.max(1, Math.min(evictBatch, entriesMax));
  }

  get size(): number {
    return this.#slots.size;
  }

  get dirtyCount(): number {
    return this.#dirty.length;
  }

  /** Counters for tests, benchmarks and docs. */
  stats(): { readonly entries: number; readonly evictions: number; readonly writeBacks: number } {
    return { entries: this.#slots.size, evictions: this.#evictions, writeBacks: this.#writeBacks };
  }

  /** Adds a slot the caller just created (and put into its table), evicting others first if full. */
  admit(slot: CacheSlot): void {
    if (this.#slots.size >= this.entriesMax) this.#evict(this.entriesMax - this.#evictBatch);
    this.#slots.add(slot);
  }

  /** Marks a slot dirty (callers check `slot.dirty` first, so this runs once per write-back cycle). */
  markDirty(slot: CacheSlot): void {
    slot.dirty = true;
    this.#dirty.push(slot);
  }

  /** Writes back every dirty slot (all states, or those of `owner`); they stay cached, clean. */
  flush(owner?: SlotOwner): void {
    const dirty = this.#dirty;
    if (owner === undefined) this.#dirty = [];
    else this.#dirty = dirty.filter((slot) => slot.dirty && slot.owner !== owner);
    for (const slot of dirty) {
      if (!slot.dirty || (owner !== undefined && slot.owner !== owner)) continue;
      slot.owner.writeBack(slot);
      this.#writeBacks++;
    }
  }

  /** Forgets a slot its table dropped (dispose); it must not be dirty. */
  forget(slot: CacheSlot): void {
    this.#slots.delete(slot);
  }

  /** Drops everything without writing back (dispose). */
  clear(): void {
    this.#slots.clear();
    this.#dirty = [];
  }

  #evict(target: number): void {
    const slots = this.#slots;
    // At most two passes: the first may only clear reference bits.
    let steps = 2 * slots.size + 1;
    for (const slot of slots) {
      if (slots.size <= target || steps-- === 0) return;
      slots.delete(slot);
      if (slot.referenced) {
        slot.referenced = false;
        slots.add(slot);
        continue;
      }
      if (slot.dirty) this.#writeBacks++;
      slot.owner.evict(slot);
      this.#evictions++;
    }
    if (this.#dirty.length > 4 * this.entriesMax) this.#dirty = this.#dirty.filter((slot) => slot.dirty);
  }
}
