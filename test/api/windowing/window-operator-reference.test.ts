import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventTimeSessionWindows } from '../../../src/api/windowing/assigners/session-windows.ts';
import { SlidingEventTimeWindows } from '../../../src/api/windowing/assigners/sliding-windows.ts';
import { TumblingEventTimeWindows } from '../../../src/api/windowing/assigners/tumbling-windows.ts';
import type { ProcessWindowFunction } from '../../../src/api/windowing/process-window-function.ts';
import type { TimeWindow } from '../../../src/api/windowing/time-window.ts';
import type { WindowAssigner } from '../../../src/api/windowing/window-assigner.ts';
import { createWindowOperator } from '../../../src/api/windowing/window-operator.ts';
import type { WindowFunctionSpec } from '../../../src/api/windowing/window-operator-spec.ts';
import { MAX_WATERMARK } from '../../../src/runtime/elements.ts';
import { OutputTag } from '../../../src/runtime/output.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

/** Window tests against plain-JS reference computations of Flink's semantics. */

interface Ev {
  readonly key: string;
  readonly v: number;
  readonly ts: number;
}

type Step =
  | { readonly kind: 'event'; readonly event: Ev }
  | { readonly kind: 'watermark'; readonly ts: number };

const LATE = new OutputTag<Ev>('late');
const describeWindow = (key: string, w: TimeWindow, sum: number) => `${key} [${w.start},${w.end}) ${sum}`;

/** Three ways to compute a window's sum; all must give the same results. */
const functions: Record<string, WindowFunctionSpec<Ev, string, string, TimeWindow>> = {
  'reduce + process': {
    kind: 'reduce',
    reduce: (a, b) => ({ key: a.key, v: a.v + b.v, ts: Math.max(a.ts, b.ts) }),
    process: { process: (key, ctx, [e], out) => out.collect(describeWindow(key, ctx.window, e.v)) },
  },
  'aggregate + process': {
    kind: 'aggregate',
    aggregate: {
      createAccumulator: () => 0,
      add: (e: Ev, acc: number) => acc + e.v,
      getResult: (acc: number) => acc,
      merge: (a: number, b: number) => a + b,
    } as never,
    process: {
      process: (key, ctx, [sum], out) => out.collect(describeWindow(key, ctx.window, sum as number)),
    } satisfies ProcessWindowFunction<unknown, string, string, TimeWindow>,
  },
  process: {
    kind: 'process',
    process: {
      process: (key, ctx, events, out) =>
        out.collect(
          describeWindow(
            key,
            ctx.window,
            events.reduce((s, e) => s + e.v, 0),
          ),
        ),
    },
  },
};

/**
 * Flink's semantics for fixed (tumbling/sliding) event-time windows with allowed lateness,
 * written as a direct simulation: per window a sum; fire when the watermark reaches the end;
 * an element for a fired-but-kept window re-fires it at once; state goes at end + lateness.
 * Returns the outputs between consecutive watermarks ("segments"), each sorted.
 */
function referenceFixed(
  steps: readonly Step[],
  windowsOf: (ts: number) => [number, number][],
  latenessMs: number,
): { segments: string[][]; late: Ev[] } {
  const sums = new Map<string, { key: string; start: number; end: number; sum: number }>();
  const segments: string[][] = [[]];
  const late: Ev[] = [];
  let wm = Number.NEGATIVE_INFINITY;
  const emit = (s: { key: string; start: number; end: number; sum: number }) =>
    segments[segments.length - 1].push(`${s.key} [${s.start},${s.end}) ${s.sum}`);
  for (const step of steps) {
    if (step.kind === 'event') {
      const { key, ts, v } = step.event;
      const live = windowsOf(ts).filter(([, end]) => end - 1 + latenessMs > wm);
      if (live.length === 0) {
        if (ts + latenessMs <= wm) late.push(step.event);
        continue;
      }
      for (const [start, end] of live) {
        const id = `${key}|${start}|${end}`;
        const entry = sums.get(id) ?? { key, start, end, sum: 0 };
        entry.sum += v;
        sums.set(id, entry);
        if (end - 1 <= wm) emit(entry);
      }
    } else if (step.ts > wm) {
      for (const entry of sums.values()) if (entry.end - 1 > wm && entry.end - 1 <= step.ts) emit(entry);
      wm = step.ts;
      for (const [id, entry] of sums) if (entry.end - 1 + latenessMs <= wm) sums.delete(id);
      segments.push([]);
    }
  }
  return { segments: segments.map((s) => s.sort()), late };
}

