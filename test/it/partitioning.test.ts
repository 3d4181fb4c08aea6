/** Partitioners, union and chaining: each record reaches the right subtasks the right number of times. */
import { describe, expect, it } from 'vitest';
import {
  type Collector,
  CollectSink,
  type DataStream,
  OutputTag,
  type ProcessFunction,
  StreamExecutionEnvironment,
} from '../../src/index.ts';
import { groupInOrder, multiset, PARALLELISMS, sortedEntries, TagSubtask } from './support.ts';

interface Tagged {
  readonly i: number;
  readonly from: number;
  readonly to: number;
}

const RECORDS = 400;

/** Generator and a map tagging the producer subtask, `partition`, then a map tagging the consumer subtask. */
async function route(
  producers: number,
  consumers: number,
  partition: (s: DataStream<{ i: number; from: number }>) => DataStream<{ i: number; from: number }>,
): Promise<Tagged[]> {
  const env = new StreamExecutionEnvironment({ parallelism: producers });
  const sink = new CollectSink<Tagged>();
  const produced = env
    .fromGenerator({ count: RECORDS, generate: (i) => i })
    .map(new TagSubtask<number, { i: number; from: number }>((i, from) => ({ i, from })));
  partition(produced)
    .map(new TagSubtask<{ i: number; from: number }, Tagged>((r, to) => ({ ...r, to })))
    .setParallelism(consumers)
    .sinkTo(sink);
  await env.execute('routing');
  return [...sink.values];
}

const timesSeen = (records: readonly Tagged[]) => {
  const counts = new Map<number, number>();
  for (const r of records) counts.set(r.i, (counts.get(r.i) ?? 0) + 1);
  return counts;
};

const expectEachOnce = (records: readonly Tagged[], context: string) => {
  const counts = timesSeen(records);
  expect(counts.size, context).toBe(RECORDS);
  expect(
    [...counts.values()].every((n) => n === 1),
    context,
  ).toBe(true);
};

/** Consumers of producer `from` under rescale: a contiguous share of the consumers, as in Flink. */
function rescaleTargets(producers: number, consumers: number, from: number): number[] {
  if (producers >= consumers) return [Math.floor((from * consumers) / producers)];
  const targets: number[] = [];
  for (let to = 0; to < consumers; to++) {
    if (Math.floor((to * producers) / consumers) === from) targets.push(to);
  }
  return targets;
}

const PAIRS = PARALLELISMS.flatMap((p1) => PARALLELISMS.map((p2) => [p1, p2] as const));

describe.each(PAIRS)('from %i producer(s) to %i consumer(s)', (producers, consumers) => {
  const context = `${producers} -> ${consumers}`;

  it('rebalance: each record once, round-robin per producer', async () => {
    const records = await route(producers, consumers, (s) => s.rebalance());
    expectEachOnce(records, context);
    for (const [from, mine] of groupInOrder(records, (r) => r.from)) {
      const perConsumer = Array.from(
        { length: consumers },
        (_, to) => mine.filter((r) => r.to === to).length,
      );
      expect(
        Math.max(...perConsumer) - Math.min(...perConsumer),
        `${context}, producer ${from}`,
      ).toBeLessThanOrEqual(1);
    }
  });

  it('rescale: each record once, only to the producer’s local share of consumers', async () => {
    const records = await route(producers, consumers, (s) => s.rescale());
    expectEachOnce(records, context);
    for (const [from, mine] of groupInOrder(records, (r) => r.from)) {
      const used = [...new Set(mine.map((r) => r.to))].sort();
      expect(used, `${context}, producer ${from}`).toEqual(rescaleTargets(producers, consumers, from));
    }
  });

  it('shuffle: each record once', async () => {
    const records = await route(producers, consumers, (s) => s.shuffle());
    expectEachOnce(records, context);
    expect(new Set(records.map((r) => r.to)).size, context).toBe(consumers);
  });

  it('broadcast: each record once at every consumer', async () => {
    const records = await route(producers, consumers, (s) => s.broadcast());
    for (let to = 0; to < consumers; to++)
      expectEachOnce(
        records.filter((r) => r.to === to),
        `${context} @${to}`,
      );
    expect(records.length).toBe(RECORDS * consumers);
  });

  it('global: each record once, all at the first consumer', async () => {
    const records = await route(producers, consumers, (s) => s.global());
    expectEachOnce(records, context);
    expect(
      records.every((r) => r.to === 0),
      context,
    ).toBe(true);
  });

  it('keyBy: each record once, every key at one consumer', async () => {
    const records = await route(producers, consumers, (s) => s.keyBy((r) => r.i % 37));
    expectEachOnce(records, context);
    for (const [key, mine] of groupInOrder(records, (r) => r.i % 37)) {
      expect(new Set(mine.map((r) => r.to)).size, `${context}, key ${key}`).toBe(1);
    }
  });

  it('no partitioner: forward at equal parallelism, else rebalance', async () => {
    const records = await route(producers, consumers, (s) => s);
    expectEachOnce(records, context);
    if (producers === consumers)
      expect(
        records.every((r) => r.to === r.from),
        context,
      ).toBe(true);
    else expect(new Set(records.map((r) => r.to)).size, context).toBe(consumers);
  });

  it(
    producers === consumers
      ? 'forward: each record once, to the consumer of the same index'
      : 'forward: rejected with an error that names both operators and the fix',
    async () => {
      const run = route(producers, consumers, (s) => s.forward());
      if (producers !== consumers) {
        await expect(run).rejects.toThrow(
          new RegExp(
            `forward\\(\\) from 'Map' \\(parallelism ${producers}\\) to 'Map' \\(parallelism ${consumers}\\) needs equal parallelism; use rebalance\\(\\) or rescale\\(\\)`,
          ),
        );
        return;
      }
      const records = await run;
      expectEachOnce(records, context);
      expect(
        records.every((r) => r.to === r.from),
        context,
      ).toBe(true);
    },
  );
});

