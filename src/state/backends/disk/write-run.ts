/** One run of writes on their way to lmdb: keys and values copied into one arena and indexed by key, so a write allocates no object of its own. */

/**
 * Bytes of keys and values one run holds at most before it goes to lmdb (a single larger
 * write gets a run of its own): bounds the heap of a run that is still filling.
 */
export const WRITE_RUN_BYTES_MAX = 4 * 1024 * 1024;
/** A run's first arena; it doubles while the run fills, up to WRITE_RUN_BYTES_MAX. */
const INITIAL_ARENA_BYTES = 64 * 1024;
/** Per entry: key offset, key length, value length (REMOVAL or SUPERSEDED instead for those). */
const META_INTS = 3;
const REMOVAL = -1;
/** A later write of the same key in the same run replaced this one: not sent to lmdb. */
const SUPERSEDED = -2;

/** FNV-1a over a key's bytes: the run index's hash, computed once per lookup across runs. */
export function hashKey(key: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key[i], 0x01000193);
  return hash ^ (hash >>> 16);
}

/**
 * Writes collected while open, then handed to lmdb together (one transaction) and kept,
 * immutable, until lmdb has committed them: until then reads find their values here. The
 * arena is also what lmdb reads the values from when it commits (lmdb-js takes the address of
 * a value, not a copy), so it is never written again once the run is sealed.
 *
 * Reads return views of the arena; a key written twice keeps only its last write.
 */
export class WriteRun {
  readonly entriesMax: number;
  #arena: Buffer;
  #used = 0;
  #count = 0;
  #live = 0;
  #sealed = false;
  readonly #meta: Int32Array;
  readonly #hashes: Int32Array;
  /** Open addressing, entry index + 1 per slot (0: empty), at most half full. */
  readonly #index: Int32Array;
  readonly #mask: number;

  constructor(entriesMax: number, firstWriteBytes: number) {
    this.entriesMax = entriesMax;
    this.#arena = Buffer.allocUnsafeSlow(
      Math.max(firstWriteBytes, Math.min(INITIAL_ARENA_BYTES, entriesMax * 64)),
    );
    this.#meta = new Int32Array(entriesMax * META_INTS);
    this.#hashes = new Int32Array(entriesMax);
    let slots = 2;
    while (slots < entriesMax * 2) slots *= 2;
    this.#index = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  /** Writes in the run, replaced ones included. */
  get count(): number {
    return this.#count;
  }

  /** Distinct keys: what lmdb will be asked to write. */
  get live(): number {
    return this.#live;
  }

  /** Heap the run holds: its arena and tables. */
  get heldBytes(): number {
    return this.#arena.length + this.#meta.byteLength + this.#hashes.byteLength + this.#index.byteLength;
  }

  /** Whether a write of `bytes` (key and value) still fits; an empty run takes any one write. */
  fits(bytes: number): boolean {
    return this.#count < this.entriesMax && (this.#count === 0 || this.#used + bytes <= WRITE_RUN_BYTES_MAX);
  }

  get isFull(): boolean {
    return this.#count === this.entriesMax || this.#used >= WRITE_RUN_BYTES_MAX;
  }