/** Runs the steps through a window operator and splits its output at watermarks. */
async function runOperator(
  assigner: WindowAssigner<Ev, TimeWindow>,
  fn: WindowFunctionSpec<Ev, string, string, TimeWindow>,
  steps: readonly Step[],
  latenessMs: number,
) {
  const operator = createWindowOperator<Ev, string, TimeWindow, string>({
    assigner,
    allowedLatenessMs: latenessMs,
    lateDataTag: LATE,
    function: fn,
  });
  const harness = new OperatorHarness<Ev, string>(operator, { keySelector: (e) => e.key });
  await harness.open();
  for (const step of steps) {
    if (step.kind === 'event') harness.processElement(step.event, step.event.ts);
    else harness.processWatermark(step.ts);
  }
  const segments: string[][] = [[]];
  let lastWatermark = Number.NEGATIVE_INFINITY;
  for (const e of harness.output) {
    if (e.kind === 'record') {
      segments[segments.length - 1].push(e.value as string);
      // Results carry the window's max timestamp.
      const end = Number(/,(-?\d+)\)/.exec(e.value as string)![1]);
      expect(e.timestamp).toBe(end - 1);
    } else if (e.kind === 'watermark') {
      expect(e.timestamp).toBeGreaterThan(lastWatermark);
      lastWatermark = e.timestamp;
      segments.push([]);
    }
  }
  const late = harness.sideValues<Ev>(LATE);
  const backend = harness.keyedStateBackend!;
  const leftover = [...backend.keys('window-contents')];
  await harness.finish();
  await harness.close();
  return { segments: segments.map((s) => s.sort()), late, leftover };
}

/** Events with timestamps jittered around a rising clock, watermarks trailing by `boundMs`. */
const scenario = (boundMs: number) =>
  fc
    .array(
      fc.record({
        key: fc.constantFrom('a', 'b', 'c'),
        v: fc.integer({ min: 1, max: 9 }),
        jitter: fc.integer({ min: -3 * boundMs, max: boundMs }),
        advance: fc.integer({ min: 0, max: 7 }),
        watermark: fc.boolean(),
      }),
      { maxLength: 60 },
    )
    .map((raw) => {
      const steps: Step[] = [];
      let clock = -50;
      let maxSeen = Number.NEGATIVE_INFINITY;
      for (const r of raw) {
        clock += r.advance;
        const ts = clock + r.jitter;
        steps.push({ kind: 'event', event: { key: r.key, v: r.v, ts } });
        maxSeen = Math.max(maxSeen, ts);
        if (r.watermark) steps.push({ kind: 'watermark', ts: maxSeen - boundMs });
      }
      steps.push({ kind: 'watermark', ts: MAX_WATERMARK });
      return steps;
    });

function fixedWindows(size: number, slide: number) {
  return (ts: number): [number, number][] => {
    const out: [number, number][] = [];
    const last = ts - (((ts % slide) + slide) % slide);
    for (let start = last; start > ts - size; start -= slide) out.push([start, start + size]);
    return out;
  };
}

describe.each(Object.entries(functions))('window operator (%s) against a reference', (_name, fn) => {
  it('tumbling event-time windows with out-of-order and late events, with and without allowed lateness', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(5), fc.constantFrom(0, 4, 15), async (steps, latenessMs) => {
        const actual = await runOperator(TumblingEventTimeWindows.of(10), fn, steps, latenessMs);
        const expected = referenceFixed(steps, fixedWindows(10, 10), latenessMs);
        expect(actual.segments).toEqual(expected.segments);
        expect(actual.late).toEqual(expected.late);
        expect(actual.leftover).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('sliding event-time windows', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(4), fc.constantFrom(0, 6), async (steps, latenessMs) => {
        const actual = await runOperator(SlidingEventTimeWindows.of(12, 4), fn, steps, latenessMs);
        const expected = referenceFixed(steps, fixedWindows(12, 4), latenessMs);
        expect(actual.segments).toEqual(expected.segments);
        expect(actual.late).toEqual(expected.late);
        expect(actual.leftover).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('session windows: any arrival order gives the interval merge of [ts, ts + gap) per key', async () => {
    const events = fc.array(
      fc.record({
        key: fc.constantFrom('a', 'b'),
        v: fc.integer({ min: 1, max: 9 }),
        ts: fc.integer({ min: -40, max: 120 }),
      }),
      { maxLength: 40 },
    );
    await fc.assert(
      fc.asyncProperty(events, async (evs) => {
        const gap = 7;
        const steps: Step[] = evs.map((event) => ({ kind: 'event', event }));
        steps.push({ kind: 'watermark', ts: MAX_WATERMARK });
        const actual = await runOperator(EventTimeSessionWindows.withGap(gap), fn, steps, 0);
        const expected: string[] = [];
        for (const key of ['a', 'b']) {
          const sorted = evs.filter((e) => e.key === key).sort((x, y) => x.ts - y.ts);
          let current: { start: number; end: number; sum: number } | undefined;
          for (const e of sorted) {
            if (current !== undefined && e.ts <= current.end) {
              current.end = Math.max(current.end, e.ts + gap);
              current.sum += e.v;
            } else {
              if (current !== undefined)
                expected.push(`${key} [${current.start},${current.end}) ${current.sum}`);
              current = { start: e.ts, end: e.ts + gap, sum: e.v };
            }
          }
          if (current !== undefined) expected.push(`${key} [${current.start},${current.end}) ${current.sum}`);
        }
        expect(actual.segments).toEqual([expected.sort(), []]);
        expect(actual.leftover).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
