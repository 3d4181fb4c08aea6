/** The disk store's key filter: never rules out a key it was given, rules out most others, and turns itself off once saturated. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyFilter } from '../../../src/state/backends/disk/key-filter.ts';
import { LocalKvStore } from '../../../src/state/backends/disk/local-kv-store.ts';
import { hashKey } from '../../../src/state/backends/disk/write-run.ts';

/** A store key as the backend makes them: state id, key group, then a serialized string key. */
const storeKeyOf = (n: number): Buffer =>
  Buffer.concat([Buffer.from([0, 1, (n >>> 8) & 0x7f, n & 0xff, 0x04]), Buffer.from(`user-${n}`)]);

/** lmdb's read buffer is one shared buffer whose `length` alone tells the value's end: copy by index. */
const text = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined
    ? undefined
    : String.fromCharCode(...Array.from({ length: bytes.length }, (_, i) => bytes[i]));

const root = mkdtempSync(join(tmpdir(), 'weir-key-filter-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('KeyFilter', () => {
  it('never rules out a key it was given, whatever the keys and the size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_096 }),
        fc.uniqueArray(fc.integer(), { maxLength: 2_000 }),
        (bytes, hashes) => {
          const filter = new KeyFilter(bytes);
          for (const hash of hashes) filter.add(hash);
          for (const hash of hashes) expect(filter.mayHold(hash)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('at 10 bits per key, rules out all but about 1 % of the keys it was not given', () => {
    const keys = 100_000;
    const filter = new KeyFilter(131_072 + 1_000); // rounds down to 2^17 bytes: 10.5 bits per key
    expect(filter.bytes).toBe(131_072);
    for (let n = 0; n < keys; n++) filter.add(hashKey(storeKeyOf(n)));
    let passed = 0;
    for (let n = keys; n < 2 * keys; n++) if (filter.mayHold(hashKey(storeKeyOf(n)))) passed++;
    // A standard Bloom filter with 4 hashes at 10.5 bits per key: 1.1 %; a blocked one a bit more.
    expect(passed / keys).toBeLessThan(0.025);
    expect(filter.stats()).toMatchObject({ on: true, ruledOut: keys - passed });
    expect(filter.stats().setShare).toBeGreaterThan(0.25);
    expect(filter.stats().setShare).toBeLessThan(0.35);
  });

  it('turns itself off once three quarters of its bits are set, and then holds every key', () => {
    const filter = new KeyFilter(64); // one block of 512 bits
    expect(filter.bytes).toBe(64);
    let n = 0;
    while (filter.isOn) filter.add(hashKey(storeKeyOf(n++)));
    // About 512 · ln 4 / 4 ≈ 177 keys set 384 distinct bits; never fewer than 384 / 4.
    expect(n).toBeGreaterThanOrEqual(96);
    expect(n).toBeLessThan(300);
    expect(filter.stats()).toMatchObject({ on: false, setShare: 0.75 });
    for (let other = 10_000; other < 10_100; other++)
      expect(filter.mayHold(hashKey(storeKeyOf(other)))).toBe(true);
  });
});

describe('LocalKvStore with its key filter', () => {
  it('reads keys it never wrote as absent without lmdb, and keys it wrote from lmdb, committed or in flight', async () => {
    const store = new LocalKvStore(join(root, 'store-1'), 4, 64 * 1024);
    for (let n = 0; n < 100; n++) store.put(storeKeyOf(n), Buffer.from(`v${n}`));
    expect(store.shouldReadAhead(storeKeyOf(99))).toBe(false); // in flight: the worker reads committed state
    await store.drained();
    for (let n = 0; n < 100; n++) {
      expect(text(store.get(storeKeyOf(n)))).toBe(`v${n}`);
      expect(store.shouldReadAhead(storeKeyOf(n))).toBe(true);
    }
    store.remove(storeKeyOf(5));
    expect(store.get(storeKeyOf(5))).toBeUndefined();
    let absentReadAhead = 0;
    for (let n = 1_000; n < 2_000; n++) {
      expect(store.get(storeKeyOf(n))).toBeUndefined();
      if (store.shouldReadAhead(storeKeyOf(n))) absentReadAhead++;
    }
    // 100 keys in 524,288 bits: practically every absent key is ruled out, twice (get, shouldReadAhead).
    expect(absentReadAhead).toBeLessThan(5);
    expect(store.keyFilterStats()?.ruledOut).toBeGreaterThan(2 * (1_000 - 5));
    store.dispose();
  });

  it('has no filter when configured with 0 bytes: every read goes to lmdb', async () => {
    const store = new LocalKvStore(join(root, 'store-2'), 4, 0);
    store.put(storeKeyOf(1), Buffer.from('one'));
    await store.drained();
    expect(store.keyFilterStats()).toBeUndefined();
    expect(store.get(storeKeyOf(2))).toBeUndefined();
    expect(store.shouldReadAhead(storeKeyOf(2))).toBe(true);
    store.dispose();
  });
});
