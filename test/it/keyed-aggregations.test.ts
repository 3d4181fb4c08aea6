/** Running keyed reduce, sum, min, max, minBy, maxBy and aggregate at p = 1, 2, 4, per key in order, vs a reference. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AggregateFunction,
  CollectSink,
  type KeyedStream,
  StreamExecutionEnvironment,
} from '../../src/index.ts';
import { groupInOrder, PARALLELISMS, sortedEntries } from './support.ts';

interface Reading {
  readonly sensor: string;
  readonly value: number;
  readonly seq: number;
}

/** The running results of one key under a reduce: the first record, then each reduction in order. */
function running(reduce: (acc: Reading, next: Reading) => Reading) {
  return (readings: readonly Reading[]): Reading[] => {
    const out: Reading[] = [];
    for (const r of readings) out.push(out.length === 0 ? r : reduce(out[out.length - 1], r));
    return out;
  };
}

/** Sum and count; the result names the key, so results can be told apart by key. */
const avg: AggregateFunction<Reading, { sensor: string; sum: number; n: number }, string> = {
  createAccumulator: () => ({ sensor: '', sum: 0, n: 0 }),
  add: (r, acc) => ({ sensor: r.sensor, sum: acc.sum + r.value, n: acc.n + 1 }),
  getResult: (acc) => `${acc.sensor} ${acc.sum}/${acc.n}`,
  merge: (a, b) => ({ sensor: a.sensor, sum: a.sum + b.sum, n: a.n + b.n }),
};

/** Each aggregation: how to add it to a keyed stream, and the same rule as a plain reduce. */
const AGGREGATIONS: Record<
  string,
  {
    apply: (keyed: KeyedStream<Reading, string>, sink: CollectSink<unknown>) => void;
    reference: (readings: readonly Reading[]) => unknown[];
  }
> = {
  'reduce (sum and last seq)': {
    apply: (k, sink) =>
      k.reduce((a, b) => ({ sensor: a.sensor, value: a.value + b.value, seq: b.seq })).sinkTo(sink),
    reference: running((a, b) => ({ sensor: a.sensor, value: a.value + b.value, seq: b.seq })),
  },
  // Flink's rule: sum/min/max update the field of the key's FIRST record; minBy/maxBy keep a whole record.
  sum: {
    apply: (k, sink) => k.sum('value').sinkTo(sink),
    reference: running((a, b) => ({ ...a, value: a.value + b.value })),
  },
  min: {
    apply: (k, sink) => k.min('value').sinkTo(sink),
    reference: running((a, b) => ({ ...a, value: Math.min(a.value, b.value) })),
  },
  max: {
    apply: (k, sink) => k.max('value').sinkTo(sink),
    reference: running((a, b) => ({ ...a, value: Math.max(a.value, b.value) })),
  },
  minBy: {
    apply: (k, sink) => k.minBy('value').sinkTo(sink),
    reference: running((a, b) => (b.value < a.value ? b : a)),
  },
  maxBy: {
    apply: (k, sink) => k.maxBy('value').sinkTo(sink),
    reference: running((a, b) => (b.value > a.value ? b : a)),
  },
  aggregate: {
    apply: (k, sink) => k.aggregate(avg).sinkTo(sink),
    reference: (readings) => {
      let acc = avg.createAccumulator();
      return readings.map((r) => {
        acc = avg.add(r, acc);
        return avg.getResult(acc);
      });
    },
  },
};

const readingsArb: fc.Arbitrary<Reading[]> = fc
  .array(
    fc.record({
      sensor: fc.constantFrom('s1', 's2', 's3', 's4', 's5'),
      value: fc.integer({ min: -50, max: 50 }),
    }),
    { maxLength: 120 },
  )
  .map((rs) => rs.map((r, seq) => ({ ...r, seq })));

const keyOfResult = (value: unknown): string =>
  typeof value === 'string' ? value.split(' ')[0] : (value as Reading).sensor;

describe.each(Object.entries(AGGREGATIONS))('keyed %s', (_name, { apply, reference }) => {
  it('emits the running result of each key, in order, like the reference', async () => {
    await fc.assert(
      fc.asyncProperty(readingsArb, async (readings) => {
        const bySensor = groupInOrder(readings, (r) => r.sensor);
        const expected = sortedEntries(new Map([...bySensor].map(([s, rs]) => [s, reference(rs)])));
        for (const parallelism of PARALLELISMS) {
          const env = new StreamExecutionEnvironment({ parallelism });
          const sink = new CollectSink<unknown>();
          apply(
            env.fromCollection(readings).keyBy((r) => r.sensor),
            sink,
          );
          await env.execute('keyed aggregation');
          // One key's results come from one subtask, in order, interleaved with other keys'.
          const actual = sortedEntries(groupInOrder(sink.values, keyOfResult));
          expect(actual, `p=${parallelism}`).toEqual(expected);
        }
      }),
      { numRuns: 20 },
    );
  });
});
