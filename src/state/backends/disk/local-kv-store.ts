/** The embedded store under one disk backend: lmdb with synchronous reads, and writes collected in runs that lmdb commits asynchronously. */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { open, type RootDatabase, type Transaction } from 'lmdb';
import { KEY_FILTER_BYTES_DEFAULT, KeyFilter } from './key-filter.ts';
import { ReadAhead } from './read-ahead.ts';
import { hashKey, WriteRun } from './write-run.ts';

/** lmdb refuses longer keys (its compile-time MDB_MAXKEYSIZE in lmdb-js); we say so first, with the state's name. */
export const STORE_KEY_BYTES_MAX = 1_978;

/** One entry of a range read: both arrays are valid only until the iteration advances. */
export interface StoreEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * Write runs in flight at most before input waits (besides `inFlightBytesMax`), so the
 * lookups of a miss, which check every run, stay few.
 */
export const WRITE_RUNS_IN_FLIGHT_MAX = 8;

/**
 * Writes collected in one run before it goes to lmdb as one transaction. An input batch
 * (512 records) makes a few hundred write-backs; a run of thousands shares the transaction
 * and the B-tree pages it dirties. Bounds the heap of the run still filling, with
 * WRITE_RUN_BYTES_MAX.
 */
export const WRITE_QUEUE_ENTRIES_MAX = 16_384;
/**
 * The longest a write waits in the open run: a quiet store still reaches lmdb soon (TTL
 * cleanup scans committed entries only), while a busy one fills the run first.
 */
export const WRITE_QUEUE_DELAY_MS = 100;

/**
 * Buckets of the in-flight filter at most (2 MiB). Lookups of keys not in flight that search
 * the runs anyway: about a quarter with a full backlog of nine runs, a few percent with the
 * usual one or two.
 */
const IN_FLIGHT_BUCKETS_MAX = 2 ** 19;

/** Entries one run can hold at most, for a view's packed references to them (run index × this + entry). */
const RUN_ENTRIES_SPAN = 2 ** 32;

/** One write as a view reads it: the key's bytes as a latin1 string (lmdb's order), the value or null for a removal. */
interface PendingWrite {
  readonly id: string;
  readonly value: Uint8Array | null;
}

/** Parent directories already swept of stores that dead processes left behind. */
const sweptParents = new Set<string>();

/**
 * Removes sibling store directories named `<pid>-…` whose process is gone (killed with
 * SIGKILL, or crashed): their stores are scratch, never reopened. Once per parent per process.
 */
function sweepStaleDirectories(parent: string): void {
  if (sweptParents.has(parent)) return;
  sweptParents.add(parent);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    // Only what a backend names and fills: `<pid>-<operator>-<first>-<last>-<8 hex>/data.mdb`.
    const pid = Number(/^(\d+)-.*-\d+-\d+-[0-9a-f]{8}$/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    if (!existsSync(join(parent, name, 'data.mdb'))) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Directories of stores not disposed yet, removed when the process exits (tests rarely dispose). */
const liveDirectories = new Set<string>();
let exitHookInstalled = false;

function trackDirectory(directory: string): void {
  liveDirectories.add(directory);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const path of liveDirectories) rmSync(path, { recursive: true, force: true });
  });
}

/**
 * lmdb as a local, non-durable working store: durability comes from checkpoints, so it runs
 * with `noSync`. Reads are synchronous (`getBinaryFast`, range cursors). Writes are only ever
 * asynchronous (`put`/`remove`, which lmdb batches into one transaction per event-loop turn):
 * lmdb-js deadlocks on close after `transactionSync`, and reproduces that here. A write is
 * copied into the open {@link WriteRun}, visible to reads at once; a full run goes to lmdb as
 * one transaction and stays readable until lmdb has committed it. The environment is opened
 * lazily on the first write: until then every read is a miss without I/O.
 */
