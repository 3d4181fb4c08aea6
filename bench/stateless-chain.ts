/** Benchmark (a): a stateless map → filter → map chain against the same work as a plain-JS loop. */
import { StreamExecutionEnvironment } from '../src/index.ts';
import { type BenchCase, type Benchmark, type Checksum, CountingSink, seededInts } from './harness.ts';

// The same three functions run in the engine and in the reference loop.
const scale = (x: number): number => x * 3 + 1;
const keep = (x: number): boolean => x % 4 !== 0;
const shift = (x: number): number => x - 7;

/** The hand-written loop: what the chain computes, with no engine in between. */
function plainLoop(data: readonly number[]): Checksum {
  let count = 0;
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const scaled = scale(data[i]);
    if (!keep(scaled)) continue;
    count++;
    sum += shift(scaled);
  }
  return { count, sum };
}

async function runEngine(data: readonly number[], chain: boolean): Promise<Checksum> {
  const env = StreamExecutionEnvironment.create({ parallelism: 1 });
  const sink = new CountingSink();
  const source = env.fromCollection(data);
  const out = chain ? source.map(scale).filter(keep).map(shift) : source;
  out.sinkTo(sink);
  await env.execute('bench: stateless chain');
  return sink.take();
}

export const statelessChain: Benchmark = {
  name: 'stateless-chain',
  title: '(a) collection source → map → filter → map → counting sink, parallelism 1',
  recordsDefault: 5_000_000,
  headline: [{ caseName: 'engine: map → filter → map' }],
  setup(records: number): readonly BenchCase[] {
    const next = seededInts(0x5eed_0001);
    const data = Array.from({ length: records }, () => next(1_000_000));
    let inputSum = 0;
    for (const x of data) inputSum += x;
    const expected = plainLoop(data);
    return [
      { name: 'plain-JS loop', reference: true, expected, run: () => plainLoop(data) },
      {
        name: 'engine: source → sink only',
        expected: { count: records, sum: inputSum },
        run: () => runEngine(data, false),
      },
      { name: 'engine: map → filter → map', expected, run: () => runEngine(data, true) },
    ];
  },
};
