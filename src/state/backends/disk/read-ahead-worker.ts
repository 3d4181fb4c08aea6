/**
 * The read-ahead thread of one disk backend: reads a batch's store keys from lmdb while the
 * main thread processes the batch. Protocol and layout: read-ahead.ts.
 */
import { workerData } from 'node:worker_threads';
import { openLmdb } from './local-kv-store.ts';
import {
  ABSENT,
  CANCEL,
  CLOSE,
  COMPLETED,
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

const { control, keys, results, values, directory } = workerData as ReadAheadBuffers & {
  readonly directory: string;
};
const ctl = new Int32Array(control);
const keyBytes = new Uint8Array(keys);
const keyView = new DataView(keys);
const result = new Int32Array(results);
const valueBytes = new Uint8Array(values);

/** Marks the keys from `from` on as not read, then tells the main thread the request is done with. */
function finishRequest(request: number, count: number, from: number): void {
  for (let i = from; i < count; i++) result[2 * i + 1] = NOT_READ;
  Atomics.store(ctl, DONE, count);
  Atomics.store(ctl, COMPLETED, request);
  Atomics.notify(ctl, COMPLETED);
}

// Closed before it started: opening would make the store's directory anew.
if (Atomics.load(ctl, CLOSE) !== 0) process.exit(0);
// lmdb-js shares one environment per path across the threads of a process: this opens the
// backend's own environment, read-only in practice.
const db = openLmdb(directory);
Atomics.store(ctl, READY, 1);
Atomics.notify(ctl, READY);
let seen = 0;
let count = 0;
let next = 0;
try {
  for (;;) {
    Atomics.wait(ctl, REQUEST, seen);
    if (Atomics.load(ctl, CLOSE) !== 0) break;
    const request = Atomics.load(ctl, REQUEST);
    if (request === seen) continue;
    seen = request;
    count = Atomics.load(ctl, COUNT);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, SERVED, request);
    // A fresh read transaction: it sees every commit that completed before the request (the
    // main thread left out keys whose writes were still in flight). lmdb-js would renew it on
    // a timer, which never runs in a thread blocked in Atomics.wait.
    db.resetReadTxn();
    let keyAt = 0;
    let valueAt = 0;
    for (next = 0; next < count; next++) {
      const i = next;
      if (Atomics.load(ctl, CANCEL) === request) break;
      const length = keyView.getUint16(keyAt);
      keyAt += 2 + length;
      // The main thread read this one itself (it does when this thread is behind): skip ahead.
      if (i < Atomics.load(ctl, TAKEN)) {
        result[2 * i + 1] = NOT_READ;
        Atomics.store(ctl, DONE, i + 1);
        continue;
      }
      const key = Buffer.from(keyBytes.buffer, keyAt - length, length);
      const value = db.getBinaryFast(key);
      if (value === undefined) {
        result[2 * i + 1] = ABSENT;
      } else {
        // getBinaryFast returns lmdb-js's shared read buffer with `length` set to the value's
        // size: copy exactly that many bytes.
        const size = value.length;
        if (valueAt + size > valueBytes.length) {
          result[2 * i + 1] = NOT_READ;
        } else {
          valueBytes.set(new Uint8Array(value.buffer, value.byteOffset, size), valueAt);
          result[2 * i] = valueAt;
          result[2 * i + 1] = size;
          valueAt += size;
        }
      }
      Atomics.store(ctl, DONE, i + 1);
    }
    finishRequest(request, count, next);
    // Holds no snapshot while idle, so lmdb can reuse the pages freed after it.
    db.resetReadTxn();
  }
} catch (error) {
  Atomics.store(ctl, WORKER_FAILED, 1);
  finishRequest(seen, count, next);
  throw error;
} finally {
  await db.close();
}