export class LocalKvStore {
  readonly directory: string;
  #db: RootDatabase<Buffer, Buffer> | undefined;
  /** The run taking writes (undefined until the next write). */
  #open: WriteRun | undefined;
  /**
   * Runs sealed and not committed yet, oldest first; lmdb is writing the first while
   * `#writing`. `through`: the number of the last write the run holds (see `writeCount`).
   */
  #sealed: {
    readonly run: WriteRun;
    /** The run's number (runs are numbered from 1 as they open). */
    readonly number: number;
    readonly committed: PromiseWithResolvers<void>;
    readonly through: number;
  }[] = [];
  #runCount = 0;
  /** The open run's number. */
  #openNumber = 0;
  /** Every run numbered up to this has committed. */
  #committedRuns = 0;
  /**
   * Per bucket of key hashes, the number of the newest run that wrote a key of the bucket.
   * A read whose bucket's run has committed has no write in flight, and skips searching the
   * runs (up to nine hash lookups in tables of 192 KiB each, most of them cache misses): a
   * miss of the cache almost never has one.
   */
  #newestRunOfBucket = new Int32Array(0);
  #bucketMask = 0;
  #writeCount = 0;
  #committedWriteCount = 0;
  #writing = false;
  #sealedBytes = 0;
  #runTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #runEntriesMax: number;
  #failure: Error | undefined;
  #closed = false;
  /** Views not released yet: the environment stays open for them after dispose. */
  #openViews = 0;
  /** Told the key of every write (incremental checkpoints track what changed). */
  #onWrite: ((key: Buffer) => void) | undefined;
  #readAhead: ReadAhead | undefined;
  /** Resolves once the read-ahead thread has exited (after dispose): the directory goes after it. */
  #readAheadExited: Promise<void> = Promise.resolve();
  /** Callers of `room` waiting for a commit. */
  #waiters: { inFlightBytesMax: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Every key ever written (made with the environment; none when configured with 0 bytes). */
  #filter: KeyFilter | undefined;
  readonly #filterBytes: number;

  /** `keyFilterBytes`: the size of the store's KeyFilter, 0 for none. */
  constructor(
    directory: string,
    runEntriesMax = WRITE_QUEUE_ENTRIES_MAX,
    keyFilterBytes = KEY_FILTER_BYTES_DEFAULT,
  ) {
    this.directory = directory;
    this.#runEntriesMax = runEntriesMax;
    this.#filterBytes = keyFilterBytes;
  }

  /** The key filter's counters (undefined until the first write, or with no filter). */
  keyFilterStats(): ReturnType<KeyFilter['stats']> | undefined {
    return this.#filter?.stats();
  }

  /** True until the first write: every read would find nothing. */
  get isEmpty(): boolean {
    return this.#db === undefined;
  }

  /** A mark of the writes made so far, for `writtenSince`. */
  writeMark(): number {
    return this.#open !== undefined ? this.#openNumber : this.#runCount + 1;
  }

  /**
   * Whether the key whose `hashKey` is `hash` may have been written since `writeMark()`
   * returned `mark`: false only if it has not (true may be wrong, keys share buckets).
   * Writes after the mark go to runs numbered from the mark on, and mark their key's bucket
   * with that number, which only grows.
   */
  writtenSince(hash: number, mark: number): boolean {
    return !(this.#newestRunOfBucket[hash & this.#bucketMask] < mark);
  }

  /** Heap held by writes not committed yet: the arenas and indexes of their runs. */
  get inFlightBytes(): number {
    return this.#sealedBytes + (this.#open?.heldBytes ?? 0);
  }

  /** Writes (`put`, `remove`) made so far: the number of the latest one. */
  get writeCount(): number {
    return this.#writeCount;
  }

  /**
   * Every write numbered up to this (see `writeCount`) has committed: runs commit in the order
   * they were written. For callers that remember uncommitted writes and need to know when to
   * forget them without a lookup each.
   */
  get committedWriteCount(): number {
    return this.#committedWriteCount;
  }

  /** lmdb's id of its latest committed write transaction (0 before the first write): one per run. */
  get lastTransactionId(): number {
    return this.#db === undefined ? 0 : (this.#db.getStats() as { lastTxnId: number }).lastTxnId;
  }

  /** Whether input should wait for lmdb: too much heap in flight, or too many runs for a miss to check. */
  isBackedUp(inFlightBytesMax: number): boolean {
    return this.inFlightBytes > inFlightBytesMax || this.#sealed.length > WRITE_RUNS_IN_FLIGHT_MAX;
  }

  /**
   * Resolves once the store is no longer backed up (rejects if a write failed): as soon as
   * enough of the oldest runs committed, not when all did, so lmdb's thread always has the
   * next run to write while input goes on (waiting for a full drain left one side idle).
   */
  room(inFlightBytesMax: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (!this.isBackedUp(inFlightBytesMax)) return Promise.resolve();
    // Backed up by the open run alone (one huge write): only its commit makes room.
    if (this.#sealed.length === 0) return this.drained();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ inFlightBytesMax, resolve, reject });
    });
  }

  /**
   * The value under `key`, or undefined. Valid only until the next call on this store: copy
   * or decode it at once. `key` may be a view of a scratch buffer.
   */
  get(key: Buffer, hash = hashKey(key)): Uint8Array | undefined {
    this.#checkUsable();
    // (checkUsable throws once disposed, so #db below is never a closing environment.)
    // Ruled out: never written, so neither in flight nor committed.
    if (this.#filter?.mayHold(hash) === false) return undefined;
    if (this.#open !== undefined || this.#sealed.length > 0) {
      const pending = this.#pending(key, hash);
      if (pending !== undefined) return pending ?? undefined;
    }
    return this.#db?.getBinaryFast(key);
  }

  /**
   * Whether a read-ahead thread should read `key`: the store may hold it (a key the filter
   * rules out reads as absent without lmdb), and no write of it is in flight (the thread
   * reads committed state).
   */
  shouldReadAhead(key: Uint8Array, hash = hashKey(key)): boolean {
    if (this.#filter?.mayHold(hash) === false) return false;
    return (this.#open === undefined && this.#sealed.length === 0) || this.#pending(key, hash) === undefined;
  }

  /**
   * The store's read-ahead thread (see ReadAhead), started by the first call; the store must
   * have been written (`isEmpty` false), so its environment exists. Stopped by `dispose`.
   */
  readAhead(): ReadAhead {
    this.#checkUsable();
    if (this.#db === undefined) throw new Error(`read-ahead of the empty store in ${this.directory} (a bug)`);
    this.#readAhead ??= new ReadAhead(this.directory);
    return this.#readAhead;
  }

  /**
   * Up to `limit` committed entries with keys in [start, end), in key order, copied; for
   * background work (TTL cleanup), which must prefer what `inFlightValue` reports.
   */
  scan(start: Buffer, end: Buffer, limit: number): { key: Buffer; value: Buffer }[] {
    this.#checkUsable();
    const db = this.#db;
    if (db === undefined) return [];
    const entries: { key: Buffer; value: Buffer }[] = [];
    for (const { key, value } of db.getRange({ start, end, limit, snapshot: false })) {
      entries.push({ key: Buffer.from(key), value: Buffer.from(value) });
    }
    return entries;
  }

  /**
   * The value of a write of `key` not committed yet (null: a removal), or undefined when
   * none is: then the store's committed value is current. A view: decode it at once.
   */
  inFlightValue(key: Uint8Array): Uint8Array | null | undefined {
    if (this.#open === undefined && this.#sealed.length === 0) return undefined;
    return this.#pending(key, hashKey(key));
  }

  /** Writes `value` under `key`; both are copied, so either may be a view of a scratch buffer. */
  put(key: Buffer, value: Uint8Array): void {
    this.#write(key, value);
  }

  remove(key: Buffer): void {
    this.#write(key, null);
  }

  /**
   * Calls `listener` with every written key (a view, valid during the call), synchronously in
   * `put`/`remove`: every change of the store passes here, whatever caused it.
   */
  onWrite(listener: ((key: Buffer) => void) | undefined): void {
    this.#onWrite = listener;
  }

  /** Resolves once every write issued so far has committed; rejects if one failed. */
  async drained(): Promise<void> {
    this.#sealOpenRun();
    await this.#sealed.at(-1)?.committed.promise;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * A consistent point-in-time view: a read transaction plus the runs not committed yet
   * (lmdb resets its read transaction before it resolves a commit's promises, so a run that
   * left the list is in the transaction). Seals the open run first, so every run the view
   * holds is immutable. O(runs). Release it.
   */
  view(): StoreView {
    this.#checkUsable();
    this.#sealOpenRun();
    this.#openViews++;
    return new StoreView(
      this.#db,
      this.#db?.useReadTransaction(),
      this.#sealed.map(({ run }) => run),
      () => {
        if (--this.#openViews === 0 && this.#closed) this.#close();
      },
    );
  }

  /**
   * Closes the environment and deletes the directory, asynchronously; errors are ignored (the
   * files are scratch). Views still open (a snapshot being written while the task fails) keep
   * the environment open until they are released: closing lmdb under a live read transaction
   * would leave the view reading freed memory.
   */
  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readAheadExited = this.#readAhead?.close() ?? this.#readAheadExited;
    this.#readAhead = undefined;
    this.#filter = undefined;
    this.#open = undefined;
    for (const { committed } of this.#sealed) committed.resolve();
    this.#sealed = [];
    this.#sealedBytes = 0;
    this.#wakeWaiters();
    clearTimeout(this.#runTimer);
    this.#runTimer = undefined;
    if (this.#openViews === 0) this.#close();
  }

  #close(): void {
    const db = this.#db;
    this.#db = undefined;
    const remove = (): void => {
      rmSync(this.directory, { recursive: true, force: true });
      liveDirectories.delete(this.directory);
    };
    // The read-ahead thread holds the environment open too; removing the directory under it
    // is harmless on Linux, but it could still be opening it, which would make it anew.
    const closed = db === undefined ? Promise.resolve() : db.close();
    Promise.all([closed, this.#readAheadExited]).then(remove, remove);
  }

  /** The newest uncommitted write of `key` (null: a removal), or undefined; `hash` is `hashKey(key)`. */
  #pending(key: Uint8Array, hash: number): Uint8Array | null | undefined {
    if (this.#newestRunOfBucket[hash & this.#bucketMask] <= this.#committedRuns) return undefined;
    const open = this.#open;
    if (open !== undefined) {
      const entry = open.find(key, hash);
      if (entry >= 0) return open.valueOf(entry);
    }
    const sealed = this.#sealed;
    for (let i = sealed.length - 1; i >= 0; i--) {
      const { run } = sealed[i];
      const entry = run.find(key, hash);
      if (entry >= 0) return run.valueOf(entry);
    }
    return undefined;
  }

  #write(key: Buffer, value: Uint8Array | null): void {
    this.#checkUsable();
    if (key.length > STORE_KEY_BYTES_MAX) {
      throw new RangeError(
        `a state entry's key and namespace take ${key.length} bytes serialized; the disk backend's store allows ${STORE_KEY_BYTES_MAX}`,
      );
    }
    if (this.#db === undefined) this.#openDatabase();
    this.#onWrite?.(key);
    this.#writeCount++;
    const bytes = key.length + (value === null ? 0 : value.length);
    let run = this.#open;
    if (run !== undefined && !run.fits(bytes)) {
      this.#sealOpenRun();
      run = undefined;
    }
    if (run === undefined) {
      this.#open = run = new WriteRun(this.#runEntriesMax, bytes);
      this.#openNumber = ++this.#runCount;
      this.#runTimer = setTimeout(() => {
        this.#runTimer = undefined;
        if (!this.#closed) this.#sealOpenRun();
      }, WRITE_QUEUE_DELAY_MS);
      this.#runTimer.unref();
    }
    const hash = hashKey(key);
    this.#newestRunOfBucket[hash & this.#bucketMask] = this.#openNumber;
    this.#filter?.add(hash);
    run.add(key, hash, value);
    if (run.isFull) this.#sealOpenRun();
  }

  /** Ends the open run: it stays readable until lmdb has committed it, and queues for lmdb. */
  #sealOpenRun(): void {
    const run = this.#open;
    this.#open = undefined;
    clearTimeout(this.#runTimer);
    this.#runTimer = undefined;
    if (this.#db === undefined || run === undefined || run.count === 0) return;
    this.#sealed.push({
      run,
      number: this.#openNumber,
      committed: Promise.withResolvers<void>(),
      through: this.#writeCount,
    });
    this.#sealedBytes += run.heldBytes;
    if (!this.#writing) this.#writeOldestRun();
  }

  /**
   * Hands the oldest sealed run to lmdb in one event-loop turn, so as one transaction, each
   * key's last write in the order they were made; the next run follows when it commits. One
   * transaction at a time, because lmdb-js otherwise folds every write queued while it is busy
   * into its next transaction: up to eight runs at once (40 k writes on average at 3 M keys),
   * whose freed pages could not be reused soon enough, so the file grew to three times its
   * live pages without writing faster. lmdb-js reads a value from the address of the buffer it is
   * given, between `start` and `end` when the buffer carries them (what its own encoders use
   * to hand over parts of one buffer): so every value is written straight from the run's
   * arena, no copy and no object per write. One promise callback per run: lmdb resolves writes
   * in the order it commits them, so once the last one resolves, all are committed (or all
   * failed).
   */
  #writeOldestRun(): void {
    const db = this.#db;
    const oldest = this.#sealed[0];
    if (db === undefined || oldest === undefined) return;
    if (this.#failure !== undefined) {
      // Nothing more reaches lmdb after a failed write; callers of drained() see the failure.
      for (const { committed } of this.#sealed) committed.resolve();
      return;
    }
    this.#writing = true;
    let last: Promise<boolean> | undefined;
    oldest.run.seal((key, arena, start, end) => {
      if (start < 0) {
        last = db.remove(key);
        return;
      }
      const value = arena as ArenaValue;
      value.start = start;
      value.end = end;
      last = db.put(key, value);
    });
    const settle = (): void => {
      if (this.#closed) return;
      this.#writing = false;
      this.#sealed.shift();
      // After a failed commit nothing counts as committed (and the store is unusable).
      if (this.#failure === undefined) {
        this.#committedWriteCount = oldest.through;
        this.#committedRuns = oldest.number;
      }
      this.#sealedBytes -= oldest.run.heldBytes;
      oldest.committed.resolve();
      this.#writeOldestRun();
      this.#wakeWaiters();
    };
    last?.then(settle, (error: unknown) => {
      const failure = new Error(`writing to the local state store in ${this.directory} failed`, {
        cause: error,
      });
      // lmdb-js rejects every write of a failed commit with "Commit failed" and gives the
      // reason (ENOSPC, say) on `commitError`, a promise it has already rejected: unhandled,
      // that rejection would crash the process. It becomes the failure's cause, before any
      // waiter sees the failure (its reaction is queued first).
      const commitError = (error as { commitError?: Promise<unknown> } | undefined)?.commitError;
      commitError?.catch((reason: unknown) => {
        failure.cause = reason;
      });
      this.#failure ??= failure;
      settle();
    });
  }

  #wakeWaiters(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (this.#failure !== undefined) waiter.reject(this.#failure);
      else if (this.#closed || !this.isBackedUp(waiter.inFlightBytesMax)) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }

  #openDatabase(): RootDatabase<Buffer, Buffer> {
    try {
      mkdirSync(this.directory, { recursive: true });
      sweepStaleDirectories(dirname(this.directory));
      trackDirectory(this.directory);
      this.#db = openLmdb(this.directory);
      let buckets = 64;
      const inFlightMax = this.#runEntriesMax * (WRITE_RUNS_IN_FLIGHT_MAX + 1);
      while (buckets < 4 * inFlightMax && buckets < IN_FLIGHT_BUCKETS_MAX) buckets *= 2;
      this.#newestRunOfBucket = new Int32Array(buckets);
      this.#bucketMask = buckets - 1;
      if (this.#filterBytes > 0) this.#filter = new KeyFilter(this.#filterBytes);
    } catch (error) {
      throw new Error(`cannot open the local state store in ${this.directory}`, { cause: error });
    }
    return this.#db;
  }

  #checkUsable(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw new Error(`the local state store in ${this.directory} was disposed`);
  }
}

/**
 * Opens lmdb as the disk backend does: raw bytes in and out, no lmdb-js value cache, no
 * compression, no fsync (a working store is scratch: durability is the checkpoint's). Also the
 * benchmark's lmdb-alone reference, so both measure the same store.
 */
export function openLmdb(directory: string): RootDatabase<Buffer, Buffer> {
  return open<Buffer, Buffer>({
    path: directory,
    encoding: 'binary',
    keyEncoding: 'binary',
    cache: false,
    compression: false,
    noSync: true,
    noMetaSync: true,
  });
}

/** An arena handed to lmdb-js as a value: it writes the bytes in [start, end). */
type ArenaValue = Buffer & { start: number; end: number };

/**
 * What `LocalKvStore.view()` returns: range reads from one read transaction, merged with the
 * runs that were not committed when it was taken. Entries come in ascending key order.
 */
export class StoreView {
  readonly #db: RootDatabase<Buffer, Buffer> | undefined;
  #txn: Transaction | undefined;
  #onRelease: (() => void) | undefined;
  /** The uncommitted runs at the time of the view (sealed, so immutable), oldest first. */
  #runs: readonly WriteRun[] | undefined;
  /**
   * Their entries by the first four key bytes (state id and key group), each as
   * `run index * RUN_ENTRIES_SPAN + entry`, runs oldest first: built by the first read (in a
   * snapshot's asynchronous part). Numbers, not objects: with a full backlog of runs in flight
   * (over 100,000 writes) an object per write would take tens of MB of heap for as long as
   * the snapshot is being written.
   */
  #refs: Map<number, number[]> | undefined;

  constructor(
    db: RootDatabase<Buffer, Buffer> | undefined,
    txn: Transaction | undefined,
    runs: readonly WriteRun[],
    onRelease: () => void,
  ) {
    this.#db = db;
    this.#txn = txn;
    this.#onRelease = onRelease;
    this.#runs = runs;
  }

  /**
   * Entries whose key starts with the four bytes `prefix` (state id and key group), in key
   * order. The overlay wins over the transaction; removals hide entries.
   */
  *prefixed(prefix: number): Generator<StoreEntry> {
    const start = Buffer.alloc(4);
    start.writeUInt32BE(prefix >>> 0);
    const end = Buffer.alloc(4);
    end.writeUInt32BE((prefix + 1) >>> 0);
    const pending = this.#pendingOf(prefix >>> 0);
    const stored: Iterable<{ key: Buffer; value: Buffer }> =
      this.#db === undefined || this.#txn === undefined
        ? []
        : this.#db.getRange({ start, end: prefix === 0xffff_ffff ? undefined : end, transaction: this.#txn });
    let i = 0;
    let pendingKey = i < pending.length ? Buffer.from(pending[i].id, 'latin1') : undefined;
    for (const raw of stored) {
      let entry = raw;
      if (pendingKey !== undefined && Buffer.compare(pendingKey, raw.key) < 0) {
        // lmdb may reuse the buffers of a range entry on the next read: one held across a
        // yield of an overlay entry (whose consumer may read the store) is copied. That is
        // rare (an overlay key the store lacks), so the common path copies nothing.
        entry = { key: Buffer.from(raw.key), value: Buffer.from(raw.value) };
        while (pendingKey !== undefined && Buffer.compare(pendingKey, entry.key) < 0) {
          const next = pending[i++];
          const key = pendingKey;
          pendingKey = i < pending.length ? Buffer.from(pending[i].id, 'latin1') : undefined;
          if (next.value !== null) yield { key, value: next.value };
        }
      }
      if (pendingKey !== undefined && Buffer.compare(pendingKey, entry.key) === 0) {
        const next = pending[i++];
        const key = pendingKey;
        pendingKey = i < pending.length ? Buffer.from(pending[i].id, 'latin1') : undefined;
        if (next.value !== null) yield { key, value: next.value };
        continue;
      }
      yield entry;
    }
    for (; i < pending.length; i++) {
      const next = pending[i];
      if (next.value !== null) yield { key: Buffer.from(next.id, 'latin1'), value: next.value };
    }
  }

  /**
   * The value of one key as of the view (`id` is the key's bytes as a latin1 string), or
   * undefined when absent or removed. Safe to keep: a copy, or a view of a sealed run's
   * arena, which is never written again.
   */
  get(id: string): Uint8Array | undefined {
    const runs = this.#runs ?? [];
    if (runs.length > 0) {
      const key = Buffer.from(id, 'latin1');
      const hash = hashKey(key);
      for (let r = runs.length - 1; r >= 0; r--) {
        const entry = runs[r].find(key, hash);
        if (entry >= 0) return runs[r].valueOf(entry) ?? undefined;
      }
    }
    if (this.#db === undefined) return undefined;
    if (this.#txn === undefined) throw new Error('a store view was read after its release');
    return this.#db.get(Buffer.from(id, 'latin1'), { transaction: this.#txn });
  }

  /** The runs' latest writes of keys starting with `prefix`, a later run's winning, sorted by key. */
  #pendingOf(prefix: number): PendingWrite[] {
    const runs = this.#runs ?? [];
    const refs = this.#refsByPrefix().get(prefix);
    if (refs === undefined) return [];
    const latest = new Map<string, Uint8Array | null>();
    for (const ref of refs) {
      const run = runs[Math.floor(ref / RUN_ENTRIES_SPAN)];
      const entry = ref % RUN_ENTRIES_SPAN;
      latest.set(run.keyOf(entry).toString('latin1'), run.valueOf(entry));
    }
    const pending: PendingWrite[] = [];
    for (const [id, value] of latest) pending.push({ id, value });
    // latin1 strings compare as their bytes do, so this is lmdb's key order.
    return pending.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  #refsByPrefix(): Map<number, number[]> {
    if (this.#refs !== undefined) return this.#refs;
    const refs = new Map<number, number[]>();
    (this.#runs ?? []).forEach((run, r) => {
      run.forEachLatestPrefix((entry, prefix) => {
        let bucket = refs.get(prefix);
        if (bucket === undefined) refs.set(prefix, (bucket = []));
        bucket.push(r * RUN_ENTRIES_SPAN + entry);
      });
    });
    this.#refs = refs;
    return refs;
  }

  /** Ends the read transaction; idempotent. */
  release(): void {
    const txn = this.#txn;
    this.#txn = undefined;
    this.#runs = undefined;
    this.#refs = undefined;
    txn?.done();
    const onRelease = this.#onRelease;
    this.#onRelease = undefined;
    onRelease?.();
  }
}
