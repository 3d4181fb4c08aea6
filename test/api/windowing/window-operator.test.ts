import { describe, expect, it } from 'vitest';
import { GlobalWindows } from '../../../src/api/windowing/assigners/global-windows.ts';
import {
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
} from '../../../src/api/windowing/assigners/session-windows.ts';
import {
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
} from '../../../src/api/windowing/assigners/tumbling-windows.ts';
import { CountEvictor } from '../../../src/api/windowing/evictors/count-evictor.ts';
import type { GlobalWindow } from '../../../src/api/windowing/global-window.ts';
import type { TimeWindow } from '../../../src/api/windowing/time-window.ts';
import { CountTrigger } from '../../../src/api/windowing/triggers/count-trigger.ts';
import { PurgingTrigger } from '../../../src/api/windowing/triggers/purging-trigger.ts';
import type { Window } from '../../../src/api/windowing/window.ts';
import { createWindowOperator } from '../../../src/api/windowing/window-operator.ts';
import type { WindowOperatorSpec } from '../../../src/api/windowing/window-operator-spec.ts';
import { JobDefinitionError, TaskFailure } from '../../../src/core/errors.ts';
import { MAX_WATERMARK } from '../../../src/runtime/elements.ts';
import { OutputTag } from '../../../src/runtime/output.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

interface Ev {
  readonly key: string;
  readonly v: number;
}

const ev = (key: string, v: number): Ev => ({ key, v });
const sum = (a: Ev, b: Ev): Ev => ({ key: a.key, v: a.v + b.v });

async function harnessOf<W extends Window, OUT>(spec: WindowOperatorSpec<Ev, string, W, OUT>) {
  const harness = new OperatorHarness<Ev, OUT>(createWindowOperator(spec), {
    keySelector: (e) => e.key,
    operatorName: 'Window(test)',
  });
  await harness.open();
  return harness;
}

