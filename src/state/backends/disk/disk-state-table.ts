/** One state of a disk backend: the heap state table's interface over the write-back cache and the store. */
import { BinaryReader, BinaryWriter } from '../../../core/binary.ts';
import type { StateTtlConfig } from '../../descriptors.ts';
import { VOID_NAMESPACE } from '../../keyed-state.ts';
import type { TypeSerializer } from '../../serializers/type-serializer.ts';
import type { KeyedStateKind } from '../../snapshot/keyed-state-format.ts';
import { type CellFormat, decodeCell, encodeCell } from '../cell-codec.ts';
import { type MapKey, toMapKey } from '../heap/map-key.ts';
import type { Namespace } from '../heap/state-table.ts';
import type { TtlCellOps } from '../heap/ttl.ts';
import type { DeferredRestore } from './deferred-restore.ts';
import { type LocalKvStore, STORE_KEY_BYTES_MAX } from './local-kv-store.ts';
import { type ReadAhead, UNREAD } from './read-ahead.ts';
import { mapKeyHash, slotSalt, slotTag } from './slot-index.ts';
import { keyBytesOf, parseStoreKey, storeKey, storeKeyOf } from './store-key.ts';
import type { CacheSlot, SlotOwner, WriteBackCache } from './write-back-cache.ts';
import { hashKey } from './write-run.ts';

/** The current key of a disk backend, shared with its tables; `keyBytes` is computed on the first store access. */
export class DiskCurrentKey {
  key: unknown = undefined;
  keyGroup = -1;
  /** `keyGroup - range.start`, or -1 while no key is set (and after dispose). */
  groupIndex = -1;
  mapKey: MapKey = '';
  keyBytes: Uint8Array | undefined = undefined;
  /** `mapKeyHash(mapKey)`, once `hashed` (computed on the first cache lookup of the key). */
  hash = 0;
  hashed = false;
}

/** A TTL state's store cleanup runs once per this many accesses of it. */
export const TTL_STORE_CLEANUP_INTERVAL_ACCESSES = 64;
/** Store entries one TTL cleanup run checks: about TTL_CLEANUP_ENTRIES_PER_ACCESS (3) per access, as on the heap. */
export const TTL_STORE_CLEANUP_ENTRIES = 192;
const ZERO_BYTE = Buffer.alloc(1);

/** The first possible store key of a state (and the end of the one before). */
function stateBound(stateId: number): Buffer {
  const bound = Buffer.alloc(4);
  bound.writeUInt16BE(stateId);
  return bound;
}

/** Reused for every write-back: the store copies the value it is given. */
const valueScratch = new BinaryWriter(1024);

/**
 * The methods the heap's state handles (HeapValueState, TtlMapState, …) call on a table —
 * `get`, `getForUpdate`, `getMutable`, `set`, `delete`, `cleanupStep` — so the disk backend
 * reuses them unchanged and its states behave exactly as on the heap. A read that misses the
 * cache reads the store synchronously and caches the result (also "absent"); a write only
 * touches the cache and marks the slot dirty; dirty slots reach the store when evicted, when
 * a snapshot or `keys()` flushes them.
 *
 * Values user code mutates in place are the cached objects: such a mutation is seen by later
 * reads while the entry stays cached and reaches the store if the entry is (or becomes) dirty,
 * but not otherwise — as with Flink's RocksDB backend, call `update` to be sure.
 */
export class DiskStateTable implements SlotOwner {
  readonly name: string;
  readonly kind: KeyedStateKind;
  readonly ttl: StateTtlConfig | undefined;
  readonly ttlOps: TtlCellOps | undefined;
  readonly stateId: number;
  readonly valueSerializer: TypeSerializer<unknown>;
  readonly mapKeySerializer: TypeSerializer<unknown>;
  readonly format: CellFormat;
  readonly #current: DiskCurrentKey;
  readonly #cache: WriteBackCache;
  readonly #store: LocalKvStore;
  readonly #restore: DeferredRestore;
  readonly #rangeStart: number;
  #accessesSinceCleanup = 0;
  /** Where the next TTL cleanup step starts (undefined: at the state's first entry). */
  #cleanupCursor: Buffer | undefined;
  /** Key groups of the backend's range; 0 once disposed. */
  #groupCount: number;
  /** Mixed into this state's slot tags (its void-namespace slots are in the cache's index). */
  readonly #salt: number;
  #namespaceMaps: (Map<MapKey, Map<Namespace, CacheSlot>> | undefined)[];
  /** Store reads (cache misses of a non-empty store) since the backend last took the count. */
  #storeReads = 0;
  /**
   * Keys (void namespace) of the read-ahead's current request, by index in it. The worker's
   * value of a key is used only if the store has no write of the key since the request
   * (`#requestedAt`, a store write mark). It had none in flight when it was asked for, so the
   * committed value the worker read is then still the current one, however often the key
   * came and went from the cache meanwhile. Checking at the read keeps eviction from touching
   * the victim's key (a cold string whose hash a Map needs).
   */
  readonly #requested = new Map<MapKey, number>();
  /** The store's write mark when the current request was made. */
  #requestedAt = 0;
  #readAhead: ReadAhead | undefined;

