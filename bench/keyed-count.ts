/** Benchmark (b): a running count per key over 100,000 keys in ValueState, against a plain-JS loop with a Map. */
import { StreamExecutionEnvironment } from '../src/index.ts';
import { CountPerKey } from './count-per-key.ts';
import { type BenchCase, type Benchmark, type Checksum, CountingSink, seededInts } from './harness.ts';

/**
 * Distinct keys in the input, drawn uniformly. WEIR_BENCH_KEYS overrides it for analysis (with
 * few keys the state fits in the CPU caches, which shows the engine's own overhead).
 */
const KEY_COUNT = Number(process.env.WEIR_BENCH_KEYS ?? 100_000);
if (!Number.isSafeInteger(KEY_COUNT) || KEY_COUNT < 1) {
  throw new Error(`WEIR_BENCH_KEYS must be a positive integer, got '${process.env.WEIR_BENCH_KEYS}'`);
}

interface Click {
  readonly user: string;
  readonly amount: number;
}

const userOf = (click: Click): string => click.user;

/** The hand-written loop: the same counting in one Map, emitting into the same kind of totals. */
function plainLoop(data: readonly Click[]): Checksum {
  const counts = new Map<string, number>();
  let count = 0;
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const user = userOf(data[i]);
    const next = (counts.get(user) ?? 0) + 1;
    counts.set(user, next);
    count++;
    sum += next;
  }
  return { count, sum };
}

type Pipeline = 'source-only' | 'exchange-only' | 'count';

async function runEngine(data: readonly Click[], pipeline: Pipeline, parallelism: number): Promise<Checksum> {
  const env = StreamExecutionEnvironment.create({ parallelism });
  const source = env.fromCollection(data);
  if (pipeline === 'count') {
    const sink = new CountingSink();
    source
      .keyBy(userOf)
      .process(() => new CountPerKey<string, Click>())
      .sinkTo(sink);
    await env.execute('bench: keyed count');
    return sink.take();
  }
  const sink = new CountingSink<Click>((click) => click.amount);
  (pipeline === 'source-only' ? source : source.keyBy(userOf)).sinkTo(sink);
  await env.execute(`bench: keyed count (${pipeline})`);
  return sink.take();
}

export const keyedCount: Benchmark = {
  name: 'keyed-count',
  title: `(b) collection source → keyBy → ValueState count per key (${KEY_COUNT.toLocaleString('en')} keys) → counting sink`,
  recordsDefault: 2_000_000,
  headline: [
    { caseName: 'engine: keyed count, p=1', targetRatio: 0.3 },
    { caseName: 'engine: keyed count, p=2' },
  ],
  setup(records: number): readonly BenchCase[] {
    const next = seededInts(0x5eed_0002);
    const users = Array.from({ length: KEY_COUNT }, (_, i) => `user-${i}`);
    // Every key appears (even in a quick run): a shuffled pass over all keys, then uniform draws.
    for (let i = users.length - 1; i > 0; i--) {
      const j = next(i + 1);
      [users[i], users[j]] = [users[j], users[i]];
    }
    const data: Click[] = Array.from({ length: records }, (_, i) => ({
      user: i < KEY_COUNT ? users[i] : users[next(KEY_COUNT)],
      amount: next(100),
    }));
    let amountSum = 0;
    for (const click of data) amountSum += click.amount;
    const passThrough = { count: records, sum: amountSum };
    const expected = plainLoop(data);
    return [
      { name: 'plain-JS loop (Map)', reference: true, expected, run: () => plainLoop(data) },
      {
        name: 'engine: source → sink only',
        expected: passThrough,
        run: () => runEngine(data, 'source-only', 1),
      },
      {
        name: 'engine: keyBy → sink, no state',
        expected: passThrough,
        run: () => runEngine(data, 'exchange-only', 1),
      },
      { name: 'engine: keyed count, p=1', expected, run: () => runEngine(data, 'count', 1) },
      { name: 'engine: keyed count, p=2', expected, run: () => runEngine(data, 'count', 2) },
    ];
  },
};
