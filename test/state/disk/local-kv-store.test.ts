/** The disk backend's store alone: writes collected in runs stay readable until lmdb commits them, values reach lmdb intact from the runs' arenas, views are isolated, backpressure waits only for the oldest runs. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalKvStore } from '../../../src/state/backends/disk/local-kv-store.ts';
import { hashKey } from '../../../src/state/backends/disk/write-run.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-local-kv-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let stores = 0;
const storeOf = (runEntriesMax: number): LocalKvStore =>
  new LocalKvStore(join(root, `store-${stores++}`), runEntriesMax);

const key = (n: number): Buffer => Buffer.from(`\u0000\u0001\u0000\u0002key-${n}`, 'latin1');
const valueAt = (n: number, version: number): Buffer => Buffer.from(`v${version}:`.padEnd(1 + (n % 40), '*'));
const read = (store: LocalKvStore, n: number): string | undefined => {
  const bytes = store.get(key(n));
  // lmdb's read buffer is one shared buffer whose `length` alone tells the value's end: copy by index.
  return bytes === undefined
    ? undefined
    : String.fromCharCode(...Array.from({ length: bytes.length }, (_, i) => bytes[i]));
};

describe('LocalKvStore', () => {
  it('reads every write back at once, while its run is open, sealed and after it committed (random operations against a Map)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 7 }),
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('put' as const), n: fc.nat(30) }),
            fc.record({ op: fc.constant('remove' as const), n: fc.nat(30) }),
            fc.record({ op: fc.constant('drain' as const) }),
          ),
          { maxLength: 120 },
        ),
        async (runEntriesMax, operations) => {
          const store = storeOf(runEntriesMax);
          const model = new Map<number, string>();
          let version = 0;
          try {
            for (const operation of operations) {
              if (operation.op === 'drain') await store.drained();
              else if (operation.op === 'remove') {
                store.remove(key(operation.n));
                model.delete(operation.n);
              } else {
                const value = valueAt(operation.n, version++);
                store.put(key(operation.n), value);
                value.fill(0); // the store copied it: a scratch buffer may be reused at once
                model.set(operation.n, valueAt(operation.n, version - 1).toString());
              }
              for (let n = 0; n <= 30; n++) expect(read(store, n)).toBe(model.get(n));
            }
            await store.drained();
            for (let n = 0; n <= 30; n++) expect(read(store, n)).toBe(model.get(n));
          } finally {
            store.dispose();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a view sees the runs not committed when it was taken, and none of the writes after', async () => {
    const store = storeOf(4);
    for (let n = 0; n < 10; n++) store.put(key(n), valueAt(n, 1));
    await store.drained();
    for (let n = 0; n < 10; n += 2) store.put(key(n), valueAt(n, 2)); // in flight at the view
    store.remove(key(9));
    const view = store.view();
    for (let n = 0; n < 10; n++) store.put(key(n), valueAt(n, 3));
    await store.drained();
    const seen = [...view.prefixed(0x0001_0002)].map(({ key: k, value }) => [
      Buffer.from(k).toString('latin1').slice(4),
      Buffer.from(value).toString(),
    ]);
    const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8]
      .map((n) => [`key-${n}`, valueAt(n, n % 2 === 0 ? 2 : 1).toString()])
      .sort(([a], [b]) => (a < b ? -1 : 1));
    expect(seen).toEqual(expected);
    view.release();
    expect(read(store, 9)).toBe(valueAt(9, 3).toString());
    store.dispose();
  });

  it('a write mark tells which keys may have been written since, before and after the writes commit', async () => {
    const store = storeOf(16_384);
    for (let n = 0; n < 10; n++) store.put(key(n), valueAt(n, 1));
    const mark = store.writeMark();
    // Keys share buckets, and the run open at the mark counts as written after it: a key may
    // read as written when it was not (never the other way). Keys never written: rarely.
    const unwritten = () =>
      Array.from({ length: 1_000 }, (_, n) => store.writtenSince(hashKey(key(1_000 + n)), mark));
    expect(unwritten().filter(Boolean).length).toBeLessThanOrEqual(2);
    store.put(key(3), valueAt(3, 2));
    store.remove(key(2_000));
    expect(store.writtenSince(hashKey(key(3)), mark)).toBe(true);
    expect(store.writtenSince(hashKey(key(2_000)), mark)).toBe(true);
    await store.drained();
    // Commits do not clear it: the key was written after the mark all the same.
    expect(store.writtenSince(hashKey(key(3)), mark)).toBe(true);
    expect(unwritten().filter(Boolean).length).toBeLessThanOrEqual(2);
    // A mark taken with no run open: the writes before it are not after it.
    const later = store.writeMark();
    expect(store.writtenSince(hashKey(key(3)), later)).toBe(false);
    expect(store.writtenSince(hashKey(key(2_000)), later)).toBe(false);
    store.dispose();
  });

  it('has room at once when it is not backed up: nothing waits for lmdb', async () => {
    const store = storeOf(100);
    for (let n = 0; n < 10; n++) store.put(key(n), valueAt(n, 1));
    await store.room(Number.MAX_SAFE_INTEGER);
    expect(store.inFlightBytes).toBeGreaterThan(0);
    await store.drained();
    expect(store.inFlightBytes).toBe(0);
    store.dispose();
  });

  it('waits for room as soon as the oldest runs committed, not for everything', async () => {
    const store = storeOf(2);
    for (let n = 0; n < 40; n++) store.put(key(n), valueAt(n, 1));
    expect(store.isBackedUp(0)).toBe(true);
    await store.room(Number.MAX_SAFE_INTEGER);
    await store.room(0);
    expect(store.inFlightBytes).toBe(0);
    for (let n = 0; n < 40; n++) expect(read(store, n)).toBe(valueAt(n, 1).toString());
    store.dispose();
  });

  it('fails cleanly when lmdb cannot write (a file-size limit standing in for a full disk): the reason is the cause, nothing crashes', {
    timeout: 60_000,
  }, async () => {
    const directory = join(root, `store-${stores++}`);
    const fixture = join(import.meta.dirname, 'fixtures', 'fill-local-store.ts');
    // 4 MiB per file: lmdb's data file outgrows it after a few thousand 200-byte writes.
    const { stdout } = await promisify(execFile)(
      '/bin/sh',
      ['-c', 'ulimit -f 4096 && exec "$0" "$@"', process.execPath, fixture, directory],
      { maxBuffer: 1024 * 1024 },
    );
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
    expect(report.writes).toBeGreaterThan(1_000);
    expect(report.writes).toBeLessThan(1_000_000);
    expect(report.message).toBe(`writing to the local state store in ${directory} failed`);
    // lmdb-js's generic "Commit failed" is replaced by the reason it reports separately.
    expect(report.cause).not.toMatch(/Commit failed/);
    expect(report.cause).toMatch(/\w/);
    expect(report.drained).toBe(`rejected: ${report.message}`);
    expect(report.laterPut).toBe(`threw: ${report.message}`);
  });

  it('hands lmdb one run per transaction, even when many are sealed in one turn', async () => {
    const store = storeOf(4);
    store.put(key(0), valueAt(0, 0));
    await store.drained();
    const before = store.lastTransactionId;
    // Ten runs sealed before lmdb's thread gets to any: lmdb-js alone would fold them together.
    for (let n = 0; n < 40; n++) store.put(key(n), valueAt(n, 1));
    await store.drained();
    expect(store.lastTransactionId - before).toBe(10);
    for (let n = 0; n < 40; n++) expect(read(store, n)).toBe(valueAt(n, 1).toString());
    store.dispose();
  });
});