  constructor(options: {
    readonly name: string;
    readonly kind: KeyedStateKind;
    readonly ttl: StateTtlConfig | undefined;
    readonly ttlOps: TtlCellOps | undefined;
    readonly stateId: number;
    readonly valueSerializer: TypeSerializer<unknown>;
    readonly mapKeySerializer: TypeSerializer<unknown>;
    readonly current: DiskCurrentKey;
    readonly cache: WriteBackCache;
    readonly store: LocalKvStore;
    /** Restored state not in the store yet: loaded before the store is first read. */
    readonly restore: DeferredRestore;
    readonly rangeStart: number;
    readonly groupCount: number;
  }) {
    this.name = options.name;
    this.kind = options.kind;
    this.ttl = options.ttl;
    this.ttlOps = options.ttlOps;
    this.stateId = options.stateId;
    this.valueSerializer = options.valueSerializer;
    this.mapKeySerializer = options.mapKeySerializer;
    this.format = {
      kind: options.kind,
      hasTtl: options.ttl !== undefined,
      valueSerializer: options.valueSerializer,
      mapKeySerializer: options.mapKeySerializer,
    };
    this.#current = options.current;
    this.#cache = options.cache;
    this.#store = options.store;
    this.#restore = options.restore;
    this.#rangeStart = options.rangeStart;
    this.#groupCount = options.groupCount;
    this.#salt = slotSalt(options.stateId);
    this.#namespaceMaps = new Array(options.groupCount).fill(undefined);
  }

  /** The current key's cell in `namespace` (undefined: none). */
  get(namespace: Namespace): unknown {
    return this.#slot(namespace)?.cell;
  }

  /** Like `get`; the caller mutates the returned array or Map in place, so the slot becomes dirty. */
  getForUpdate(namespace: Namespace): unknown {
    const slot = this.#slot(namespace);
    if (slot === undefined || slot.cell === undefined) return undefined;
    if (!slot.dirty) this.#cache.markDirty(slot);
    return slot.cell;
  }

  /**
   * Like `get`. No copy is needed for pending snapshots: a snapshot serializes dirty cells in
   * its synchronous part and reads everything else from the store's read transaction.
   */
  getMutable(namespace: Namespace): unknown {
    return this.#slot(namespace)?.cell;
  }

  set(namespace: Namespace, cell: unknown): void {
    const slot = this.#slotForWrite(namespace);
    slot.cell = cell;
    if (!slot.dirty) this.#cache.markDirty(slot);
  }

  delete(namespace: Namespace): void {
    const slot = this.#slot(namespace);
    if (slot === undefined) {
      this.#slotForWrite(namespace); // throws: no current key
      return;
    }
    if (slot.cell === undefined) return;
    slot.cell = undefined;
    if (!slot.dirty) this.#cache.markDirty(slot);
  }

