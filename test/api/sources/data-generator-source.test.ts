/** Tests of DataGeneratorSource: determinism across parallelism and batching, resume, and rate limiting. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DataGeneratorSplit } from '../../../src/api/sources/data-generator-source.ts';
import { DataGeneratorSource } from '../../../src/api/sources/data-generator-source.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import type { RandomSource } from '../../../src/core/random.ts';
import {
  drainReader,
  readerContext,
  readerOutput,
  readInParallel,
  readSplits,
  startReader,
} from './drain-reader.ts';

const generate = (index: number, random: RandomSource): string => `${index}:${random.nextInt(1_000_000_000)}`;

describe('DataGeneratorSource', () => {
  it('emits the same value for each index whatever the parallelism and batch size', async () => {
    const expected = (await readInParallel(new DataGeneratorSource({ count: 101, generate, seed: 7 }), 1))[0];
    expect(expected).toHaveLength(101);
    expect(new Set(expected).size).toBe(101);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 50 }),
        async (parallelism, batch) => {
          const source = new DataGeneratorSource({ count: 101, generate, seed: 7 });
          const perReader = await readInParallel(source, parallelism, { maxRecords: batch });
          expect(perReader.flat()).toEqual(expected);
          // Contiguous near-equal ranges: sizes differ by at most one.
          const sizes = perReader.map((values) => values.length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('depends on the seed', async () => {
    const [a] = await readInParallel(new DataGeneratorSource({ count: 5, generate, seed: 1 }), 1);
    const [b] = await readInParallel(new DataGeneratorSource({ count: 5, generate, seed: 2 }), 1);
    expect(a).not.toEqual(b);
  });

  it('skips building a random source for generators that ignore it, with identical values', async () => {
    const [values] = await readInParallel(new DataGeneratorSource({ count: 4, generate: (i) => i * 2 }), 1);
    expect(values).toEqual([0, 2, 4, 6]);
  });

  it('stamps records with the timestamp function', async () => {
    const source = new DataGeneratorSource({
      count: 3,
      generate: (i) => ({ id: i }),
      timestamp: (value, index) => 1000 + value.id * 10 + index,
    });
    const reader = source.createReader(readerContext());
    startReader(reader, source.createSplits(1));
    const emitted = await drainReader(reader);
    expect(emitted.map((e) => e.timestampMs)).toEqual([1000, 1011, 1022]);
  });

  it('ends at once with count 0 and on subtasks whose range is empty', async () => {
    expect((await readInParallel(new DataGeneratorSource({ count: 0, generate }), 2)).flat()).toEqual([]);
    const perReader = await readInParallel(new DataGeneratorSource({ count: 2, generate: (i) => i }), 4);
    expect(perReader).toEqual([[0], [1], [], []]);
  });

  it('unbounded: split k of p emits k, k+p, k+2p, ...', async () => {
    const source = new DataGeneratorSource({ generate: (i) => i });
    expect(source.boundedness).toBe('unbounded');
    const splits = source.createSplits(3);
    const firsts = [];
    for (const [k, split] of splits.entries()) {
      const reader = source.createReader(readerContext(k, 3));
      startReader(reader, [split]);
      const emitted = await drainReader(reader, { pollsMax: 2, maxRecords: 4 });
      firsts.push(emitted.map((e) => e.value));
    }
    expect(firsts).toEqual([
      [0, 3, 6, 9, 12, 15, 18, 21],
      [1, 4, 7, 10, 13, 16, 19, 22],
      [2, 5, 8, 11, 14, 17, 20, 23],
    ]);
  });

  it('resumes from snapshotSplits exactly, also at another parallelism', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 12 }),
        async (before, after, polls) => {
          const source = new DataGeneratorSource({ count: 57, generate, seed: 3 });
          const [expected] = await readInParallel(source, 1);
          const values: string[] = [];
          const snapshot: DataGeneratorSplit[] = [];
          for (const [k, split] of source.createSplits(before).entries()) {
            const reader = source.createReader(readerContext(k, before));
            startReader(reader, [split]);
            const emitted = await drainReader(reader, { pollsMax: polls, maxRecords: 3 });
            values.push(...emitted.map((e) => e.value));
            snapshot.push(...reader.snapshotSplits(1));
            reader.close();
          }
          // Redistribute the snapshotted splits round-robin over the new parallelism.
          for (let k = 0; k < after; k++) {
            const mine = snapshot.filter((_, i) => i % after === k);
            values.push(...(await readSplits(source, mine, readerContext(k, after))));
          }
          expect([...values].sort()).toEqual([...expected].sort());
        },
      ),
      { numRuns: 100 },
    );
  });

  it('interleaves several unbounded splits on one reader', async () => {
    const source = new DataGeneratorSource({ generate: (i) => i });
    const reader = source.createReader(readerContext(0, 1));
    startReader(reader, source.createSplits(2));
    const emitted = await drainReader(reader, { pollsMax: 1, maxRecords: 6 });
    expect(emitted.map((e) => e.value)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  describe('rate limiting', () => {
    function rateLimitedReader(ratePerSecond: number, parallelism: number, clock: ManualClock) {
      const source = new DataGeneratorSource({ count: 1000, ratePerSecond, generate: (i) => i });
      const reader = source.createReader(readerContext(0, parallelism, clock));
      startReader(reader, [source.createSplits(parallelism)[0]]);
      const values: number[] = [];
      const poll = (maxRecords = 100) =>
        reader.pollNext(
          readerOutput((v) => values.push(v)),
          maxRecords,
        );
      return { reader, values, poll };
    }

    it('gives each reader its share of the total rate and wakes it when the next record is due', async () => {
      const clock = new ManualClock(10_000);
      // 10 per second over 2 subtasks: one record every 200 ms on this reader.
      const { reader, values, poll } = rateLimitedReader(10, 2, clock);
      expect(poll()).toBe('nothing-available');
      expect(values).toEqual([0]);

      let woken = false;
      const available = reader.isAvailable().then(() => {
        woken = true;
      });
      clock.advance(199);
      await Promise.resolve();
      expect(woken).toBe(false);
      expect(poll()).toBe('nothing-available');
      expect(values).toHaveLength(1);

      clock.advance(1);
      await available;
      expect(woken).toBe(true);
      expect(poll()).toBe('nothing-available');
      expect(values).toEqual([0, 1]);

      clock.advance(600);
      expect(poll()).toBe('nothing-available');
      expect(values).toEqual([0, 1, 2, 3, 4]);
      reader.close();
    });

    it('respects maxRecords and reports more-available while records are due', () => {
      const clock = new ManualClock(0);
      const { values, poll } = rateLimitedReader(100, 1, clock);
      clock.advance(0);
      poll(1);
      clock.advance(100);
      expect(poll(3)).toBe('more-available');
      expect(values).toEqual([0, 1, 2, 3]);
      expect(poll(100)).toBe('nothing-available');
      expect(values).toHaveLength(11);
    });

    it('catches up at most one second after a stall', () => {
      const clock = new ManualClock(0);
      const { values, poll } = rateLimitedReader(10, 1, clock);
      poll();
      clock.advance(60_000);
      poll();
      // The stall forgets all but the last second: its 10 slots plus the record due now.
      expect(values).toHaveLength(12);
      clock.advance(100);
      poll();
      expect(values).toHaveLength(13);
    });

    it('isAvailable resolves at once when a record is already due, and on close', async () => {
      const clock = new ManualClock(0);
      const { reader, poll } = rateLimitedReader(1, 1, clock);
      poll();
      const pending = reader.isAvailable();
      expect(reader.isAvailable()).toBe(pending);
      reader.close();
      await pending;
      clock.advance(5000);
      await reader.isAvailable();
    });
  });

  it('rejects invalid options', () => {
    expect(() => new DataGeneratorSource({ count: -1, generate })).toThrow(/count/);
    expect(() => new DataGeneratorSource({ ratePerSecond: 0, generate })).toThrow(/ratePerSecond/);
  });
});
