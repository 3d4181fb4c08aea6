/** Event-time windows (tumbling, sliding, session × reduce, aggregate, process) with late data, at p = 1, 2, 4, vs a reference. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AggregateFunction,
  type Collector,
  CollectSink,
  EventTimeSessionWindows,
  OutputTag,
  type SingleOutputStreamOf,
  type SingleOutputStreamOperator,
  SlidingEventTimeWindows,
  StreamExecutionEnvironment,
  type TimeWindow,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type WindowAssigner,
  type WindowedStream,
} from '../../src/index.ts';
import { multiset, PARALLELISMS } from './support.ts';
import {
  type Assignment,
  type Ev,
  eventsArb,
  type Firing,
  referenceWindows,
  session,
  sliding,
  tumbling,
} from './window-reference.ts';

interface Case {
  readonly assigner: WindowAssigner<Ev, TimeWindow>;
  readonly assignment: Assignment;
}

const CASES: Record<string, Case> = {
  'tumbling 20': { assigner: TumblingEventTimeWindows.of(20), assignment: tumbling(20) },
  'sliding 25/10': { assigner: SlidingEventTimeWindows.of(25, 10), assignment: sliding(25, 10) },
  'session gap 8': { assigner: EventTimeSessionWindows.withGap(8), assignment: session(8) },
};

interface SumCount {
  sum: number;
  count: number;
}

const sumCount: AggregateFunction<Ev, SumCount, SumCount> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (e, acc) => ({ sum: acc.sum + e.v, count: acc.count + 1 }),
  getResult: (acc) => acc,
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
};

type Windowed = WindowedStream<Ev, string, TimeWindow, SingleOutputStreamOf>;
/** The window operator's stream (for its side output) and its results as strings. */
type Built = { stream: Pick<SingleOutputStreamOperator<unknown>, 'getSideOutput'>; values: () => string[] };

/** Each window function, with how its output and the reference's firings are written as strings. */
const FUNCTIONS: Record<string, { build: (w: Windowed) => Built; expected: (f: Firing) => string }> = {
  reduce: {
    build: (w) => {
      const sink = new CollectSink<Ev>();
      const stream = w.reduce((a, b) => ({ key: a.key, v: a.v + b.v, ts: Math.max(a.ts, b.ts) }));
      stream.sinkTo(sink);
      return {
        stream,
        values: () => sink.records.map((r) => `${r.value.key} …${r.timestampMs! + 1} ${r.value.v}`),
      };
    },
    expected: (f) => `${f.key} …${f.end} ${f.sum}`,
  },
  'aggregate + process window function': {
    build: (w) => {
      const sink = new CollectSink<string>();
      const stream = w.aggregate(sumCount, (key: string, ctx, [r], out: Collector<string>) =>
        out.collect(`${key} [${ctx.window.start},${ctx.window.end}) ${r.sum}/${r.count}`),
      );
      stream.sinkTo(sink);
      return { stream, values: () => sink.records.map((r) => `${r.value} @${r.timestampMs}`) };
    },
    expected: (f) => `${f.key} [${f.start},${f.end}) ${f.sum}/${f.count} @${f.end - 1}`,
  },
  process: {
    build: (w) => {
      const sink = new CollectSink<string>();
      const stream = w.process<string>({
        process(key, ctx, elements, out) {
          const inside = elements.every((e) => e.ts >= ctx.window.start && e.ts < ctx.window.end);
          const sum = elements.reduce((s, e) => s + e.v, 0);
          out.collect(
            `${key} [${ctx.window.start},${ctx.window.end}) ${sum}/${elements.length}${inside ? '' : ' OUTSIDE'}`,
          );
        },
      });
      stream.sinkTo(sink);
      return { stream, values: () => sink.records.map((r) => `${r.value} @${r.timestampMs}`) };
    },
    expected: (f) => `${f.key} [${f.start},${f.end}) ${f.sum}/${f.count} @${f.end - 1}`,
  },
};

/**
 * One source subtask with per-event watermarks, so every window subtask sees its keys'
 * records interleaved with the same watermarks as the reference does, whatever the parallelism.
 */
function keyedEvents(env: StreamExecutionEnvironment, events: readonly Ev[], boundMs: number) {
  return env
    .fromCollection(events)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forBoundedOutOfOrderness<Ev>(boundMs)
        .withTimestampAssigner((e) => e.ts)
        .withEmitOnEvent(),
    )
    .setParallelism(1)
    .keyBy((e) => e.key);
}

describe.each(Object.entries(CASES))('event-time %s windows', (_name, { assigner, assignment }) => {
  it.each(Object.keys(FUNCTIONS))('%s: firings and late data match the reference', async (fnName) => {
    const fn = FUNCTIONS[fnName];
    await fc.assert(
      fc.asyncProperty(
        eventsArb,
        fc.constantFrom(0, 5),
        fc.constantFrom(0, 7, 25),
        async (events, boundMs, latenessMs) => {
          const reference = referenceWindows(events, assignment, boundMs, latenessMs);
          for (const parallelism of PARALLELISMS) {
            const env = new StreamExecutionEnvironment({ parallelism, autoWatermarkIntervalMs: 0 });
            const lateTag = new OutputTag<Ev>('late');
            const windowed = keyedEvents(env, events, boundMs)
              .window(assigner)
              .allowedLateness(latenessMs)
              .sideOutputLateData(lateTag);
            const built = fn.build(windowed);
            const lateSink = new CollectSink<Ev>();
            built.stream.getSideOutput(lateTag).sinkTo(lateSink);
            await env.execute('windows');
            const context = `p=${parallelism}, bound=${boundMs}, lateness=${latenessMs}`;
            expect(multiset(built.values()), context).toEqual(multiset(reference.firings.map(fn.expected)));
            expect(multiset(lateSink.values), context).toEqual(multiset(reference.late));
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
