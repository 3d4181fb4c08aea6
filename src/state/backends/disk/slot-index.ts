/** Where a disk backend's cache finds the slot of a (state, key) in the void namespace: an open-addressing table of 32-bit tags. */
import type { MapKey } from '../heap/map-key.ts';
import type { CacheSlot, SlotOwner } from './write-back-cache.ts';

/** Entries the table starts with; it doubles whenever it is half full. */
const CAPACITY_MIN = 1_024;

/**
 * A 32-bit hash of a Map key, equal for keys a Map treats as the same (SameValueZero: `0` and
 * `-0` are one key). Keys that differ may share it: the table compares the keys themselves.
 */
export function mapKeyHash(mapKey: MapKey): number {
  if (typeof mapKey === 'string') {
    let hash = 0x811c9dc5;
    for (let i = 0; i < mapKey.length; i++) hash = Math.imul(hash ^ mapKey.charCodeAt(i), 0x01000193);
    return hash;
  }
  if (typeof mapKey === 'number' && (mapKey | 0) === mapKey) return Math.imul(mapKey | 0, 0x9e3779b1);
  return mapKeyHash(String(mapKey)) ^ (typeof mapKey === 'bigint' ? 0x2545f491 : 0x6b43a9b5);
}

/**
 * The tag of a key's slot in one state: the key's hash mixed with the state's salt (so the
 * states of one key land apart), never 0, which marks an empty entry.
 */
export function slotTag(keyHash: number, salt: number): number {
  let h = Math.imul(keyHash ^ salt, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
}

/** A state's salt for `slotTag`, from its id. */
export function slotSalt(stateId: number): number {
  return Math.imul(stateId + 1, 0x9e3779b1);
}

/**
 * Linear probing over an Int32Array of tags beside an array of slots, at most half full, with
 * backward-shift deletion (no tombstones). Why not a Map per key group, as before: at 10 M
 * keys with a million cached, nine records in ten miss the cache, and each miss looked up an
 * absent key, then evicted a victim with `Map.delete`. A Map's lookup walks a bucket chain
 * whose entries and key strings are all cold (every step a load from main memory, each
 * depending on the one before), and `Map.delete` first reads the victim's key string for its
 * hash. Here an absent key costs one cache line of tags (compared as numbers, no string
 * touched), and removing a slot needs its tag, which the slot keeps, and a pointer compare.
 * The two made up a fifth of the task thread's profile (docs/state-backends.md).
 */
export class SlotIndex {
  #tags = new Int32Array(CAPACITY_MIN);
  #slots: (CacheSlot | undefined)[] = new Array(CAPACITY_MIN).fill(undefined);
  #mask = CAPACITY_MIN - 1;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The slot of `owner`'s entry for `mapKey` in key group `groupIndex` whose tag is `tag`, or undefined. */
  find(owner: SlotOwner, groupIndex: number, mapKey: MapKey, tag: number): CacheSlot | undefined {
    const tags = this.#tags;
    const mask = this.#mask;
    for (let i = tag & mask; ; i = (i + 1) & mask) {
      const at = tags[i];
      if (at === 0) return undefined;
      if (at === tag) {
        const slot = this.#slots[i]!;
        if (slot.mapKey === mapKey && slot.owner === owner && slot.groupIndex === groupIndex) return slot;
      }
    }
  }

  /** Adds a slot that is not in the table (the caller's `find` missed), under `slot.tag`. */
  insert(slot: CacheSlot): void {
    if (2 * (this.#size + 1) > this.#tags.length) this.#grow();
    this.#place(slot.tag, slot);
    this.#size++;
  }

  /** Removes a slot that is in the table. */
  remove(slot: CacheSlot): void {
    const tags = this.#tags;
    const slots = this.#slots;
    const mask = this.#mask;
    let hole = slot.tag & mask;
    while (slots[hole] !== slot) {
      if (tags[hole] === 0) throw new Error(`slot index: a slot of tag ${slot.tag} is not in the table`);
      hole = (hole + 1) & mask;
    }
    // Move back every later entry of the run whose probe passes the hole, so no lookup
    // stops at it early.
    for (let i = (hole + 1) & mask; tags[i] !== 0; i = (i + 1) & mask) {
      const home = tags[i] & mask;
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        tags[hole] = tags[i];
        slots[hole] = slots[i];
        hole = i;
      }
    }
    tags[hole] = 0;
    slots[hole] = undefined;
    this.#size--;
  }

  /** Forgets every slot. */
  clear(): void {
    this.#tags = new Int32Array(CAPACITY_MIN);
    this.#slots = new Array(CAPACITY_MIN).fill(undefined);
    this.#mask = CAPACITY_MIN - 1;
    this.#size = 0;
  }

  #place(tag: number, slot: CacheSlot): void {
    const tags = this.#tags;
    const mask = this.#mask;
    let i = tag & mask;
    while (tags[i] !== 0) i = (i + 1) & mask;
    tags[i] = tag;
    this.#slots[i] = slot;
  }

  #grow(): void {
    const tags = this.#tags;
    const slots = this.#slots;
    const capacity = 2 * tags.length;
    this.#tags = new Int32Array(capacity);
    this.#slots = new Array(capacity).fill(undefined);
    this.#mask = capacity - 1;
    for (let i = 0; i < tags.length; i++) if (tags[i] !== 0) this.#place(tags[i], slots[i]!);
  }
}