describe('event-time windows', () => {
  it('re-fire on late elements within the allowed lateness, then send later ones to the side output', async () => {
    const late = new OutputTag<Ev>('late');
    const h = await harnessOf<TimeWindow, Ev>({
      assigner: TumblingEventTimeWindows.of(10),
      allowedLatenessMs: 5,
      lateDataTag: late,
      function: { kind: 'reduce', reduce: sum },
    });
    h.processElement(ev('a', 1), 1);
    h.processElement(ev('a', 2), 12);
    h.processWatermark(9);
    expect(h.records()).toEqual([{ value: ev('a', 1), timestamp: 9 }]);
    h.clearOutput();
    h.processElement(ev('a', 10), 3); // late, but within 5 ms of lateness: fires again at once
    expect(h.records()).toEqual([{ value: ev('a', 11), timestamp: 9 }]);
    h.processWatermark(14); // [0,10) is cleaned up at 9 + 5
    h.clearOutput();
    h.processElement(ev('a', 100), 4);
    expect(h.records()).toEqual([]);
    expect(h.sideValues(late)).toEqual([ev('a', 100)]);
    expect(h.output.find((e) => e.kind === 'side')?.timestamp).toBe(4);
    h.processWatermark(MAX_WATERMARK);
    expect(h.values()).toEqual([ev('a', 2)]);
    await h.close();
  });

  it('counts late records it drops when no side output is set', async () => {
    const operator = createWindowOperator<Ev, string, TimeWindow, Ev>({
      assigner: TumblingEventTimeWindows.of(10),
      function: { kind: 'reduce', reduce: sum },
    });
    const h = new OperatorHarness<Ev, Ev>(operator, { keySelector: (e) => e.key });
    await h.open();
    h.processWatermark(20);
    h.processElement(ev('a', 1), 5);
    h.processElement(ev('a', 1), 19);
    expect(operator.lateRecordsDropped).toBe(2);
    expect(h.output.filter((e) => e.kind === 'side')).toEqual([]);
    await h.close();
  });

  it('fails with a clear message on a record without timestamp', async () => {
    const h = await harnessOf<TimeWindow, Ev>({
      assigner: TumblingEventTimeWindows.of(10),
      function: { kind: 'reduce', reduce: sum },
    });
    expect(() => h.processElement(ev('a', 1))).toThrow(TaskFailure);
    expect(() => h.processElement(ev('a', 1))).toThrow(
      "record has no timestamp: assign timestamps with assignTimestampsAndWatermarks before an event-time window (operator 'Window(test)', subtask 1/1)",
    );
    await h.close();
  });

  it('gives the process function its key, window, times and side output', async () => {
    const info = new OutputTag<string>('info');
    const h = await harnessOf<TimeWindow, string>({
      assigner: TumblingEventTimeWindows.of(10),
      function: {
        kind: 'process',
        process: {
          process(key, ctx, elements, out) {
            ctx.output(info, `wm=${ctx.currentWatermark()} pt=${ctx.currentProcessingTime()}`);
            out.collect(`${key}:${ctx.window.start}-${ctx.window.end}:${elements.map((e) => e.v).join(',')}`);
          },
        },
      },
    });
    h.processElement(ev('k', 1), 0);
    h.processElement(ev('k', 2), 9);
    h.processElement(ev('j', 3), 5);
    h.processWatermark(9);
    expect(h.values().sort()).toEqual(['j:0-10:3', 'k:0-10:1,2']);
    expect(h.sideValues(info)).toEqual(['wm=9 pt=0', 'wm=9 pt=0']);
    expect(
      h.output.filter((e) => e.kind === 'side').map((e) => (e as { timestamp?: number }).timestamp),
    ).toEqual([9, 9]);
    await h.close();
  });

  it('opens and closes rich window functions', async () => {
    const calls: string[] = [];
    const h = await harnessOf<TimeWindow, Ev>({
      assigner: TumblingEventTimeWindows.of(10),
      function: {
        kind: 'reduce',
        reduce: {
          open: (ctx) => {
            calls.push(`open ${ctx.operatorName}`);
          },
          reduce: sum,
          close: () => {
            calls.push('close');
          },
        },
      },
    });
    await h.close();
    expect(calls).toEqual(['open Window(test)', 'close']);
  });

  it('gives each subtask its own `this` for a plain-object window function', async () => {
    const fn = {
      openedBy: 'nobody',
      open(ctx: { operatorName: string }) {
        this.openedBy = ctx.operatorName;
      },
      process(_key: string, _ctx: unknown, _xs: Ev[], out: { collect(value: string): void }) {
        out.collect(this.openedBy);
      },
    };
    const spec: WindowOperatorSpec<Ev, string, TimeWindow, string> = {
      assigner: TumblingEventTimeWindows.of(10),
      function: { kind: 'process', process: fn },
    };
    const harnesses = ['one', 'two'].map(
      (operatorName) =>
        new OperatorHarness<Ev, string>(createWindowOperator(spec), {
          keySelector: (e) => e.key,
          operatorName,
        }),
    );
    for (const h of harnesses) await h.open();
    for (const h of harnesses) {
      h.processElement(ev('a', 1), 1);
      h.processWatermark(MAX_WATERMARK);
    }
    expect(harnesses.map((h) => h.values())).toEqual([['one'], ['two']]);
    expect(fn.openedBy).toBe('nobody');
    for (const h of harnesses) await h.close();
  });

  it('leaves no window state or merging set behind once sessions are fired and cleaned up', async () => {
    const h = await harnessOf<TimeWindow, number>({
      assigner: EventTimeSessionWindows.withGap(10),
      allowedLatenessMs: 3,
      function: {
        kind: 'aggregate',
        aggregate: {
          createAccumulator: () => 0,
          add: (e: Ev, acc: number) => acc + e.v,
          getResult: (acc: number) => acc,
          merge: (a: number, b: number) => a + b,
        } as never,
      },
    });
    h.processElement(ev('a', 1), 0);
    h.processElement(ev('a', 2), 30);
    h.processElement(ev('a', 4), 15); // [15,25): alone (10 < 15)
    h.processElement(ev('a', 8), 8); // [8,18) joins [0,10) and [15,25) into [0,25)
    h.processWatermark(MAX_WATERMARK);
    expect(h.records()).toEqual([
      { value: 13, timestamp: 24 },
      { value: 2, timestamp: 39 },
    ]);
    const backend = h.keyedStateBackend!;
    expect([...backend.keys('window-contents')]).toEqual([]);
    expect([...backend.keys('window-merging-set')]).toEqual([]);
    await h.close();
  });

  it('merges trigger state of sessions (count trigger on session windows)', async () => {
    const h = await harnessOf<TimeWindow, Ev>({
      assigner: EventTimeSessionWindows.withGap(10),
      trigger: CountTrigger.of(3),
      function: { kind: 'reduce', reduce: sum },
    });
    h.processElement(ev('a', 1), 0); // [0,10): count 1
    h.processElement(ev('a', 2), 20); // [20,30): count 1
    h.processElement(ev('a', 4), 50); // [50,60): count 1
    expect(h.values()).toEqual([]);
    h.processElement(ev('a', 8), 10); // [10,20) touches both: [0,30) counts 1 + 1 + 1
    expect(h.values()).toEqual([ev('a', 11)]);
    await h.close();
  });

  it('refuses an aggregate without merge on session windows, when the operator is built', () => {
    expect(() =>
      createWindowOperator<Ev, string, TimeWindow, number>({
        assigner: EventTimeSessionWindows.withGap(10),
        function: {
          kind: 'aggregate',
          aggregate: { createAccumulator: () => 0, add: () => 0, getResult: () => 0 },
        },
      }),
    ).toThrow(/needs merge\(a, b\)/);
    expect(() =>
      createWindowOperator<Ev, string, TimeWindow, Ev>({
        assigner: TumblingEventTimeWindows.of(10),
        allowedLatenessMs: -1,
        function: { kind: 'reduce', reduce: sum },
      }),
    ).toThrow(JobDefinitionError);
  });
});

