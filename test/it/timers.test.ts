/** Keyed process functions with event-time timers (vs a reference) and processing-time timers and windows on a ManualClock. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Collector,
  CollectSink,
  type KeyedContext,
  type KeyedProcessFunction,
  ManualClock,
  type OnTimerContext,
  ProcessingTimeSessionWindows,
  type RuntimeContext,
  StreamExecutionEnvironment,
  TumblingProcessingTimeWindows,
  type ValueState,
  valueState,
  WatermarkStrategy,
} from '../../src/index.ts';
import { GatedSource, multiset, PARALLELISMS, waitFor } from './support.ts';
import { type Ev, eventsArb } from './window-reference.ts';

const TIMEOUT_MS = 15;

/**
 * A per-key session that ends TIMEOUT_MS of event time after the key's latest event. Each
 * event reports the watermark it saw; each expiry reports the session's event count. A newer
 * event deletes the previous expiry timer; an out-of-order event registers a timer that finds
 * the session extended and does nothing.
 */
class SessionTimeout implements KeyedProcessFunction<string, Ev, string> {
  last!: ValueState<number>;
  count!: ValueState<number>;

  open(context: RuntimeContext): void {
    this.last = context.getState(valueState<number>('last'));
    this.count = context.getState(valueState<number>('count', { defaultValue: 0 }));
  }

  processElement(e: Ev, ctx: KeyedContext<string>, out: Collector<string>): void {
    const timers = ctx.timerService();
    const last = this.last.value();
    const count = (this.count.value() ?? 0) + 1;
    out.collect(`${e.key} event ${count} ts=${ctx.timestamp()} wm=${timers.currentWatermark()}`);
    if (last === undefined || e.ts > last) {
      if (last !== undefined) timers.deleteEventTimeTimer(last + TIMEOUT_MS);
      this.last.update(e.ts);
    }
    timers.registerEventTimeTimer(e.ts + TIMEOUT_MS);
    this.count.update(count);
  }

  onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    if (ts !== this.last.value()! + TIMEOUT_MS) return;
    out.collect(`${ctx.getCurrentKey()} closed after ${this.count.value()} at ${ts} (${ctx.timeDomain()})`);
    this.last.clear();
    this.count.clear();
  }
}

/** The same rules over the events in source order, with the watermark after each event. */
function referenceSessions(events: readonly Ev[], boundMs: number): string[] {
  const out: string[] = [];
  const last = new Map<string, number>();
  const count = new Map<string, number>();
  const timers = new Map<string, Set<number>>();
  let watermark = Number.NEGATIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  const advance = (next: number): void => {
    const due: [string, number][] = [];
    for (const [key, set] of timers) for (const t of set) if (t <= next) due.push([key, t]);
    due.sort((a, b) => a[1] - b[1]);
    watermark = next;
    for (const [key, t] of due) {
      timers.get(key)!.delete(t);
      if (t !== last.get(key)! + TIMEOUT_MS) continue;
      out.push(`${key} closed after ${count.get(key)} at ${t} (event-time)`);
      last.delete(key);
      count.delete(key);
    }
  };
  for (const e of events) {
    const n = (count.get(e.key) ?? 0) + 1;
    out.push(`${e.key} event ${n} ts=${e.ts} wm=${watermark}`);
    const keyTimers = timers.get(e.key) ?? new Set<number>();
    timers.set(e.key, keyTimers);
    const previous = last.get(e.key);
    if (previous === undefined || e.ts > previous) {
      if (previous !== undefined) keyTimers.delete(previous + TIMEOUT_MS);
      last.set(e.key, e.ts);
    }
    keyTimers.add(e.ts + TIMEOUT_MS);
    count.set(e.key, n);
    maxTs = Math.max(maxTs, e.ts);
    if (maxTs - boundMs - 1 > watermark) advance(maxTs - boundMs - 1);
  }
  advance(Number.POSITIVE_INFINITY);
  return out;
}

describe('event-time timers', () => {
  it('per-key session timeouts match the reference, and each record sees the reference watermark', async () => {
    await fc.assert(
      fc.asyncProperty(eventsArb, fc.constantFrom(0, 5), async (events, boundMs) => {
        const expected = multiset(referenceSessions(events, boundMs));
        for (const parallelism of PARALLELISMS) {
          const env = new StreamExecutionEnvironment({ parallelism, autoWatermarkIntervalMs: 0 });
          const sink = new CollectSink<string>();
          env
            .fromCollection(events)
            .assignTimestampsAndWatermarks(
              WatermarkStrategy.forBoundedOutOfOrderness<Ev>(boundMs)
                .withTimestampAssigner((e) => e.ts)
                .withEmitOnEvent(),
            )
            .setParallelism(1)
            .keyBy((e) => e.key)
            .process(() => new SessionTimeout())
            .sinkTo(sink);
          await env.execute('session timeouts');
          expect(multiset(sink.values), `p=${parallelism}, bound=${boundMs}`).toEqual(expected);
        }
      }),
      { numRuns: 30 },
    );
  });
});

interface Click {
  readonly user: string;
  readonly n: number;
}

