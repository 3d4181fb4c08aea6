/** A disk backend's read-ahead: a thread that reads a batch's missing entries from lmdb while the main thread processes the batch. */
import { Worker } from 'node:worker_threads';
import {
  ABSENT,
  CANCEL,
  CLOSE,
  COMPLETED,
  CONTROL_INTS,
  COUNT,
  DONE,
  NOT_READ,
  READY,
  REQUEST,
  type ReadAheadBuffers,
  SERVED,
  TAKEN,
  WORKER_FAILED,
} from './read-ahead-protocol.ts';

/** Keys one request holds at most (a batch is 512 records; a few states each). */
export const READ_AHEAD_KEYS_MAX = 4_096;
/** Bytes of store keys one request holds at most. */
export const READ_AHEAD_KEY_BYTES = 256 * 1024;
/** Bytes of values one request's results hold at most: later values are read by the main thread. */
export const READ_AHEAD_VALUE_BYTES = 4 * 1024 * 1024;
/**
 * The longest the main thread waits for the worker without any progress before it stops
 * using it (reads its keys itself from then on): lmdb reads take microseconds, so only a
 * thread that died or hung stays that long.
 */
const STALL_MS = 30_000;

/** What `take` returns for a key the worker did not read: read it from the store. */
export const UNREAD: unique symbol = Symbol('unread');

/**
 * The worker's file: beside this one, as TypeScript when running from source (Node.js strips
 * the types), as JavaScript once built.
 */
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './read-ahead-worker.ts' : './read-ahead-worker.js',
  import.meta.url,
);

/**
 * One request at a time: `begin`, `add` keys, `submit`; then `take` each result. The worker
 * reads the keys in order while the main thread processes the batch. The main thread does
 * not wait for a key: one the worker has not read yet is UNREAD (the caller reads it
 * itself), and the worker skips past the keys taken so far. Waking the worker took about
 * 300 µs here (the time of some 50 records), so it starts behind every batch; on two cores
 * shared with lmdb's write thread it stays behind on about a quarter of the misses (measured
 * at 4–10 M keys, docs/state-backends.md). The only wait is in `begin`, for a worker still
 * busy with the previous request.
 *
 * The caller keeps the results consistent with the store: it only asks for keys that had no
 * write in flight (the worker reads committed state), and uses a result only if the key has
 * had no write since it asked (a store write mark, see DiskStateTable). A view returned by
 * `take` is valid until the next `begin`.
 */
export class ReadAhead {
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
  readonly #keys = new Uint8Array(new SharedArrayBuffer(READ_AHEAD_KEY_BYTES));
  readonly #results = new Int32Array(new SharedArrayBuffer(READ_AHEAD_KEYS_MAX * 8));
  readonly #values = new Uint8Array(new SharedArrayBuffer(READ_AHEAD_VALUE_BYTES));
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  /** Number of the latest request submitted (0: none yet). */
  #request = 0;
  #count = 0;
  #keyBytes = 0;
  /** Where each key of the current request starts in `#keys` (after its length). */
  readonly #keyAt = new Int32Array(READ_AHEAD_KEYS_MAX);
  /** Each key's `hashKey`, as the caller gave it. */
  readonly #hashAt = new Int32Array(READ_AHEAD_KEYS_MAX);
  /** What the worker was last told of TAKEN. */
  #taken = 0;
  #failed = false;
  #closed = false;
  #requested = 0;
  #served = 0;