describe('count windows', () => {
  it('tumbling: fire and purge every n elements per key; an incomplete window is not emitted', async () => {
    const h = await harnessOf<GlobalWindow, Ev>({
      assigner: GlobalWindows.create(),
      trigger: PurgingTrigger.of(CountTrigger.of(3)),
      function: { kind: 'reduce', reduce: sum },
    });
    for (let i = 1; i <= 7; i++) h.processElement(ev('a', i));
    h.processElement(ev('b', 100));
    h.processWatermark(MAX_WATERMARK);
    await h.finish();
    expect(h.records()).toEqual([
      { value: ev('a', 6), timestamp: Number.MAX_SAFE_INTEGER },
      { value: ev('a', 15), timestamp: Number.MAX_SAFE_INTEGER },
    ]);
    await h.close();
  });

  it('sliding: fire every `slide` elements over the last `size` (count evictor)', async () => {
    const h = await harnessOf<GlobalWindow, string>({
      assigner: GlobalWindows.create(),
      trigger: CountTrigger.of(2),
      evictor: CountEvictor.of(3),
      function: {
        kind: 'process',
        process: { process: (_key, _ctx, xs, out) => out.collect(xs.map((x) => x.v).join(',')) },
      },
    });
    for (let i = 1; i <= 7; i++) h.processElement(ev('a', i));
    expect(h.values()).toEqual(['1,2', '2,3,4', '4,5,6']);
    await h.close();
  });

  it('sliding with reduce folds the kept elements', async () => {
    const h = await harnessOf<GlobalWindow, Ev>({
      assigner: GlobalWindows.create(),
      trigger: CountTrigger.of(2),
      evictor: CountEvictor.of(3),
      function: { kind: 'reduce', reduce: sum },
    });
    for (let i = 1; i <= 6; i++) h.processElement(ev('a', i));
    expect(h.values().map((e) => e.v)).toEqual([3, 9, 15]);
    await h.close();
  });

  it('global windows with the default trigger emit nothing', async () => {
    const h = await harnessOf<GlobalWindow, Ev>({
      assigner: GlobalWindows.create(),
      function: { kind: 'reduce', reduce: sum },
    });
    h.processElement(ev('a', 1));
    h.processWatermark(MAX_WATERMARK);
    await h.finish();
    expect(h.values()).toEqual([]);
    await h.close();
  });
});

describe('processing-time windows', () => {
  it('fire when the clock passes their end, by the subtask clock rather than record timestamps', async () => {
    const h = await harnessOf<TimeWindow, Ev>({
      assigner: TumblingProcessingTimeWindows.of(100),
      function: { kind: 'reduce', reduce: sum },
    });
    h.processElement(ev('a', 1), 5_000);
    h.processElement(ev('b', 2));
    h.advanceProcessingTime(50);
    h.processElement(ev('a', 3));
    h.advanceProcessingTime(49); // now 99 = maxTimestamp of [0,100)
    expect(h.records()).toEqual([
      { value: ev('a', 4), timestamp: 99 },
      { value: ev('b', 2), timestamp: 99 },
    ]);
    h.clearOutput();
    h.advanceProcessingTime(1);
    h.processElement(ev('a', 10));
    h.advanceProcessingTime(500);
    expect(h.records()).toEqual([{ value: ev('a', 10), timestamp: 199 }]);
    expect([...h.keyedStateBackend!.keys('window-open-processing-windows')]).toEqual([]);
    await h.close();
  });

  it('fire windows still open at the end of input (Flink would drop them)', async () => {
    const h = await harnessOf<TimeWindow, Ev>({
      assigner: TumblingProcessingTimeWindows.of(100),
      function: { kind: 'reduce', reduce: sum },
    });
    h.processElement(ev('a', 1));
    h.processElement(ev('b', 2));
    h.advanceProcessingTime(150);
    h.clearOutput();
    h.processElement(ev('a', 3));
    h.processElement(ev('a', 4));
    h.processWatermark(MAX_WATERMARK);
    expect(h.values()).toEqual([]);
    await h.finish();
    expect(h.records()).toEqual([{ value: ev('a', 7), timestamp: 199 }]);
    // The cancelled timer does not fire again later.
    h.clearOutput();
    h.advanceProcessingTime(1_000);
    expect(h.records()).toEqual([]);
    await h.close();
  });

  it('session windows by processing time merge while elements arrive within the gap', async () => {
    const h = await harnessOf<TimeWindow, Ev>({
      assigner: ProcessingTimeSessionWindows.withGap(10),
      function: { kind: 'reduce', reduce: sum },
    });
    h.processElement(ev('a', 1)); // [0,10)
    h.advanceProcessingTime(5);
    h.processElement(ev('a', 2)); // [5,15) -> [0,15)
    h.advanceProcessingTime(9); // now 14 = maxTimestamp
    expect(h.records()).toEqual([{ value: ev('a', 3), timestamp: 14 }]);
    h.clearOutput();
    h.processElement(ev('a', 5)); // [14,24), open at the end
    await h.finish();
    expect(h.records()).toEqual([{ value: ev('a', 5), timestamp: 23 }]);
    await h.close();
  });
});