/** Counts clicks; the first click of a user starts a 100 ms processing-time timer, users named 'x…' cancel it. */
class ProcessingTimeReport implements KeyedProcessFunction<string, Click, string> {
  count!: ValueState<number>;

  open(context: RuntimeContext): void {
    this.count = context.getState(valueState<number>('count', { defaultValue: 0 }));
  }

  processElement(click: Click, ctx: KeyedContext<string>, out: Collector<string>): void {
    const timers = ctx.timerService();
    const count = (this.count.value() ?? 0) + 1;
    this.count.update(count);
    if (count === 1) {
      const at = timers.currentProcessingTime() + 100;
      timers.registerProcessingTimeTimer(at);
      timers.registerProcessingTimeTimer(at); // registering twice still fires once
      if (click.user.startsWith('x')) timers.deleteProcessingTimeTimer(at);
    }
    out.collect(`seen ${click.user} ${click.n}`);
  }

  onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    out.collect(`${ctx.getCurrentKey()}: ${this.count.value()} clicks at ${ts} (${ctx.timeDomain()})`);
  }
}

describe('processing-time timers on a ManualClock', () => {
  it.each(PARALLELISMS)(
    'fire exactly when the clock reaches them, once, unless deleted (p=%i)',
    async (parallelism) => {
      const users = ['ann', 'bob', 'cyd', 'xavier', 'dee', 'xena', 'eve'];
      const clicks: Click[] = Array.from({ length: 200 }, (_, n) => ({
        user: users[(n * 7 + (n >> 3)) % 7],
        n,
      }));
      const clock = new ManualClock(1_000);
      const source = new GatedSource(clicks);
      const env = new StreamExecutionEnvironment({ parallelism, clock });
      const sink = new CollectSink<string>();
      env
        .fromSource(source, undefined, 'Source: Clicks')
        .keyBy((c) => c.user)
        .process(() => new ProcessingTimeReport())
        .sinkTo(sink);
      const client = env.executeAsync('processing-time timers');

      await waitFor(() => sink.values.length === clicks.length, 'every click to be processed');
      clock.advance(99);
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(sink.values.length, 'no timer fires before its time').toBe(clicks.length);

      clock.advance(1);
      const reporting = users.filter((u) => !u.startsWith('x'));
      await waitFor(() => sink.values.length === clicks.length + reporting.length, 'the timers to fire');
      source.release();
      await client.result();

      const countOf = (user: string) => clicks.filter((c) => c.user === user).length;
      expect(multiset(sink.values)).toEqual(
        multiset([
          ...clicks.map((c) => `seen ${c.user} ${c.n}`),
          ...reporting.map((u) => `${u}: ${countOf(u)} clicks at 1100 (processing-time)`),
        ]),
      );
      expect(
        sink.records.filter((r) => r.value.includes('clicks at')).every((r) => r.timestampMs === undefined),
      ).toBe(true);
    },
  );
});

describe('processing-time windows on a clock that does not move', () => {
  const clicks: Click[] = Array.from({ length: 300 }, (_, n) => ({ user: `u${(n * 13) % 11}`, n }));
  const expected = (describeWindow: (user: string) => string) => {
    const sums = new Map<string, number>();
    for (const c of clicks) sums.set(c.user, (sums.get(c.user) ?? 0) + c.n);
    return multiset([...sums].map(([user, sum]) => `${user} ${describeWindow(user)} ${sum}`));
  };

  it.each(PARALLELISMS)('tumbling: one window per key, fired at end of input (p=%i)', async (parallelism) => {
    const env = new StreamExecutionEnvironment({ parallelism, clock: new ManualClock(5_500) });
    const sink = new CollectSink<string>();
    env
      .fromCollection(clicks)
      .keyBy((c) => c.user)
      .window(TumblingProcessingTimeWindows.of(1_000))
      .aggregate(
        {
          createAccumulator: () => 0,
          add: (c: Click, sum: number) => sum + c.n,
          getResult: (sum: number) => sum,
          merge: (a: number, b: number) => a + b,
        },
        (user: string, ctx, [sum], out: Collector<string>) =>
          out.collect(`${user} [${ctx.window.start},${ctx.window.end}) ${sum}`),
      )
      .sinkTo(sink);
    await env.execute('processing-time tumbling');
    expect(multiset(sink.values)).toEqual(expected(() => '[5000,6000)'));
  });

  it.each(PARALLELISMS)('session: one session per key, fired at end of input (p=%i)', async (parallelism) => {
    const env = new StreamExecutionEnvironment({ parallelism, clock: new ManualClock(5_500) });
    const sink = new CollectSink<string>();
    env
      .fromCollection(clicks)
      .keyBy((c) => c.user)
      .window(ProcessingTimeSessionWindows.withGap(300))
      .process<string>((user, ctx, elements, out) =>
        out.collect(
          `${user} [${ctx.window.start},${ctx.window.end}) ${elements.reduce((s, c) => s + c.n, 0)}`,
        ),
      )
      .sinkTo(sink);
    await env.execute('processing-time sessions');
    expect(multiset(sink.values)).toEqual(expected(() => '[5500,5800)'));
  });
});