  /** Starts the thread; it opens the store in `directory`, which must exist (the store's first write made it). */
  constructor(directory: string) {
    const buffers: ReadAheadBuffers = {
      control: this.#control.buffer as SharedArrayBuffer,
      keys: this.#keys.buffer as SharedArrayBuffer,
      results: this.#results.buffer as SharedArrayBuffer,
      values: this.#values.buffer as SharedArrayBuffer,
    };
    this.#worker = new Worker(WORKER_URL, { workerData: { ...buffers, directory } });
    this.#worker.unref();
    // A failed worker only costs speed: every read is the main thread's own again.
    this.#worker.on('error', () => {
      this.#failed = true;
    });
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => {
        this.#failed = true;
        resolve();
      });
    });
  }

  /** The worker has opened the store and has not failed. */
  get isReady(): boolean {
    const control = this.#control;
    return (
      !this.#failed &&
      !this.#closed &&
      Atomics.load(control, READY) === 1 &&
      Atomics.load(control, WORKER_FAILED) === 0
    );
  }

  /** Keys of the current request the worker has finished (read, or skipped as taken). */
  get readCount(): number {
    const control = this.#control;
    return Atomics.load(control, SERVED) === this.#request ? Atomics.load(control, DONE) : 0;
  }

  /** Counters for tests, benchmarks and docs: keys requested, and those the worker had read when taken. */
  stats(): { readonly ready: boolean; readonly requested: number; readonly served: number } {
    return { ready: this.isReady, requested: this.#requested, served: this.#served };
  }

  /**
   * Starts a new request: the previous one is cancelled (its results and views are void),
   * and, if the worker is still on it, waited for, so the buffers are free to write.
   */
  begin(): void {
    const control = this.#control;
    if (this.#request !== 0 && !this.#failed && Atomics.load(control, COMPLETED) !== this.#request) {
      Atomics.store(control, CANCEL, this.#request);
      this.#awaitCompletion();
    }
    this.#count = 0;
    this.#keyBytes = 0;
  }

  /**
   * Adds a store key to the request, with its `hashKey` (kept for `hashOf`, so a miss does not
   * hash it again); its index, or -1 when the request is full.
   */
  add(key: Uint8Array, hash: number): number {
    const at = this.#keyBytes;
    if (this.#count === READ_AHEAD_KEYS_MAX || at + 2 + key.length > READ_AHEAD_KEY_BYTES) return -1;
    const keys = this.#keys;
    keys[at] = key.length >>> 8;
    keys[at + 1] = key.length & 0xff;
    keys.set(key, at + 2);
    this.#keyAt[this.#count] = at + 2;
    this.#hashAt[this.#count] = hash;
    this.#keyBytes = at + 2 + key.length;
    return this.#count++;
  }

  /**
   * The request's key `index`, as added (a view, valid until the next `begin`): a miss reads
   * the store with it instead of building the key again.
   */
  keyOf(index: number): Buffer {
    const at = this.#keyAt[index];
    const keys = this.#keys;
    return Buffer.from(keys.buffer, at, (keys[at - 2] << 8) | keys[at - 1]);
  }

  /** The hash the request's key `index` was added with. */
  hashOf(index: number): number {
    return this.#hashAt[index];
  }

  /** Hands the request's keys to the worker (nothing to do for none). */
  submit(): void {
    if (this.#count === 0) return;
    this.#requested += this.#count;
    const control = this.#control;
    Atomics.store(control, COUNT, this.#count);
    Atomics.store(control, TAKEN, (this.#taken = 0));
    Atomics.store(control, REQUEST, ++this.#request);
    Atomics.notify(control, REQUEST);
  }

  /**
   * The value of the request's key `index` (a view, valid until the next `begin`), undefined
   * when the store has none, UNREAD when the worker did not read it.
   */
  take(index: number): Uint8Array | undefined | typeof UNREAD {
    const control = this.#control;
    if (index >= this.#taken) Atomics.store(control, TAKEN, (this.#taken = index + 1));
    if (Atomics.load(control, SERVED) !== this.#request || Atomics.load(control, DONE) <= index)
      return UNREAD;
    const results = this.#results;
    const length = results[2 * index + 1];
    if (length === NOT_READ) return UNREAD;
    this.#served++;
    if (length === ABSENT) return undefined;
    const offset = results[2 * index];
    return this.#values.subarray(offset, offset + length);
  }

  /** Stops the thread, which closes its handle of the store on its way out; resolves once it has exited. */
  close(): Promise<void> {
    if (this.#closed) return this.#exited;
    this.#closed = true;
    const control = this.#control;
    Atomics.store(control, CLOSE, 1);
    Atomics.store(control, CANCEL, this.#request);
    Atomics.add(control, REQUEST, 1);
    Atomics.notify(control, REQUEST);
    return this.#exited;
  }

  /** Waits until the worker is done with the latest request; if it stalls, stops using it. */
  #awaitCompletion(): void {
    const control = this.#control;
    let progressAt = performance.now();
    let done = Atomics.load(control, DONE);
    for (;;) {
      const completed = Atomics.load(control, COMPLETED);
      if (completed === this.#request) return;
      if (Atomics.wait(control, COMPLETED, completed, 1_000) === 'timed-out') {
        const now = Atomics.load(control, DONE);
        if (now !== done) {
          done = now;
          progressAt = performance.now();
        } else if (performance.now() - progressAt > STALL_MS) {
          this.#failed = true;
          return;
        }
      }
    }
  }
}