describe('union', () => {
  it.each(PARALLELISMS)('delivers every record of every input once (p=%i)', async (parallelism) => {
    const env = new StreamExecutionEnvironment({ parallelism });
    const sink = new CollectSink<string>();
    const a = env.fromCollection(Array.from({ length: 100 }, (_, i) => `a${i}`));
    const b = env.fromGenerator({ count: 250, generate: (i) => `b${i}` });
    const c = env.fromElements('c0', 'c1', 'c2').map((s) => s.toUpperCase());
    a.union(b, c)
      .map((s) => `${s}!`)
      .sinkTo(sink);
    await env.execute('union');
    const expected = [
      ...Array.from({ length: 100 }, (_, i) => `a${i}!`),
      ...Array.from({ length: 250 }, (_, i) => `b${i}!`),
      'C0!',
      'C1!',
      'C2!',
    ];
    expect(multiset(sink.values)).toEqual(multiset(expected));
  });

  it.each(PARALLELISMS)('of a stream with itself delivers every record twice (p=%i)', async (parallelism) => {
    const env = new StreamExecutionEnvironment({ parallelism });
    const sink = new CollectSink<number>();
    const numbers = env.fromGenerator({ count: 50, generate: (i) => i });
    numbers
      .union(numbers)
      .keyBy((n) => n % 3)
      .map((n) => n)
      .sinkTo(sink);
    await env.execute('self union');
    expect(multiset(sink.values)).toEqual(multiset(Array.from({ length: 100 }, (_, i) => i >> 1)));
  });
});

describe('operator chaining', () => {
  const odd = new OutputTag<string>('odd');

  /** A pipeline with chains of every kind; its outputs must not depend on how it is chained. */
  function build(env: StreamExecutionEnvironment, variant: string) {
    const main = new CollectSink<string>();
    const side = new CollectSink<string>();
    let words = env
      .fromGenerator({ count: 600, generate: (i) => `w${i % 23} x${i}` })
      .map((line) => line.toUpperCase())
      .filter((line) => !line.endsWith('7'))
      .flatMap((line: string, out: Collector<string>) => {
        for (const w of line.split(' ')) out.collect(w);
      });
    if (variant === 'startNewChain') words = words.startNewChain();
    if (variant === 'disableChaining') words = words.disableChaining();
    const splitter: ProcessFunction<[string, number], string> = {
      processElement([word, n], ctx, out) {
        if (n % 2 === 1) ctx.output(odd, `${word}:${n}`);
        else out.collect(`${word}=${n}`);
      },
    };
    const counted = words
      .map((w): [string, number] => [w, 1])
      .keyBy(([w]) => w)
      .sum('1')
      .process(splitter);
    counted.map((s) => s.toLowerCase()).sinkTo(main);
    counted.getSideOutput(odd).sinkTo(side);
    return { main, side };
  }

  function reference() {
    const counts = new Map<string, number>();
    const main: string[] = [];
    const side: string[] = [];
    for (let i = 0; i < 600; i++) {
      const line = `w${i % 23} x${i}`.toUpperCase();
      if (line.endsWith('7')) continue;
      for (const w of line.split(' ')) {
        const n = (counts.get(w) ?? 0) + 1;
        counts.set(w, n);
        if (n % 2 === 1) side.push(`${w}:${n}`);
        else main.push(`${w}=${n}`.toLowerCase());
      }
    }
    return { main: multiset(main), side: multiset(side) };
  }

  const VARIANTS = [
    'chained',
    'env option chaining: false',
    'disableOperatorChaining()',
    'startNewChain',
    'disableChaining',
  ];

  it.each(PARALLELISMS)('gives identical results chained or not (p=%i)', async (parallelism) => {
    const expected = reference();
    for (const variant of VARIANTS) {
      const env = new StreamExecutionEnvironment({
        parallelism,
        chaining: variant !== 'env option chaining: false',
      });
      if (variant === 'disableOperatorChaining()') env.disableOperatorChaining();
      const { main, side } = build(env, variant);
      await env.execute(variant);
      expect(multiset(main.values), `${variant}, p=${parallelism}`).toEqual(expected.main);
      expect(multiset(side.values), `${variant}, p=${parallelism}`).toEqual(expected.side);
    }
  });

  it('keeps per-key order whatever the chaining', async () => {
    const orders: [string, string[]][][] = [];
    for (const variant of VARIANTS) {
      const env = new StreamExecutionEnvironment({
        parallelism: 4,
        chaining: variant !== 'env option chaining: false',
      });
      if (variant === 'disableOperatorChaining()') env.disableOperatorChaining();
      const { main } = build(env, variant);
      await env.execute(variant);
      orders.push(sortedEntries(groupInOrder(main.values, (s) => s.split('=')[0])));
    }
    for (const order of orders.slice(1)) expect(order).toEqual(orders[0]);
  });
});