  /** Records a write (value null: a removal); the caller checked `fits`. Copies both arrays. */
  add(key: Uint8Array, hash: number, value: Uint8Array | null): void {
    if (this.#sealed) throw new Error('a write run was written after it went to the store (a bug)');
    const valueLength = value === null ? 0 : value.length;
    this.#reserve(key.length + valueLength);
    const entry = this.#count++;
    const arena = this.#arena;
    const keyOffset = this.#used;
    arena.set(key, keyOffset);
    if (value !== null) arena.set(value, keyOffset + key.length);
    this.#used = keyOffset + key.length + valueLength;
    const meta = this.#meta;
    meta[entry * META_INTS] = keyOffset;
    meta[entry * META_INTS + 1] = key.length;
    meta[entry * META_INTS + 2] = value === null ? REMOVAL : valueLength;
    this.#hashes[entry] = hash;
    const index = this.#index;
    let slot = hash & this.#mask;
    for (;;) {
      const held = index[slot];
      if (held === 0) {
        index[slot] = entry + 1;
        this.#live++;
        return;
      }
      if (this.#hashes[held - 1] === hash && this.#keyEquals(held - 1, key)) {
        meta[(held - 1) * META_INTS + 2] = SUPERSEDED;
        index[slot] = entry + 1;
        return;
      }
      slot = (slot + 1) & this.#mask;
    }
  }

  /** The entry holding `key`'s latest write in this run, or -1. */
  find(key: Uint8Array, hash: number): number {
    const index = this.#index;
    let slot = hash & this.#mask;
    for (;;) {
      const held = index[slot];
      if (held === 0) return -1;
      if (this.#hashes[held - 1] === hash && this.#keyEquals(held - 1, key)) return held - 1;
      slot = (slot + 1) & this.#mask;
    }
  }

  /** An entry's value as a view of the arena, or null for a removal. */
  valueOf(entry: number): Uint8Array | null {
    const meta = this.#meta;
    const valueLength = meta[entry * META_INTS + 2];
    if (valueLength < 0) return null;
    const start = meta[entry * META_INTS] + meta[entry * META_INTS + 1];
    return this.#arena.subarray(start, start + valueLength);
  }

  /**
   * Seals the run and calls `write` for each key's latest write, in the order they were made:
   * the key as a view valid only during the call, and the value as (arena, start, end), or
   * start -1 for a removal.
   */
  seal(write: (key: Buffer, arena: Buffer, start: number, end: number) => void): void {
    this.#sealed = true;
    const arena = this.#arena;
    this.#forEachLatest((keyOffset, keyEnd, valueLength) => {
      if (valueLength === REMOVAL) write(arena.subarray(keyOffset, keyEnd), arena, -1, -1);
      else write(arena.subarray(keyOffset, keyEnd), arena, keyEnd, keyEnd + valueLength);
    });
  }

  /**
   * Calls `visit` with every key's latest write that has at least 4 key bytes: its entry and
   * the first four key bytes as an unsigned number (a store key's state id and key group).
   * Creates no object per entry.
   */
  forEachLatestPrefix(visit: (entry: number, prefix: number) => void): void {
    const arena = this.#arena;
    const meta = this.#meta;
    for (let entry = 0; entry < this.#count; entry++) {
      if (meta[entry * META_INTS + 2] === SUPERSEDED || meta[entry * META_INTS + 1] < 4) continue;
      visit(entry, arena.readUInt32BE(meta[entry * META_INTS]));
    }
  }

  /** An entry's key as a view of the arena. */
  keyOf(entry: number): Buffer {
    const offset = this.#meta[entry * META_INTS];
    return this.#arena.subarray(offset, offset + this.#meta[entry * META_INTS + 1]);
  }

  /** Calls `visit` with every key's latest write (key and value as views; value null: removal), in write order. */
  forEachLatest(visit: (key: Buffer, value: Uint8Array | null) => void): void {
    const arena = this.#arena;
    this.#forEachLatest((keyOffset, keyEnd, valueLength) =>
      visit(
        arena.subarray(keyOffset, keyEnd),
        valueLength === REMOVAL ? null : arena.subarray(keyEnd, keyEnd + valueLength),
      ),
    );
  }

  /** Every entry not superseded, in write order: where its key starts and ends, and its value length (REMOVAL for one). */
  #forEachLatest(visit: (keyOffset: number, keyEnd: number, valueLength: number) => void): void {
    const meta = this.#meta;
    for (let entry = 0; entry < this.#count; entry++) {
      const valueLength = meta[entry * META_INTS + 2];
      if (valueLength === SUPERSEDED) continue;
      const keyOffset = meta[entry * META_INTS];
      visit(keyOffset, keyOffset + meta[entry * META_INTS + 1], valueLength);
    }
  }

  #keyEquals(entry: number, key: Uint8Array): boolean {
    const length = this.#meta[entry * META_INTS + 1];
    if (length !== key.length) return false;
    const arena = this.#arena;
    const offset = this.#meta[entry * META_INTS];
    for (let i = 0; i < length; i++) if (arena[offset + i] !== key[i]) return false;
    return true;
  }

  #reserve(bytes: number): void {
    const needed = this.#used + bytes;
    if (needed <= this.#arena.length) return;
    let size = this.#arena.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafeSlow(Math.max(needed, Math.min(size, WRITE_RUN_BYTES_MAX)));
    this.#arena.copy(next, 0, 0, this.#used);
    this.#arena = next;
  }
}
