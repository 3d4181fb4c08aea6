/** The shared memory between a disk backend and its read-ahead thread: which int of the control array means what, and the buffers. */

/*
 * Control array indexes (Int32Array over `control`). The main thread writes a request only
 * while the worker is idle (COMPLETED equals the latest request), so the two never touch
 * the key, result and value buffers at once; and it trusts DONE only while SERVED names its
 * latest request (the worker zeroes DONE before it sets SERVED), so no count left over
 * from an earlier request is taken for the new one's.
 */
/** Number of the latest request (the main thread increments it and wakes the worker). */
export const REQUEST = 0;
/** Keys in the latest request. */
export const COUNT = 1;
/** Keys of the request named by SERVED that the worker has finished (their results are final). */
export const DONE = 2;
/** Set by the main thread to a request's number: the worker stops reading it. */
export const CANCEL = 3;
/** The request the worker is reading (or read last). */
export const SERVED = 4;
/** 1 once the worker has opened the store. */
export const READY = 5;
/** 1 once the worker failed: every later read is the main thread's own. */
export const WORKER_FAILED = 6;
/** 1: the worker closes its handle of the store and exits. */
export const CLOSE = 7;
/** The index after the last key of the request the main thread has asked for: the worker skips to it. */
export const TAKEN = 8;
/** The last request the worker has finished with (read, cancelled or failed): it is idle when this is the latest. */
export const COMPLETED = 9;
export const CONTROL_INTS = 10;

/** A result's length when the key was not read (cancelled, no room, worker failed): read it synchronously. */
export const NOT_READ = -2;
/** A result's length when the store has no entry under the key. */
export const ABSENT = -1;

/**
 * `keys`: the request's store keys, each as a u16 big-endian length and its bytes.
 * `results`: per key, the value's offset in `values` and its length (or ABSENT, NOT_READ).
 * `values`: the values read, back to back.
 */
export interface ReadAheadBuffers {
  readonly control: SharedArrayBuffer;
  readonly keys: SharedArrayBuffer;
  readonly results: SharedArrayBuffer;
  readonly values: SharedArrayBuffer;
}
