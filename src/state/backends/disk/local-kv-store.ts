/** The embedded store under one disk backend: lmdb with synchronous reads, asynchronous batched writes and an in-flight overlay. */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { open, type RootDatabase, type Transaction } from 'lmdb';

/** lmdb refuses longer keys (its compile-time MDB_MAXKEYSIZE in lmdb-js); we say so first, with the state's name. */
export const STORE_KEY_BYTES_MAX = 1_978;

/** One entry of a range read: both arrays are valid only until the iteration advances. */
export interface StoreEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

interface InFlight {
  /**
   * The key's bytes as a latin1 string: the overlay's Map key. The key's bytes themselves are
   * not kept: callers pass views of a scratch buffer, and only views (rare) need them back.
   */
  readonly id: string;
  /** null: a removal. */
  readonly value: Uint8Array | null;
}

/**
 * Buckets of the in-flight filter (a power of two): counts of in-flight writes per hash of
 * the key, so a read of a key that cannot be in flight skips building its latin1 id.
 */
const IN_FLIGHT_FILTER_BUCKETS = 1 << 16;

/**
 * Writes queued in the overlay before they go to lmdb together. lmdb commits the writes of
 * one event-loop turn in one transaction; an input batch (512 records) makes a few hundred
 * write-backs, so without queueing every batch paid a transaction (and its page writes).
 * One run of thousands shares the transaction and the pages it dirties. Bounds the queue's
 * heap with the overlay's.
 */
export const WRITE_QUEUE_ENTRIES_MAX = 16_384;
/**
 * The longest a write stays queued: a quiet store still reaches lmdb soon (TTL cleanup scans
 * committed entries only), while a busy one fills the queue first.
 */
export const WRITE_QUEUE_DELAY_MS = 100;
/** Queued value bytes that flush the queue too, so large values do not pile up on the heap. */
export const WRITE_QUEUE_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Heap an overlay entry costs beyond its id and value (entry object, Map slot, queue slot,
 * filter): counted in `inFlightBytes`, so backpressure bounds the overlay by memory also when
 * values are tiny (a count is 2-3 bytes; 64 MiB of those alone would be 25 M entries).
 */
const IN_FLIGHT_ENTRY_OVERHEAD_BYTES = 128;

function heldBytes(entry: InFlight): number {
  return IN_FLIGHT_ENTRY_OVERHEAD_BYTES + entry.id.length + (entry.value === null ? 0 : entry.value.length);
}

/** FNV-1a over the key's bytes, folded to a filter bucket. */
function filterBucket(key: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key[i], 0x01000193);
  return (hash ^ (hash >>> 16)) & (IN_FLIGHT_FILTER_BUCKETS - 1);
}

/** The same bucket from a latin1 id (its char codes are the key's bytes). */
function filterBucketOfId(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash ^ (hash >>> 16)) & (IN_FLIGHT_FILTER_BUCKETS - 1);
}

/** Scratch for keys rebuilt from latin1 ids, and a view of it per key length (no allocation per put). */
const keyScratch = Buffer.alloc(STORE_KEY_BYTES_MAX);
const keyViews: Buffer[] = [];

