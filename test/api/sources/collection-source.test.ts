/** Tests of CollectionSource: arrays and iterables, one split, and exact resume by element count. */
import { describe, expect, it } from 'vitest';
import { CollectionSource } from '../../../src/api/sources/collection-source.ts';
import { drainReader, readerOutput, readInParallel, readSplits, startReader } from './drain-reader.ts';

function* letters(): Generator<string> {
  yield* ['a', 'b', 'c', 'd', 'e'];
}

/** Re-iterable, unlike a generator object, so it can be restored. */
const iterable: Iterable<string> = { [Symbol.iterator]: letters };

describe('CollectionSource', () => {
  for (const [name, elements] of [
    ['an array', ['a', 'b', 'c', 'd', 'e']],
    ['an iterable', iterable],
  ] as const) {
    it(`emits ${name} in order, in batches`, async () => {
      const [values] = await readInParallel(new CollectionSource(elements), 1, { maxRecords: 2 });
      expect(values).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it(`resumes ${name} from a snapshot at every position`, async () => {
      const source = new CollectionSource(elements);
      for (let polls = 0; polls <= 5; polls++) {
        const reader = source.createReader();
        startReader(reader, source.createSplits(1));
        const head = await drainReader(reader, { pollsMax: polls, maxRecords: 1 });
        const snapshot = reader.snapshotSplits(1);
        reader.close();
        const tail = await readSplits(source, snapshot);
        expect([...head.map((e) => e.value), ...tail]).toEqual(['a', 'b', 'c', 'd', 'e']);
      }
    });
  }

  it('has a single split whatever the parallelism; other subtasks end at once', async () => {
    const source = new CollectionSource([1, 2, 3]);
    expect(source.maxParallelism).toBe(1);
    expect(source.createSplits(4)).toEqual([{ splitId: 'collection', position: 0 }]);
    expect(await readSplits(source, [])).toEqual([]);
  });

  it('reports the position as the index, and nothing once finished', async () => {
    const source = new CollectionSource([1, 2, 3]);
    const reader = source.createReader();
    startReader(reader, [{ splitId: 'collection', position: 1 }]);
    expect(
      reader.pollNext(
        readerOutput(() => {}),
        1,
      ),
    ).toBe('more-available');
    expect(reader.snapshotSplits(1)).toEqual([{ splitId: 'collection', position: 2 }]);
    expect(
      reader.pollNext(
        readerOutput(() => {}),
        5,
      ),
    ).toBe('end-of-input');
    expect(reader.snapshotSplits(1)).toEqual([]);
  });

  it('fails to restore an iterable past its end', () => {
    const reader = new CollectionSource(iterable).createReader();
    expect(() => startReader(reader, [{ splitId: 'collection', position: 9 }])).toThrow(/only 5/);
  });
});
