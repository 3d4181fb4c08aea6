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
  /** The key's bytes as a latin1 string: the overlay's Map key. */
  readonly id: string;
  readonly key: Buffer;
  /** null: a removal. */
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
 * visible to reads at once through the in-flight overlay, which holds it until its
 * transaction commits. The environment is opened lazily on the first write: until then
 * every read is a miss without I/O.
 */
export class LocalKvStore {
  readonly directory: string;
  #db: RootDatabase<Buffer, Buffer> | undefined;
  /** Writes issued and not committed yet, by the key's bytes as a latin1 string. */
  readonly #inFlight = new Map<string, InFlight>();
  #inFlightBytes = 0;
  /** Writes issued since the last seal, and the last one's promise: they commit together or earlier. */
  #batch: InFlight[] = [];
  #batchLast: Promise<boolean> | undefined;
  #failure: Error | undefined;
  #closed = false;
  /** Views not released yet: the environment stays open for them after dispose. */
  #openViews = 0;
  /** Told the key of every write (incremental checkpoints track what changed). */
  #onWrite: ((id: string) => void) | undefined;

  constructor(directory: string) {
    this.directory = directory;
  }

  /** True until the first write: every read would find nothing. */
  get isEmpty(): boolean {
    return this.#db === undefined;
  }

  /** Bytes of values written and not committed yet (an upper bound on what the overlay holds). */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** The value under `key`, or undefined. Valid only until the next call on this store: copy or decode it at once. */
  get(key: Buffer): Uint8Array | undefined {
    this.#checkUsable();
    // (checkUsable throws once disposed, so #db below is never a closing environment.)
    if (this.#inFlight.size > 0) {
      const pending = this.#inFlight.get(key.toString('latin1'));
      if (pending !== undefined) return pending.value ?? undefined;
    }
    return this.#db?.getBinaryFast(key);
  }

  /**
   * Up to `limit` committed entries with keys in [start, end), in key order, copied; for
   * background work (TTL cleanup) that must skip keys `isInFlight` reports.
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

  /** Whether a write of `key` is waiting for its commit. */
  isInFlight(key: Uint8Array): boolean {
    return (
      this.#inFlight.size > 0 &&
      this.#inFlight.has(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'))
    );
  }

  /** Writes `value` (which must not be mutated afterwards) under `key`. */
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
    const db = this.#db ?? this.#open();
    const id = key.toString('latin1');
    this.#onWrite?.(id);
    const entry: InFlight = { id, key, value };
    const previous = this.#inFlight.get(id);
    if (previous?.value != null) this.#inFlightBytes -= previous.value.length;
    this.#inFlight.set(id, entry);
    if (value !== null) this.#inFlightBytes += value.length;
    this.#batchLast = value === null ? db.remove(key) : db.put(key, value as Buffer);
    if (this.#batch.push(entry) === 1) queueMicrotask(() => this.#seal());
  }

  /**
   * One promise callback per batch rather than per write: lmdb resolves writes in the order
   * it commits them, and the writes of one event-loop turn share a transaction, so once the
   * batch's last write resolves, all of them are committed (or all failed).
   */
  #seal(): void {
    const entries = this.#batch;
    const last = this.#batchLast;
    this.#batch = [];
    this.#batchLast = undefined;
    last?.then(
      () => {
        for (const entry of entries) {
          // A later write of the same key replaced the entry: it stays until that one commits.
          if (this.#inFlight.get(entry.id) !== entry) continue;
          this.#inFlight.delete(entry.id);
          if (entry.value !== null) this.#inFlightBytes -= entry.value.length;
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
  /** The overlay at the time of the view, grouped by the first four key bytes (state id and key group), unsorted. */
  readonly #overlay = new Map<number, InFlight[]>();
  /** The same overlay by key, for point reads. */
  readonly #overlayById: ReadonlyMap<string, InFlight>;

  constructor(
    db: RootDatabase<Buffer, Buffer> | undefined,
    txn: Transaction | undefined,
    inFlight: ReadonlyMap<string, InFlight>,
    onRelease: () => void,
  ) {
    this.#db = db;
    this.#txn = txn;
    this.#onRelease = onRelease;
    this.#overlayById = new Map(inFlight);
    for (const entry of inFlight.values()) {
      const prefix = entry.key.readUInt32BE(0);
      let bucket = this.#overlay.get(prefix);
      if (bucket === undefined) this.#overlay.set(prefix, (bucket = []));
      bucket.push(entry);
    }
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
    const pending = (this.#overlay.get(prefix) ?? []).slice().sort((a, b) => Buffer.compare(a.key, b.key));
    const stored: Iterable<{ key: Buffer; value: Buffer }> =
      this.#db === undefined || this.#txn === undefined
        ? []
        : this.#db.getRange({ start, end: prefix === 0xffff_ffff ? undefined : end, transaction: this.#txn });
    let i = 0;
    for (const raw of stored) {
      // lmdb may reuse the buffers of a range entry on the next read: one held across a
      // yield of an overlay entry (whose consumer may read the store) is copied.
      const entry = i < pending.length ? { key: Buffer.from(raw.key), value: Buffer.from(raw.value) } : raw;
      while (i < pending.length && Buffer.compare(pending[i].key, entry.key) < 0) {
        const next = pending[i++];
        if (next.value !== null) yield { key: next.key, value: next.value };
      }
      if (i < pending.length && Buffer.compare(pending[i].key, entry.key) === 0) {
        const next = pending[i++];
        if (next.value !== null) yield { key: next.key, value: next.value };
        continue;
      }
      yield entry;
    }
    for (; i < pending.length; i++) {
      const next = pending[i];
      if (next.value !== null) yield { key: next.key, value: next.value };
    }
  }

  /**
   * The value of one key as of the view (`id` is the key's bytes as a latin1 string), or
   * undefined when absent or removed. The result is a copy, safe to keep.
   */
  get(id: string): Uint8Array | undefined {
    const pending = this.#overlayById.get(id);
    if (pending !== undefined) return pending.value ?? undefined;
    if (this.#db === undefined) return undefined;
    if (this.#txn === undefined) throw new Error('a store view was read after its release');
    return this.#db.get(Buffer.from(id, 'latin1'), { transaction: this.#txn });
  }

  /** Ends the read transaction; idempotent. */
  release(): void {
    const txn = this.#txn;
    this.#txn = undefined;
    txn?.done();
    const onRelease = this.#onRelease;
    this.#onRelease = undefined;
    onRelease?.();
  }
}