function latin1Key(id: string): Buffer {
  keyScratch.write(id, 0, 'latin1');
  const length = id.length;
  let view = keyViews[length];
  if (view === undefined) keyViews[length] = view = keyScratch.subarray(0, length);
  return view;
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
 * queued in the in-flight overlay, visible to reads at once; queued writes go to lmdb
 * together (WRITE_QUEUE_ENTRIES_MAX), and leave the overlay when their transaction
 * commits. The environment is opened lazily on the first write: until then
 * every read is a miss without I/O.
 */
export class LocalKvStore {
  readonly directory: string;
  #db: RootDatabase<Buffer, Buffer> | undefined;
  /** Writes issued and not committed yet, by the key's bytes as a latin1 string. */
  readonly #inFlight = new Map<string, InFlight>();
  /** In-flight entries per filterBucket: zero means the key is certainly not in the overlay. */
  readonly #inFlightFilter = new Uint32Array(IN_FLIGHT_FILTER_BUCKETS);
  #inFlightBytes = 0;
  /** Writes in the overlay not handed to lmdb yet (see WRITE_QUEUE_ENTRIES_MAX). */
  #queue: InFlight[] = [];
  #queueBytes = 0;
  #queueTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #queueEntriesMax: number;
  #failure: Error | undefined;
  #closed = false;
  /** Views not released yet: the environment stays open for them after dispose. */
  #openViews = 0;
  /** Told the key of every write (incremental checkpoints track what changed). */
  #onWrite: ((id: string) => void) | undefined;

  constructor(directory: string, queueEntriesMax = WRITE_QUEUE_ENTRIES_MAX) {
    this.directory = directory;
    this.#queueEntriesMax = queueEntriesMax;
  }

  /** True until the first write: every read would find nothing. */
  get isEmpty(): boolean {
    return this.#db === undefined;
  }

  /** Heap held by writes not committed yet: their keys, values and per-entry overhead (an estimate). */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /**
   * The value under `key`, or undefined. Valid only until the next call on this store: copy
   * or decode it at once. `key` may be a view of a scratch buffer (lmdb copies it).
   */
  get(key: Buffer): Uint8Array | undefined {
    this.#checkUsable();
    // (checkUsable throws once disposed, so #db below is never a closing environment.)
    if (this.#inFlight.size > 0 && this.#inFlightFilter[filterBucket(key)] !== 0) {
      const pending = this.#inFlight.get(key.toString('latin1'));
      if (pending !== undefined) return pending.value ?? undefined;
    }
    return this.#db?.getBinaryFast(key);
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
   * The value of a write of `key` that is queued or waiting for its commit (null: a removal),
   * or undefined when none is: then the store's committed value is current.
   */
  inFlightValue(key: Uint8Array): Uint8Array | null | undefined {
    if (this.#inFlight.size === 0 || this.#inFlightFilter[filterBucket(key)] === 0) return undefined;
    return this.#inFlight.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'))
      ?.value;
  }

  /** Writes `value` (which must not be mutated afterwards) under `key` (which may be a scratch view: it is copied). */
  put(key: Buffer, value: Uint8Array): void {
    this.#write(key, value);
  }

  remove(key: Buffer): void {
    this.#write(key, null);
  }

  /**
   * Calls `listener` with every written key (its bytes as a latin1 string), synchronously in
   * `put`/`remove`: every change of the store passes here, whatever caused it.
   */
  onWrite(listener: ((id: string) => void) | undefined): void {
    this.#onWrite = listener;
  }

  /** Resolves once every write issued so far has committed; rejects if one failed. */
  async drained(): Promise<void> {
    this.#flushQueue();
    if (this.#db !== undefined) await this.#db.committed;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * A consistent point-in-time view: a read transaction plus a copy of the writes not yet
   * committed (lmdb resets its read transaction before it resolves a commit's promises, so
   * what left the overlay is in the transaction). O(in-flight writes). Release it.
   */
  view(): StoreView {
    this.#checkUsable();
    this.#openViews++;
    return new StoreView(this.#db, this.#db?.useReadTransaction(), this.#inFlight, () => {
      if (--this.#openViews === 0 && this.#closed) this.#close();
    });
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
    this.#inFlight.clear();
    this.#inFlightFilter.fill(0);
    this.#queue = [];
    this.#queueBytes = 0;
    clearTimeout(this.#queueTimer);
    this.#queueTimer = undefined;
    if (this.#openViews === 0) this.#close();
  }

  #close(): void {
    const db = this.#db;
    this.#db = undefined;
    const remove = (): void => {
      rmSync(this.directory, { recursive: true, force: true });
      liveDirectories.delete(this.directory);
    };
    if (db === undefined) remove();
    else db.close().then(remove, remove);
  }

  #write(key: Buffer, value: Uint8Array | null): void {
    this.#checkUsable();
    if (key.length > STORE_KEY_BYTES_MAX) {
      throw new RangeError(
        `a state entry's key and namespace take ${key.length} bytes serialized; the disk backend's store allows ${STORE_KEY_BYTES_MAX}`,
      );
    }
    if (this.#db === undefined) this.#open();
    const id = key.toString('latin1');
    this.#onWrite?.(id);
    const entry: InFlight = { id, value };
    const previous = this.#inFlight.get(id);
    if (previous === undefined) this.#inFlightFilter[filterBucket(key)]++;
    else this.#inFlightBytes -= heldBytes(previous);
    this.#inFlight.set(id, entry);
    this.#inFlightBytes += heldBytes(entry);
    if (value !== null) this.#queueBytes += value.length;
    const queued = this.#queue.push(entry);
    if (queued >= this.#queueEntriesMax || this.#queueBytes >= WRITE_QUEUE_BYTES_MAX) this.#flushQueue();
    else if (queued === 1) {
      this.#queueTimer = setTimeout(() => {
        this.#queueTimer = undefined;
        if (!this.#closed) this.#flushQueue();
      }, WRITE_QUEUE_DELAY_MS);
      this.#queueTimer.unref();
    }
  }

  /**
   * Hands the queued writes to lmdb in one event-loop turn (so one transaction), in the
   * order they were made, skipping those a later write of the same key replaced. One promise
   * callback per flush rather than per write: lmdb resolves writes in the order it commits
   * them, so once the last one resolves, all are committed (or all failed).
   */
  #flushQueue(): void {
    const db = this.#db;
    const queued = this.#queue;
    if (db === undefined || queued.length === 0) return;
    this.#queue = [];
    this.#queueBytes = 0;
    clearTimeout(this.#queueTimer);
    this.#queueTimer = undefined;
    // Not sorted: sorting the run by key cost more on this thread (string compares) than it
    // saved lmdb's (measured: 1.3x fewer CPU seconds without it).
    const entries: InFlight[] = [];
    let last: Promise<boolean> | undefined;
    for (const entry of queued) {
      if (this.#inFlight.get(entry.id) !== entry) continue;
      // lmdb copies the key into its instruction buffer: one scratch serves every put.
      const key = latin1Key(entry.id);
      last = entry.value === null ? db.remove(key) : db.put(key, entry.value as Buffer);
      entries.push(entry);
    }
    last?.then(
      () => {
        for (const entry of entries) {
          // A later write of the same key replaced the entry: it stays until that one commits.
          if (this.#inFlight.get(entry.id) !== entry) continue;
          this.#inFlight.delete(entry.id);
          this.#inFlightFilter[filterBucketOfId(entry.id)]--;
          this.#inFlightBytes -= heldBytes(entry);
        }
      },
      (error: unknown) => {
        this.#failure ??= new Error(`writing to the local state store in ${this.directory} failed`, {
          cause: error,
        });
      },
    );
  }

  #open(): RootDatabase<Buffer, Buffer> {
    try {
      mkdirSync(this.directory, { recursive: true });
      sweepStaleDirectories(dirname(this.directory));
      trackDirectory(this.directory);
      this.#db = open<Buffer, Buffer>({
        path: this.directory,
        encoding: 'binary',
        keyEncoding: 'binary',
        cache: false,
        compression: false,
        noSync: true,
        noMetaSync: true,
      });
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
 * What `LocalKvStore.view()` returns: range reads from one read transaction, merged with the
 * writes that were in flight when it was taken. Entries come in ascending key order.
 */
export class StoreView {
  readonly #db: RootDatabase<Buffer, Buffer> | undefined;
  #txn: Transaction | undefined;
  #onRelease: (() => void) | undefined;
  /** The overlay's entries at the time of the view (immutable objects), indexed lazily. */
  #entries: readonly InFlight[] | undefined;
  /** The overlay grouped by the first four key bytes (state id and key group), each sorted by key. */
  #overlay: Map<number, InFlight[]> | undefined;
  /** The same overlay by key, for point reads. */
  #overlayById: Map<string, InFlight> | undefined;

  constructor(
    db: RootDatabase<Buffer, Buffer> | undefined,
    txn: Transaction | undefined,
    inFlight: ReadonlyMap<string, InFlight>,
    onRelease: () => void,
  ) {
    this.#db = db;
    this.#txn = txn;
    this.#onRelease = onRelease;
    // Only an array copy here (a snapshot's synchronous part); the indexes are built by the
    // first read, in the asynchronous part.
    this.#entries = inFlight.size === 0 ? [] : [...inFlight.values()];
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
    const pending = this.#grouped().get(prefix) ?? [];
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
   * undefined when absent or removed. The result is a copy, safe to keep.
   */
  get(id: string): Uint8Array | undefined {
    if (this.#overlayById === undefined) {
      this.#overlayById = new Map();
      for (const entry of this.#entries ?? []) this.#overlayById.set(entry.id, entry);
    }
    const pending = this.#overlayById.get(id);
    if (pending !== undefined) return pending.value ?? undefined;
    if (this.#db === undefined) return undefined;
    if (this.#txn === undefined) throw new Error('a store view was read after its release');
    return this.#db.get(Buffer.from(id, 'latin1'), { transaction: this.#txn });
  }

  #grouped(): Map<number, InFlight[]> {
    if (this.#overlay !== undefined) return this.#overlay;
    const overlay = new Map<number, InFlight[]>();
    for (const entry of this.#entries ?? []) {
      const id = entry.id;
      const prefix =
        id.charCodeAt(0) * 0x100_0000 +
        id.charCodeAt(1) * 0x1_0000 +
        id.charCodeAt(2) * 0x100 +
        id.charCodeAt(3);
      let bucket = overlay.get(prefix);
      if (bucket === undefined) overlay.set(prefix, (bucket = []));
      bucket.push(entry);
    }
    // latin1 strings compare as their bytes do, so this is lmdb's key order.
    for (const bucket of overlay.values()) bucket.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#overlay = overlay;
    return overlay;
  }

  /** Ends the read transaction; idempotent. */
  release(): void {
    const txn = this.#txn;
    this.#txn = undefined;
    this.#entries = undefined;
    this.#overlay = undefined;
    this.#overlayById = undefined;
    txn?.done();
    const onRelease = this.#onRelease;
    this.#onRelease = undefined;
    onRelease?.();
  }
}
