import { describe, expect, it } from 'vitest';
import {
  maxAggregation,
  maxByAggregation,
  minAggregation,
  minByAggregation,
  sumAggregation,
} from '../../../src/api/aggregations.ts';
import { KeyedReduceOperator } from '../../../src/api/operators/keyed-reduce-operator.ts';
import { TaskFailure } from '../../../src/core/errors.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

interface Reading {
  readonly sensor: string;
  readonly temp: number;
  readonly at: number;
}

const readings: Reading[] = [
  { sensor: 's', temp: 20, at: 1 },
  { sensor: 's', temp: 15, at: 2 },
  { sensor: 's', temp: 25, at: 3 },
  { sensor: 's', temp: 15, at: 4 },
  { sensor: 's', temp: 25, at: 5 },
];

/** Runs an aggregation as KeyedStream does: a keyed reduce. */
async function run<T>(fn: (a: T, b: T) => T, input: readonly T[], key: (t: T) => unknown = () => 'k') {
  const h = new OperatorHarness(new KeyedReduceOperator<T>(fn), { keySelector: key, operatorName: 'Agg' });
  await h.open();
  for (const value of input) h.processElement(value);
  return h.values();
}

describe('aggregations on numbers', () => {
  it('sum/min/max without a field', async () => {
    expect(await run(sumAggregation<number>(), [1, 2, 3])).toEqual([1, 3, 6]);
    expect(await run(minAggregation<number>(), [3, 1, 2])).toEqual([3, 1, 1]);
    expect(await run(maxAggregation<number>(), [1, 3, 2])).toEqual([1, 3, 3]);
    expect(await run(sumAggregation<bigint>(), [1n, 2n])).toEqual([1n, 3n]);
  });

  it('keeps one running value per key', async () => {
    expect(await run(sumAggregation<number>(), [1, 2, 3, 4], (n) => n % 2)).toEqual([1, 2, 4, 6]);
  });
});

describe('aggregations on a field', () => {
  it('sum replaces the field on the first record and leaves the others', async () => {
    const out = await run(sumAggregation<Reading>('temp'), readings.slice(0, 3));
    expect(out).toEqual([
      { sensor: 's', temp: 20, at: 1 },
      { sensor: 's', temp: 35, at: 1 },
      { sensor: 's', temp: 60, at: 1 },
    ]);
  });

  it('min/max keep the first record with the extreme value in the field (Flink semantics)', async () => {
    expect((await run(minAggregation<Reading>('temp'), readings)).map((r) => [r.temp, r.at])).toEqual([
      [20, 1],
      [15, 1],
      [15, 1],
      [15, 1],
      [15, 1],
    ]);
    expect((await run(maxAggregation<Reading>('temp'), readings)).map((r) => [r.temp, r.at])).toEqual([
      [20, 1],
      [20, 1],
      [25, 1],
      [25, 1],
      [25, 1],
    ]);
  });

  it('minBy/maxBy return the whole record; the first wins on ties unless first=false', async () => {
    const at = (rs: Reading[]) => rs.map((r) => r.at);
    expect(at(await run(minByAggregation<Reading>('temp'), readings))).toEqual([1, 2, 2, 2, 2]);
    expect(at(await run(minByAggregation<Reading>('temp', false), readings))).toEqual([1, 2, 2, 4, 4]);
    expect(at(await run(maxByAggregation<Reading>('temp'), readings))).toEqual([1, 1, 3, 3, 3]);
    expect(at(await run(maxByAggregation<Reading>('temp', false), readings))).toEqual([1, 1, 3, 3, 5]);
  });

  it('never mutates the records it is given', async () => {
    const input = readings.map((r) => Object.freeze({ ...r }));
    await expect(run(sumAggregation<Reading>('temp'), input)).resolves.toHaveLength(5);
  });

  it('works on tuple positions and keeps class prototypes', async () => {
    expect(
      await run(sumAggregation<[string, number]>('1'), [
        ['a', 1],
        ['a', 2],
      ]),
    ).toEqual([
      ['a', 1],
      ['a', 3],
    ]);
    class Point {
      x: number;
      constructor(x: number) {
        this.x = x;
      }
      twice(): number {
        return this.x * 2;
      }
    }
    const [, sum] = await run(sumAggregation<Point>('x'), [new Point(1), new Point(2)]);
    expect(sum).toBeInstanceOf(Point);
    expect(sum.twice()).toBe(6);
  });

  it('only accepts numeric fields at compile time', () => {
    // @ts-expect-error sensor is a string field
    sumAggregation<Reading>('sensor');
    // @ts-expect-error no such field
    maxByAggregation<Reading>('nope');
  });
});

describe('aggregation errors name the field', () => {
  async function failure(fn: (a: unknown, b: unknown) => unknown, input: unknown[]): Promise<Error> {
    try {
      await run(fn, input);
    } catch (error) {
      expect(error).toBeInstanceOf(TaskFailure);
      expect((error as Error).message).toContain("operator 'Agg'");
      return error as Error;
    }
    throw new Error('expected a failure');
  }

  it('reports a missing field', async () => {
    const e = await failure(sumAggregation<Reading>('temp') as never, [{ temp: 1 }, { other: 2 }]);
    expect(e.message).toMatch(/sum\('temp'\): the record has no field 'temp'/);
  });

  it('reports a non-numeric field', async () => {
    const e = await failure(minByAggregation<Reading>('temp') as never, [{ temp: 1 }, { temp: '2' }]);
    expect(e.message).toMatch(/minBy\('temp'\): field 'temp' is not numeric \(it is a string\)/);
  });

  it('reports records that are not numbers when no field is given', async () => {
    const e = await failure(maxAggregation<number>() as never, [{ n: 1 }, { n: 2 }]);
    expect(e.message).toMatch(/max\(\) without a field needs a stream of numbers/);
  });

  it('reports mixing numbers and bigints in a sum', async () => {
    const e = await failure(sumAggregation<number>() as never, [1, 2n]);
    expect(e.message).toMatch(/cannot add a number and a bigint/);
  });
});
