/** The disk keyed state backend: working state in an embedded lmdb store per operator subtask, behind a bounded write-back cache. */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../core/clock.ts';
import { ConfigurationError } from '../../../core/errors.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../descriptors.ts';
import type { KeyGroupRange } from '../../key-group-range.ts';
import { keyGroupRangeSize } from '../../key-groups.ts';
import type {
  AggregatingState,
  InternalKvState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from '../../keyed-state.ts';
import type {
  KeyedStateBackend,
  KeyedStateBackendFactory,
  KeyedTimerQueue,
} from '../../keyed-state-backend.ts';
import {
  checkKeyedBackendOptions,
  checkSameRegistration,
  RestoredChunks,
  serializersOf,
  wrongKeyGroupError,
} from '../../keyed-state-registration.ts';
import { valueSerializer } from '../../serializers/value-serializer.ts';
import {
  decodeSectionTimers,
  type KeyedStateFileContents,
  type KeyedStateSnapshot,
  type KeyGroupSection,
} from '../../snapshot/keyed-state-format.ts';
import type { KeyedStatePart } from '../../snapshot/keyed-state-part.ts';
import type { TimerSnapshotEntry } from '../../snapshot/timer-snapshot.ts';
import { type StateDescriptorLike, validateStateDescriptor } from '../../state-descriptors-factory.ts';
import { checkRestoredChunks } from '../heap/heap-keyed-state-restore.ts';
import { tableMeta } from '../heap/heap-keyed-state-snapshot.ts';
import { emptyIterator } from '../heap/heap-map-state.ts';
import { toMapKey } from '../heap/map-key.ts';
import {
  aggregatingStateHandle,
  listStateHandle,
  mapStateHandle,
  reducingStateHandle,
  valueStateHandle,
} from '../heap/state-handles.ts';
import type { Namespace, StateTable } from '../heap/state-table.ts';
import { listCellOps, mapCellOps, type TtlCellOps, valueCellOps } from '../heap/ttl.ts';
import { DeferredRestore } from './deferred-restore.ts';
import { DiskKeyedStateSnapshot, type DiskTableView } from './disk-keyed-state-snapshot.ts';
import { DiskCurrentKey, DiskStateTable } from './disk-state-table.ts';
import { DiskTimerQueue, type TimerQueueView } from './disk-timer-queue.ts';
import { DiskIncrementalSnapshot, IncrementalSnapshots } from './incremental-snapshots.ts';
import { KEY_FILTER_BYTES_DEFAULT } from './key-filter.ts';
import { LocalKvStore, WRITE_QUEUE_ENTRIES_MAX } from './local-kv-store.ts';
import type { ReadAhead } from './read-ahead.ts';
import { isStagingKey, RestoreStaging, type StagedChunk } from './restore-staging.ts';
import { parseStoreKey, STATE_IDS_MAX, STORE_KEY_PREFIX_BYTES, storePrefix } from './store-key.ts';
import { WriteBackCache } from './write-back-cache.ts';

/** Cache slots (one per state, key and namespace) a backend keeps by default: 100k hot keys of one state. */
export const DEFAULT_CACHE_ENTRIES_MAX = 100_000;
/** Heap held by written, uncommitted entries (keys, values, overhead) after which `prefetch` waits for lmdb to commit (bounds the overlay). */
export const IN_FLIGHT_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Store reads (cache misses) after which a backend starts its read-ahead thread: a job
 * whose state fits its cache never pays for one (a thread start, about 5 MiB of buffers).
 */
export const READ_AHEAD_AFTER_READS = 10_000;
/**
 * A state's entries are read ahead for a batch when at least this share of the batch before
 * it missed the cache for that state: asking costs a store key and a filter probe per record,
 * and only a miss gains (measured: no loss at about 80 % hits, docs/state-backends.md).
 */
const READ_AHEAD_MISS_SHARE_MIN = 1 / 8;
/** Where stores go unless configured: one directory per backend below it. */
export const DEFAULT_STATE_DIRECTORY = join(tmpdir(), 'weir-state');

/** Configuration of the disk backend, shared by every operator subtask it creates. */
export interface DiskStateBackendOptions {
  /** Local directory for the stores (default `<os tmpdir>/weir-state`); each backend makes and deletes its own subdirectory. */
  readonly directory?: string;
  /** Cache slots per backend (one per state, key and namespace); bounds the heap used (default 100,000). */
  readonly cacheEntriesMax?: number;
  /** Heap held by written, uncommitted entries after which an input batch waits for lmdb (default IN_FLIGHT_BYTES_MAX, 64 MiB). */
  readonly inFlightBytesMax?: number;
  /**
   * Incremental checkpoints (default true): each checkpoint uploads into the job's `shared/`
   * directory only what changed since the last completed one. False: every checkpoint is a
   * full canonical snapshot. Savepoints are always full.
   */
  readonly incremental?: boolean;
  /** Changed keys tracked between checkpoints before the next one is a new base (default 250,000). */
  readonly changedKeysMax?: number;
  /** Deltas on one base before the next checkpoint writes a new base (default 8). */
  readonly chainDeltasMax?: number;
  /**
   * Written entries queued on the heap before they go to lmdb in one run (default
   * WRITE_QUEUE_ENTRIES_MAX, 16,384); 1 hands every write to lmdb at once.
   */
  readonly writeQueueEntriesMax?: number;
  /**
   * Where timers live (default `'store'`): in the store with the state, so their number is
   * limited by disk, at the cost of a store write per timer registered and fired (window
   * jobs ran 2.2–2.8× slower); or `'heap'`, kept by the timer services (about 300 bytes of
   * heap each), as Flink's `HEAP` timer factory does.
   */
  readonly timers?: 'store' | 'heap';
  /**
   * Store reads (cache misses) after which the backend starts a read-ahead thread (default
   * READ_AHEAD_AFTER_READS, 10,000): before an input batch runs, its keys' entries are
   * handed to that thread, which reads them from lmdb while the batch is processed. 0
   * starts it at the first miss; Infinity never (every miss reads on the task's thread).
   */
  readonly readAheadAfterReads?: number;
  /**
   * Bytes of the store's key filter (default KEY_FILTER_BYTES_DEFAULT, 8 MiB; 0: none): a
   * Bloom filter of every key written, so a read of a key the store never held (a key seen
   * for the first time) skips lmdb. About 10 bits per key keep false positives near 1 %;
   * it turns itself off, releasing its memory, once three quarters of its bits are set
   * (docs/state-backends.md, Key filter).
   */
  readonly keyFilterBytes?: number;
}

/** What one disk backend is built from. */
export interface DiskKeyedStateBackendOptions extends DiskStateBackendOptions {
  readonly operatorId: string;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly clock: Clock;
}

/**
 * Keyed state in an embedded lmdb store (one per operator subtask, under a local directory),
 * so its size is limited by disk rather than by the JS heap. User code keeps the synchronous
 * state API: every access goes to a bounded write-back cache of decoded cells (hot keys run
 * at near heap speed), a miss reads the store synchronously (lmdb reads are memory-mapped),
 * and dirty cells reach the store in batches when evicted and in a snapshot's synchronous
 * part. The state handles are the heap backend's, over a table with the same interface, so
 * both backends behave identically; snapshots use the canonical format, so savepoints move
 * freely between them. See docs/state-backends.md.
 *
 * @example
 * ```ts
 * const backend = diskStateBackend({ cacheEntriesMax: 10_000 }).create({
 *   operatorId: 'counter', keyGroupRange: { start: 0, end: 127 }, maxParallelism: 128, clock: new SystemClock(),
 * });
 * const count = backend.getValueState(valueState<number>('count', { defaultValue: 0 }));
 * backend.setCurrentKey('alice', assignToKeyGroup('alice', 128));
 * count.update(count.value()! + 1);
 * backend.dispose();
 * ```
 */
export class DiskKeyedStateBackend implements KeyedStateBackend {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly operatorId: string;
  readonly #clock: Clock;
  readonly #current = new DiskCurrentKey();
  readonly #store: LocalKvStore;
  readonly #cache: WriteBackCache;
  readonly #tables = new Map<string, DiskStateTable>();
  /** Restored states not registered yet: where their chunks wait in the store, by group index. */
  readonly #restored: RestoredChunks<StagedChunk>;
  readonly #staging: RestoreStaging;
  /** Registered states' restored chunks not in the store yet. */
  readonly #deferred: DeferredRestore;
  /** Timer queues by domain and service name; their ids count down from STATE_IDS_MAX. */
  readonly #timerQueues = new Map<string, TimerQueueEntry>();
  readonly #timersInStore: boolean;
  readonly #groupCount: number;
  readonly #inFlightBytesMax: number;
  /** Undefined when incremental checkpoints are off. */
  readonly #incremental: IncrementalSnapshots | undefined;
  readonly #readAheadAfterReads: number;
  /** Started once the store has had READ_AHEAD_AFTER_READS reads. */
  #readAhead: ReadAhead | undefined;
  #storeReads = 0;
  /** Records of the batch prefetched last. */
  #batchRecords = 0;
  #disposed = false;

  constructor(options: DiskKeyedStateBackendOptions) {
    const { keyGroupRange: range, maxParallelism } = options;
    checkKeyedBackendOptions(options);
    const entriesMax = options.cacheEntriesMax ?? DEFAULT_CACHE_ENTRIES_MAX;
    if (!Number.isInteger(entriesMax) || entriesMax < 1) {
      throw new ConfigurationError(`cacheEntriesMax must be a positive integer, got ${entriesMax}`);
    }
    this.keyGroupRange = { start: range.start, end: range.end };
    this.maxParallelism = maxParallelism;
    this.operatorId = options.operatorId;
    this.#clock = options.clock;
    this.#groupCount = keyGroupRangeSize(range);
    this.#restored = new RestoredChunks<StagedChunk>({
      operatorId: this.operatorId,
      keyGroupRange: this.keyGroupRange,
      maxParallelism,
    });
    this.#inFlightBytesMax = options.inFlightBytesMax ?? IN_FLIGHT_BYTES_MAX;
    const timers = options.timers ?? 'store';
    if (timers !== 'store' && timers !== 'heap') {
      throw new ConfigurationError(`timers must be 'store' or 'heap', got ${String(timers)}`);
    }
    this.#timersInStore = timers === 'store';
    const readAheadAfterReads = options.readAheadAfterReads ?? READ_AHEAD_AFTER_READS;
    if (!(readAheadAfterReads >= 0)) {
      throw new ConfigurationError(
        `readAheadAfterReads must be a number ≥ 0 (Infinity: never), got ${readAheadAfterReads}`,
      );
    }
    this.#readAheadAfterReads = readAheadAfterReads;
    this.#cache = new WriteBackCache(entriesMax);
    // The pid lets a later process remove what a killed one left (see LocalKvStore).
    const name = `${process.pid}-${options.operatorId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)}-${range.start}-${range.end}-${randomUUID().slice(0, 8)}`;
    const queueEntriesMax = options.writeQueueEntriesMax ?? WRITE_QUEUE_ENTRIES_MAX;
    if (!Number.isInteger(queueEntriesMax) || queueEntriesMax < 1) {
      throw new ConfigurationError(`writeQueueEntriesMax must be a positive integer, got ${queueEntriesMax}`);
    }
    const keyFilterBytes = options.keyFilterBytes ?? KEY_FILTER_BYTES_DEFAULT;
    if (!Number.isSafeInteger(keyFilterBytes) || keyFilterBytes < 0) {
      throw new ConfigurationError(
        `keyFilterBytes must be an integer ≥ 0 (0: no filter), got ${keyFilterBytes}`,
      );
    }
    this.#store = new LocalKvStore(
      join(options.directory ?? DEFAULT_STATE_DIRECTORY, name),
      queueEntriesMax,
      keyFilterBytes,
    );
    this.#staging = new RestoreStaging(this.#store);
    this.#deferred = new DeferredRestore(this.#store, this.#staging, maxParallelism);
    if (options.incremental !== false) {
      const incremental = new IncrementalSnapshots({
        changedKeysMax: options.changedKeysMax,
        chainDeltasMax: options.chainDeltasMax,
      });
      this.#incremental = incremental;
      // Timer keys too: a delta writes the timers added and removed since the file before.
      this.#store.onWrite((key) => {
        if (!isStagingKey(key)) incremental.record(key);
      });
    }
  }

  /** The store's directory (created on the first write). */
  get directory(): string {
    return this.#store.directory;
  }

  /** Cache counters: slots held, evictions and write-backs so far. */
  cacheStats(): ReturnType<WriteBackCache['stats']> {
    return this.#cache.stats();
  }

  /** Key filter counters (undefined before the first write, or with no filter): whether it is on, its fill, the reads it ruled out. */
  keyFilterStats(): ReturnType<LocalKvStore['keyFilterStats']> {
    return this.#store.keyFilterStats();
  }

  /** Read-ahead counters (undefined until the thread started): keys requested, and those it had read when taken. */
  readAheadStats(): ReturnType<ReadAhead['stats']> | undefined {
    return this.#readAhead?.stats();
  }

  /**
   * Entries of a state in the store (written back and in flight, expired ones included;
   * cached dirty entries not yet written back excluded). For tests and diagnostics: O(entries).
   */
  storedEntryCount(stateName: string): number {
    const table = this.#tables.get(stateName);
    if (table === undefined) return 0;
    this.#loadRestored();
    const view = this.#store.view();
    try {
      let count = 0;
      for (let keyGroup = this.keyGroupRange.start; keyGroup <= this.keyGroupRange.end; keyGroup++) {
        for (const _ of view.prefixed(storePrefix(table.stateId, keyGroup))) count++;
      }
      return count;
    } finally {
      view.release();
    }
  }

  setCurrentKey(key: unknown, keyGroup: number): void {
    const groupIndex = keyGroup - this.keyGroupRange.start;
    if (
      !(groupIndex >= 0 && groupIndex < this.#groupCount) ||
      (keyGroup | 0) !== keyGroup ||
      this.#disposed
    ) {
      this.#rejectKeyGroup(key, keyGroup);
    }
    const current = this.#current;
    // Map key first: if the key is unusable, the previous key stays current.
    current.mapKey = typeof key === 'string' && key.charCodeAt(0) !== 1 ? key : toMapKey(key);
    current.key = key;
    current.keyGroup = keyGroup;
    current.groupIndex = groupIndex;
    current.keyBytes = undefined;
    current.hashed = false;
  }

  getCurrentKey(): unknown {
    return this.#current.key;
  }

  getCurrentKeyGroup(): number {
    return this.#current.keyGroup;
  }

  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> & InternalKvState {
    return valueStateHandle(asStateTable(this.#register(descriptor, valueCellOps)), descriptor, this.#clock);
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> & InternalKvState {
    return listStateHandle(asStateTable(this.#register(descriptor, listCellOps)), descriptor, this.#clock);
  }

  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> & InternalKvState {
    return mapStateHandle(asStateTable(this.#register(descriptor, mapCellOps)), descriptor, this.#clock);
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> & InternalKvState {
    return reducingStateHandle(
      asStateTable(this.#register(descriptor, valueCellOps)),
      descriptor,
      this.#clock,
    );
  }

  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT> & InternalKvState {
    return aggregatingStateHandle(
      asStateTable(this.#register(descriptor, valueCellOps)),
      descriptor,
      this.#clock,
    );
  }

  /**
   * Reads are synchronous, so a batch needs no loading. What waits here: restored entries
   * not in the store yet (see DeferredRestore; the task calls this once after `open` for
   * them), and backpressure: when written runs holding more than `inFlightBytesMax` (or more
   * than WRITE_RUNS_IN_FLIGHT_MAX runs) await their commit, the batch waits for lmdb to
   * catch up (which bounds their memory, and the runs a miss checks).
   */
  /**
   * Writes wait for lmdb beyond `inFlightBytesMax`: lmdb's commits are only seen between
   * event-loop turns, so a long synchronous burst of writes (timers firing) would otherwise
   * keep every one of them in memory, and slow each read, which checks every run in flight.
   */
  isBackedUp(): boolean {
    return this.#store.isBackedUp(this.#inFlightBytesMax);
  }

  prefetch(keys: readonly unknown[], keyGroups: Int32Array | readonly number[]): undefined | Promise<void> {
    if (this.#deferred.pending) return this.#deferred.load(this.#inFlightBytesMax);
    if (keys.length > 0) this.#readAheadBatch(keys, keyGroups);
    if (!this.#store.isBackedUp(this.#inFlightBytesMax)) return undefined;
    return this.#store.room(this.#inFlightBytesMax);
  }

  /**
   * Hands the read-ahead thread the batch's entries, for the states that missed often in
   * the batch before (see READ_AHEAD_MISS_SHARE_MIN). The thread reads them while the batch
   * runs; a miss whose entry it has not read yet reads the store itself.
   */
  #readAheadBatch(keys: readonly unknown[], keyGroups: Int32Array | readonly number[]): void {
    const previousRecords = this.#batchRecords;
    this.#batchRecords = keys.length;
    let readAhead = this.#readAhead;
    if (readAhead !== undefined) {
      for (const table of this.#tables.values()) table.clearRequests();
    }
    if (this.#store.isEmpty) return;
    if (readAhead === undefined) {
      for (const table of this.#tables.values()) this.#storeReads += table.takeStoreReads();
      if (this.#storeReads < this.#readAheadAfterReads) return;
      this.#readAhead = readAhead = this.#store.readAhead();
    }
    if (!readAhead.isReady) return;
    readAhead.begin();
    const readsMin = Math.max(1, previousRecords * READ_AHEAD_MISS_SHARE_MIN);
    const tables: DiskStateTable[] = [];
    for (const table of this.#tables.values()) {
      if (table.takeStoreReads() < readsMin) continue;
      table.useReadAhead(readAhead);
      tables.push(table);
    }
    if (tables.length === 0) return;
    // In record order, so the worker reads in the order the batch will ask.
    requests: for (let i = 0; i < keys.length; i++) {
      for (const table of tables) if (!table.requestRead(keys[i], keyGroups[i])) break requests;
    }
    readAhead.submit();
  }

  /**
   * Hands the queued write-backs to lmdb and resolves once everything written so far has
   * committed (for tests, benchmarks and diagnostics: nothing in the engine needs it).
   */
  settle(): Promise<void> {
    return this.#store.drained();
  }

  keys(stateName: string, namespace?: Namespace): IterableIterator<unknown> {
    const table = this.#tables.get(stateName);
    if (table === undefined) return emptyIterator();
    return this.#keys(table, namespace);
  }

  /**
   * Writes back the dirty cache slots (O(dirty), bounded by the cache size) and takes a view
   * of the store: a read transaction plus the writes not committed yet. Entries are read
   * from the view when the snapshot is written.
   */
  snapshot(): KeyedStateSnapshot {
    if (this.#disposed) throw new Error(`snapshot of the disposed backend of operator '${this.operatorId}'`);
    this.#loadRestored();
    this.#cache.flush();
    const tables: DiskTableView[] = [];
    for (const table of this.#tables.values()) tables.push({ meta: tableMeta(table), table });
    return new DiskKeyedStateSnapshot({
      keyGroupRange: this.keyGroupRange,
      maxParallelism: this.maxParallelism,
      tables,
      timerQueues: this.#timerQueueViews(),
      pending: this.#restored.pendingCopies(),
      view: this.#store.view(),
      nowMs: this.#clock.now(),
      onRelease: () => {},
    });
  }

  /**
   * The synchronous part of incremental checkpoint `checkpointId`: writes back the dirty
   * slots, takes a view, seals the changes since the previous snapshot and plans a base or a
   * delta (see IncrementalSnapshots). Undefined when incremental checkpoints are off.
   */
  snapshotIncremental(checkpointId: number): DiskIncrementalSnapshot | undefined {
    const incremental = this.#incremental;
    if (incremental === undefined) return undefined;
    if (this.#disposed) throw new Error(`snapshot of the disposed backend of operator '${this.operatorId}'`);
    this.#loadRestored();
    this.#cache.flush();
    const view = this.#store.view();
    const tables = [...this.#tables.values()].map((table) => ({
      meta: tableMeta(table),
      stateId: table.stateId,
    }));
    return new DiskIncrementalSnapshot({
      checkpointId,
      keyGroupRange: this.keyGroupRange,
      maxParallelism: this.maxParallelism,
      plan: incremental.plan(checkpointId),
      tables,
      timerQueues: this.#timerQueueViews(),
      pending: this.#restored.pendingCopies(),
      view,
      timersInStore: this.#timersInStore,
    });
  }

  /** Later deltas extend the chain of checkpoint `checkpointId`. */
  notifyCheckpointComplete(checkpointId: number): void {
    this.#incremental?.confirm(checkpointId);
  }

  /**
   * Stages the parts' chunks in the store (see RestoreStaging) and, with timers in the store,
   * adds their timers to the queues; returns the timers otherwise. Writes wait for lmdb on
   * the heap until committed: for large states use `restoreFrom`, which waits for room.
   */
  restore(parts: readonly KeyedStateFileContents[]): TimerSnapshotEntry[] {
    if (this.#disposed) throw new Error(`restore into the disposed backend of operator '${this.operatorId}'`);
    const timers: TimerSnapshotEntry[] = [];
    for (const part of parts) {
      this.#restored.checkPart(part, this.#tables);
      for (const section of part.sections) this.#restoreSection(section, part.path, timers);
    }
    return timers;
  }

  /**
   * `restore` one section at a time, waiting whenever `inFlightBytesMax` of writes wait for
   * lmdb, so a restore holds about one section per part in memory whatever the state's size.
   */
  async restoreFrom(parts: readonly KeyedStatePart[]): Promise<TimerSnapshotEntry[]> {
    if (this.#disposed) throw new Error(`restore into the disposed backend of operator '${this.operatorId}'`);
    const timers: TimerSnapshotEntry[] = [];
    const store = this.#store;
    for (const part of parts) {
      this.#restored.checkPart(part, this.#tables);
      for await (const section of part.sections()) {
        this.#restoreSection(section, part.path, timers);
        if (store.isBackedUp(this.#inFlightBytesMax)) await store.room(this.#inFlightBytesMax);
      }
    }
    return timers;
  }

  #restoreSection(section: KeyGroupSection, path: string, heapTimers: TimerSnapshotEntry[]): void {
    const staged = section.states.map((chunk) => this.#staging.stage(chunk));
    this.#restored.addSection(section.keyGroup, path, staged);
    if (section.timers === undefined) return;
    for (const timer of decodeSectionTimers(section.timers)) {
      if (!this.#timersInStore) {
        heapTimers.push(timer);
        continue;
      }
      const { queue } = this.#timerQueue(timer.service, timer.domain);
      queue.add(timer.key, timer.keyGroup, timer.namespace, timer.timestampMs);
    }
  }

  /**
   * A queue in the store for timer service `service`'s timers in `domain`; the backend
   * snapshots and restores them (see docs/design/timers-in-store.md). Restored timers are
   * loaded first if they are not yet.
   */
  createTimerQueue(service: string, domain: 'event' | 'processing'): KeyedTimerQueue | undefined {
    if (!this.#timersInStore) return undefined;
    if (this.#disposed)
      throw new Error(`timer service '${service}' was requested after the backend was disposed`);
    const queue = this.#timerQueue(service, domain).queue;
    const backend = this;
    return {
      get isEmpty(): boolean {
        backend.#loadRestored();
        return queue.isEmpty;
      },
      add(key, keyGroup, namespace, timestampMs): void {
        backend.#loadRestored();
        queue.add(key, keyGroup, namespace, timestampMs);
      },
      remove(key, keyGroup, namespace, timestampMs): void {
        backend.#loadRestored();
        queue.remove(key, keyGroup, namespace, timestampMs);
      },
      peek() {
        backend.#loadRestored();
        return queue.peek();
      },
      pop() {
        backend.#loadRestored();
        return queue.pop();
      },
    };
  }

  #timerQueue(service: string, domain: 'event' | 'processing'): TimerQueueEntry {
    const name = `${domain}\u0000${service}`;
    let entry = this.#timerQueues.get(name);
    if (entry === undefined) {
      if (this.#tables.size + this.#timerQueues.size >= STATE_IDS_MAX - 1) {
        throw new ConfigurationError(
          `operator '${this.operatorId}' registers more than ${STATE_IDS_MAX - 1} keyed states and timer services`,
        );
      }
      const queueId = STATE_IDS_MAX - this.#timerQueues.size;
      entry = {
        service,
        domain,
        queueId,
        queue: new DiskTimerQueue(this.#store, queueId, this.keyGroupRange),
      };
      this.#timerQueues.set(name, entry);
    }
    return entry;
  }

  /** Drops the cache and closes and deletes the store (asynchronously). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#restored.clear();
    this.#deferred.clear();
    this.#cache.clear();
    for (const table of this.#tables.values()) table.dispose();
    this.#tables.clear();
    this.#readAhead = undefined;
    this.#store.dispose();
    this.#current.groupIndex = -1;
    this.#current.keyGroup = -1;
    this.#current.key = undefined;
  }

  *#keys(table: DiskStateTable, namespace: Namespace | undefined): Generator<unknown> {
    // Restored and dirty cells to the store first, so the view below holds everything.
    this.#loadRestored();
    this.#cache.flush(table);
    const ops = table.ttlOps;
    const nowMs = ops === undefined ? 0 : this.#clock.now();
    const view = this.#store.view();
    try {
      for (let keyGroup = this.keyGroupRange.start; keyGroup <= this.keyGroupRange.end; keyGroup++) {
        // All namespaces of one key are adjacent: yield a key once, on its first live entry.
        let lastKey: Buffer | undefined;
        let lastYielded = false;
        for (const { key, value } of view.prefixed(storePrefix(table.stateId, keyGroup))) {
          const parsed = parseStoreKey(key);
          const keyBytes = key.subarray(STORE_KEY_PREFIX_BYTES, parsed.keyEnd);
          const same = lastKey !== undefined && Buffer.compare(lastKey, keyBytes) === 0;
          if (same && lastYielded) continue;
          if (!same) {
            lastKey = Buffer.from(keyBytes);
            lastYielded = false;
          }
          if (namespace !== undefined && parsed.namespace !== namespace) continue;
          if (ops !== undefined && !ops.hasLive(table.decode(value), nowMs)) continue;
          lastYielded = true;
          yield parsed.key;
        }
      }
    } finally {
      view.release();
    }
  }

  #register(descriptor: StateDescriptorLike, ttlOps: TtlCellOps): DiskStateTable {
    if (this.#disposed)
      throw new Error(`state '${descriptor.name}' was requested after the backend was disposed`);
    validateStateDescriptor(descriptor);
    const existing = this.#tables.get(descriptor.name);
    if (existing !== undefined) {
      checkSameRegistration(existing, descriptor, this.operatorId);
      return existing;
    }
    if (this.#tables.size + this.#timerQueues.size >= STATE_IDS_MAX - 1) {
      throw new ConfigurationError(
        `operator '${this.operatorId}' registers more than ${STATE_IDS_MAX} keyed states`,
      );
    }
    const serializers = serializersOf(descriptor);
    const table = new DiskStateTable({
      name: descriptor.name,
      kind: descriptor.kind,
      ttl: descriptor.ttl === undefined ? undefined : { ...descriptor.ttl },
      ttlOps: descriptor.ttl === undefined ? undefined : ttlOps,
      // Ids start at 1: the store never holds keys starting with two zero bytes.
      stateId: this.#tables.size + 1,
      valueSerializer: serializers.valueSerializer ?? valueSerializer,
      mapKeySerializer: serializers.mapKeySerializer ?? valueSerializer,
      current: this.#current,
      cache: this.#cache,
      store: this.#store,
      restore: this.#deferred,
      rangeStart: this.keyGroupRange.start,
      groupCount: this.#groupCount,
    });
    const restored = this.#restored.get(descriptor.name);
    if (restored !== undefined) {
      // Throws on an incompatible state; the state stays unregistered then. Its entries are
      // decoded into the store later (see DeferredRestore), undecodable ones reported then.
      this.#deferred.stage(table, checkRestoredChunks(table, restored), restored);
      this.#restored.delete(descriptor.name);
      // Earlier files of the chain hold this state as raw restored chunks, which a delta's
      // puts cannot extend: start a new base.
      this.#incremental?.requestBase();
    }
    this.#tables.set(descriptor.name, table);
    return table;
  }

  #timerQueueViews(): TimerQueueView[] {
    return [...this.#timerQueues.values()].map(({ service, domain, queueId }) => ({
      service,
      domain,
      queueId,
    }));
  }

  /** Restored cells the store does not hold yet go there now (see DeferredRestore). */
  #loadRestored(): void {
    if (this.#deferred.pending) this.#deferred.loadNow();
  }

  #rejectKeyGroup(key: unknown, keyGroup: number): never {
    throw wrongKeyGroupError(key, keyGroup, this.keyGroupRange, this.operatorId, this.#disposed);
  }
}

/**
 * The disk backend as a factory for `StreamExecutionEnvironment` (`stateBackend`).
 *
 * @example
 * ```ts
 * const env = StreamExecutionEnvironment.create({
 *   stateBackend: diskStateBackend({ directory: '/var/weir/state', cacheEntriesMax: 200_000 }),
 * });
 * ```
 */
export function diskStateBackend(options: DiskStateBackendOptions = {}): KeyedStateBackendFactory {
  const cacheEntriesMax = options.cacheEntriesMax ?? DEFAULT_CACHE_ENTRIES_MAX;
  if (!Number.isInteger(cacheEntriesMax) || cacheEntriesMax < 1) {
    throw new ConfigurationError(`cacheEntriesMax must be a positive integer, got ${cacheEntriesMax}`);
  }
  return {
    name: 'disk',
    create: (backendOptions) => new DiskKeyedStateBackend({ ...options, ...backendOptions }),
  };
}

/**
 * The heap's handles are typed against its StateTable class, whose private fields make it
 * nominal; they use only get/getForUpdate/getMutable/set/delete/cleanupStep, which
 * DiskStateTable implements with the same contracts (the conformance suite checks both).
 */
function asStateTable(table: DiskStateTable): StateTable {
  return table as unknown as StateTable;
}

interface TimerQueueEntry extends TimerQueueView {
  readonly queue: DiskTimerQueue;
}