  /**
   * Incremental TTL cleanup of the store (what RocksDB's compaction filter does for Flink):
   * every TTL_STORE_CLEANUP_INTERVAL_ACCESSES accesses of this TTL state, the next
   * TTL_STORE_CLEANUP_ENTRIES entries of the state from a rolling cursor are checked and
   * expired parts removed, so state of keys that never come back goes too. Entries that are
   * cached are left alone: the cache is authoritative for them; for entries being written,
   * the in-flight value is. Expired
   * entries are also dropped when read and left out of `keys()` and snapshots.
   */
  cleanupStep(nowMs: number): void {
    const ops = this.ttlOps;
    if (ops === undefined || ++this.#accessesSinceCleanup < TTL_STORE_CLEANUP_INTERVAL_ACCESSES) return;
    this.#accessesSinceCleanup = 0;
    if (this.#restore.pending) this.#restore.loadNow();
    const store = this.#store;
    if (store.isEmpty) return;
    const start = this.#cleanupCursor ?? stateBound(this.stateId);
    const entries = store.scan(start, stateBound(this.stateId + 1), TTL_STORE_CLEANUP_ENTRIES);
    // Wrap around at the end of the state; resume after the last entry otherwise.
    this.#cleanupCursor =
      entries.length < TTL_STORE_CLEANUP_ENTRIES
        ? undefined
        : Buffer.concat([entries[entries.length - 1].key, ZERO_BYTE]);
    for (const { key, value: committed } of entries) {
      // A queued or uncommitted write is newer than the committed value (and may stay queued
      // for a while: the store queues write-backs until it has many).
      const pending = store.inFlightValue(key);
      if (pending === null) continue;
      const value = pending ?? committed;
      const parsed = parseStoreKey(key);
      const groupIndex = key.readUInt16BE(2) - this.#rangeStart;
      const mapKey = toMapKey(parsed.key);
      const cached =
        parsed.namespace === VOID_NAMESPACE
          ? this.#cache.index.find(this, groupIndex, mapKey, slotTag(mapKeyHash(mapKey), this.#salt)) !==
            undefined
          : this.#namespaceMaps[groupIndex]?.get(mapKey)?.has(parsed.namespace) === true;
      if (cached) continue;
      const cell = this.decode(value);
      const kept = ops.purge(cell, nowMs);
      if (kept === cell) continue;
      if (kept === undefined) store.remove(key);
      else store.put(key, this.#encode(kept));
    }
  }

  /** Store reads since the last call: the backend's measure of whether read-ahead pays for this state. */
  takeStoreReads(): number {
    const reads = this.#storeReads;
    this.#storeReads = 0;
    return reads;
  }

  /** Forgets the read-ahead request (a new one starts, or the backend stops using it). */
  clearRequests(): void {
    if (this.#requested.size !== 0) this.#requested.clear();
  }

  /** Starts this state's part of a read-ahead request, which `requestRead` then adds to. */
  useReadAhead(readAhead: ReadAhead): void {
    this.#readAhead = readAhead;
    this.#requestedAt = this.#store.writeMark();
  }

  /**
   * Adds this state's entry (void namespace) of a batch's key to the read-ahead's request,
   * unless it is requested already, being written (the worker reads what is committed) or
   * ruled out by the store's key filter (a miss then reads it as absent without lmdb);
   * false once the request is full. Keys the backend would reject are left to
   * `setCurrentKey` to report. Cached keys are requested too: looking the cache up here
   * cost a lookup that misses the CPU's caches per record, the batch then looks it up
   * again anyway, and the worker's read of a hit is simply not used (measured at 10 M keys:
   * 123–132 k records/s checking, 143–152 k not).
   */
  requestRead(key: unknown, keyGroup: number): boolean {
    const groupIndex = keyGroup - this.#rangeStart;
    if (!(groupIndex >= 0 && groupIndex < this.#groupCount)) return true;
    let mapKey: MapKey;
    try {
      mapKey = toMapKey(key);
    } catch {
      return true;
    }
    const requested = this.#requested;
    if (requested.has(mapKey)) return true;
    const entryKey = storeKeyOf(this.stateId, keyGroup, mapKey, VOID_NAMESPACE);
    if (entryKey.length > STORE_KEY_BYTES_MAX) return true;
    const hash = hashKey(entryKey);
    if (!this.#store.shouldReadAhead(entryKey, hash)) return true;
    const index = this.#readAhead!.add(entryKey, hash);
    if (index < 0) return false;
    requested.set(mapKey, index);
    return true;
  }

  /** Puts a restored cell straight into the store (before any access of this state). */
  restoreCell(keyGroup: number, mapKey: MapKey, namespace: Namespace, cell: unknown): void {
    this.#store.put(storeKeyOf(this.stateId, keyGroup, mapKey, namespace), this.#encode(cell));
  }

  evict(slot: CacheSlot): void {
    if (slot.dirty) this.writeBack(slot);
    if (slot.namespace === VOID_NAMESPACE) {
      this.#cache.index.remove(slot);
      slot.tag = 0;
      return;
    }
    const byKey = this.#namespaceMaps[slot.groupIndex];
    const cells = byKey?.get(slot.mapKey);
    if (cells === undefined) return;
    cells.delete(slot.namespace);
    if (cells.size === 0) byKey!.delete(slot.mapKey);
  }

  writeBack(slot: CacheSlot): void {
    slot.dirty = false;
    if (slot.cell === undefined && !slot.stored) return;
    const key = storeKeyOf(this.stateId, slot.groupIndex + this.#rangeStart, slot.mapKey, slot.namespace);
    if (slot.cell === undefined) {
      this.#store.remove(key);
      slot.stored = false;
    } else {
      this.#store.put(key, this.#encode(slot.cell));
      slot.stored = true;
    }
  }

  /** Decodes a store value of this state (snapshots and `keys()` use it for TTL). */
  decode(value: Uint8Array): unknown {
    return decodeCell(new BinaryReader(value), this.format);
  }

  /** Drops every cached slot (the backend is disposed). */
  dispose(): void {
    this.#groupCount = 0;
    this.#namespaceMaps = [];
    this.#requested.clear();
    this.#readAhead = undefined;
  }

  /** The cell's store value, as a view of a scratch buffer valid until the next call. */
  #encode(cell: unknown): Uint8Array {
    valueScratch.reset();
    encodeCell(valueScratch, this.format, cell);
    return valueScratch.view();
  }

  /** The current key's tag in this state (see SlotIndex). */
  #tag(): number {
    const current = this.#current;
    if (!current.hashed) {
      current.hash = mapKeyHash(current.mapKey);
      current.hashed = true;
    }
    return slotTag(current.hash, this.#salt);
  }

  /** The current key's slot in `namespace`, loaded from the store on a miss; undefined while no key is set. */
  #slot(namespace: Namespace): CacheSlot | undefined {
    const current = this.#current;
    const groupIndex = current.groupIndex;
    if (namespace === VOID_NAMESPACE) {
      const slot = this.#cache.index.find(this, groupIndex, current.mapKey, this.#tag());
      if (slot !== undefined) {
        slot.referenced = true;
        return slot;
      }
    } else {
      const slot = this.#namespaceMaps[groupIndex]?.get(current.mapKey)?.get(namespace);
      if (slot !== undefined) {
        slot.referenced = true;
        return slot;
      }
    }
    if (groupIndex < 0 || groupIndex >= this.#groupCount) return undefined;
    return this.#install(namespace, this.#read(namespace));
  }

  #slotForWrite(namespace: Namespace): CacheSlot {
    const current = this.#current;
    const groupIndex = current.groupIndex;
    if (groupIndex < 0 || groupIndex >= this.#groupCount) {
      throw new Error(
        this.#groupCount === 0
          ? `state '${this.name}' was written after its backend was disposed`
          : `state '${this.name}' was written with no current key set`,
      );
    }
    const existing =
      namespace === VOID_NAMESPACE
        ? this.#cache.index.find(this, groupIndex, current.mapKey, this.#tag())
        : this.#namespaceMaps[groupIndex]?.get(current.mapKey)?.get(namespace);
    if (existing !== undefined) {
      existing.referenced = true;
      return existing;
    }
    // A blind write needs no read of the old cell, only whether the store has one (so a
    // later removal reaches it): assume it does unless the store is empty. A restored cell
    // written later would overwrite it: restore first.
    if (this.#restore.pending) this.#restore.loadNow();
    return this.#install(namespace, this.#store.isEmpty ? ABSENT_UNSTORED : ABSENT_MAYBE_STORED);
  }

  #read(namespace: Namespace): Loaded {
    if (this.#restore.pending) this.#restore.loadNow();
    const store = this.#store;
    if (store.isEmpty) return ABSENT_UNSTORED;
    this.#storeReads++;
    const current = this.#current;
    if (namespace === VOID_NAMESPACE && this.#requested.size !== 0) {
      const index = this.#requested.get(current.mapKey);
      if (index !== undefined) {
        const readAhead = this.#readAhead!;
        const hash = readAhead.hashOf(index);
        if (!store.writtenSince(hash, this.#requestedAt)) {
          const bytes = readAhead.take(index);
          if (bytes !== UNREAD) return this.#loaded(bytes);
        }
        return this.#loaded(store.get(readAhead.keyOf(index), hash));
      }
    }
    current.keyBytes ??= keyBytesOf(current.mapKey);
    return this.#loaded(store.get(storeKey(this.stateId, current.keyGroup, current.keyBytes, namespace)));
  }

  #loaded(bytes: Uint8Array | undefined): Loaded {
    return bytes === undefined ? ABSENT_UNSTORED : { cell: this.decode(bytes), stored: true };
  }

  #install(namespace: Namespace, loaded: Loaded): CacheSlot {
    const current = this.#current;
    const groupIndex = current.groupIndex;
    // Acquire first: eviction may drop map entries, never this slot (it is not in a map yet).
    const slot = this.#cache.acquire(this, groupIndex, current.mapKey, namespace, loaded.cell, loaded.stored);
    if (namespace === VOID_NAMESPACE) {
      slot.tag = this.#tag();
      this.#cache.index.insert(slot);
    } else {
      let byKey = this.#namespaceMaps[groupIndex];
      if (byKey === undefined) this.#namespaceMaps[groupIndex] = byKey = new Map();
      let cells = byKey.get(current.mapKey);
      if (cells === undefined) byKey.set(current.mapKey, (cells = new Map()));
      cells.set(namespace, slot);
    }
    return slot;
  }
}

interface Loaded {
  readonly cell: unknown;
  readonly stored: boolean;
}
const ABSENT_UNSTORED: Loaded = { cell: undefined, stored: false };
const ABSENT_MAYBE_STORED: Loaded = { cell: undefined, stored: true };
