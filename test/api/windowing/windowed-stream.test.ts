import { describe, expect, expectTypeOf, it } from 'vitest';
import { EventTimeSessionWindows } from '../../../src/api/windowing/assigners/session-windows.ts';
import { TumblingEventTimeWindows } from '../../../src/api/windowing/assigners/tumbling-windows.ts';
import { countWindow } from '../../../src/api/windowing/count-window.ts';
import type { GlobalWindow } from '../../../src/api/windowing/global-window.ts';
import type { TimeWindow } from '../../../src/api/windowing/time-window.ts';
import type { Trigger } from '../../../src/api/windowing/trigger.ts';
import { CountTrigger } from '../../../src/api/windowing/triggers/count-trigger.ts';
import { WindowOperator } from '../../../src/api/windowing/window-operator.ts';
import {
  type StreamTypeLambda,
  WindowedStream,
  type WindowTransformTarget,
} from '../../../src/api/windowing/windowed-stream.ts';
import { JobDefinitionError } from '../../../src/core/errors.ts';
import { MAX_WATERMARK } from '../../../src/runtime/elements.ts';
import type { OneInputStreamOperator } from '../../../src/runtime/operator.ts';
import { OutputTag } from '../../../src/runtime/output.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

interface Ev {
  readonly key: string;
  readonly v: number;
}

/** Stands in for the DataStream layer's stream class. */
class FakeStream<T> {
  readonly name: string;
  readonly createOperator: () => OneInputStreamOperator<unknown, T>;
  declare readonly __type?: T;
  constructor(name: string, createOperator: () => OneInputStreamOperator<unknown, T>) {
    this.name = name;
    this.createOperator = createOperator;
  }
}

interface FakeStreamOf extends StreamTypeLambda {
  readonly stream: FakeStream<this['out']>;
}

/** Stands in for KeyedStream: the shape the lead adapts to. */
class FakeKeyedStream<T, K> implements WindowTransformTarget<T, K, FakeStreamOf> {
  transformKeyed<OUT>(name: string, operatorFactory: () => OneInputStreamOperator<T, OUT>): FakeStream<OUT> {
    return new FakeStream(name, operatorFactory as () => OneInputStreamOperator<unknown, OUT>);
  }
  window<W extends TimeWindow | GlobalWindow>(
    assigner: import('../../../src/api/windowing/window-assigner.ts').WindowAssigner<T, W>,
  ): WindowedStream<T, K, W, FakeStreamOf> {
    return new WindowedStream(this, assigner);
  }
}

const keyed = new FakeKeyedStream<Ev, string>();

describe('WindowedStream', () => {
  it('returns the caller’s stream type, typed by the function’s output', () => {
    const windowed = keyed.window(TumblingEventTimeWindows.of(10));
    const reduced = windowed.reduce((a, b) => ({ key: a.key, v: a.v + b.v }));
    expectTypeOf(reduced).toEqualTypeOf<FakeStream<Ev>>();
    const aggregated = windowed.aggregate({
      createAccumulator: () => 0,
      add: (e: Ev, acc: number) => acc + e.v,
      getResult: (acc: number) => `${acc}`,
    });
    expectTypeOf(aggregated).toEqualTypeOf<FakeStream<string>>();
    // OUT cannot be inferred from `out.collect` calls: name it (or annotate `out`).
    const withWindow = windowed.reduce<{ key: string; end: number; v: number }>(
      (a, b) => ({ key: a.key, v: a.v + b.v }),
      (key, ctx, [e], out) => {
        expectTypeOf(key).toEqualTypeOf<string>();
        expectTypeOf(ctx.window).toEqualTypeOf<TimeWindow>();
        out.collect({ key, end: ctx.window.end, v: e.v });
      },
    );
    expectTypeOf(withWindow).toEqualTypeOf<FakeStream<{ key: string; end: number; v: number }>>();
    const processed = windowed.process<number>({ process: (_k, _c, xs, out) => out.collect(xs.length) });
    expectTypeOf(processed).toEqualTypeOf<FakeStream<number>>();
    expect(reduced.name).toBe('Window(TumblingEventTimeWindows(10), EventTimeTrigger, reduce)');
    expect(withWindow.name).toBe('Window(TumblingEventTimeWindows(10), EventTimeTrigger, reduce, process)');
    expect(reduced.createOperator()).toBeInstanceOf(WindowOperator);
  });

  it('builds a working operator with the configured trigger, lateness and late-data tag', async () => {
    const late = new OutputTag<Ev>('late');
    const stream = keyed
      .window(TumblingEventTimeWindows.of(10))
      .allowedLateness(5)
      .sideOutputLateData(late)
      .aggregate(
        {
          createAccumulator: () => 0,
          add: (e: Ev, acc: number) => acc + e.v,
          getResult: (acc: number) => acc,
        },
        (key, ctx, [total], out) => out.collect(`${key}@${ctx.window.start}=${total}`),
      );
    const h = new OperatorHarness<Ev, string>(stream.createOperator() as OneInputStreamOperator<Ev, string>, {
      keySelector: (e) => e.key,
    });
    await h.open();
    h.processElement({ key: 'a', v: 1 }, 1);
    h.processWatermark(9);
    h.processElement({ key: 'a', v: 2 }, 2);
    h.processWatermark(20);
    h.processElement({ key: 'a', v: 4 }, 3);
    h.processWatermark(MAX_WATERMARK);
    expect(h.values()).toEqual(['a@0=1', 'a@0=3']);
    expect(h.sideValues(late)).toEqual([{ key: 'a', v: 4 }]);
    await h.close();
  });

  it('configuration returns a new stream and leaves the original unchanged', () => {
    const base = keyed.window(TumblingEventTimeWindows.of(10));
    const counted = base.trigger(CountTrigger.of(2) as Trigger<Ev, TimeWindow>);
    expect(base.reduce((a) => a).name).toContain('EventTimeTrigger');
    expect(counted.reduce((a) => a).name).toContain('CountTrigger(2)');
  });

  it('reports bad configurations when the function is set', () => {
    const nonMerging: Trigger<Ev, TimeWindow> = { ...CountTrigger.of(2), canMerge: () => false } as never;
    expect(() =>
      keyed
        .window(EventTimeSessionWindows.withGap(5))
        .trigger(nonMerging)
        .reduce((a) => a),
    ).toThrow(/cannot merge/);
    expect(() =>
      keyed
        .window(TumblingEventTimeWindows.of(10))
        .allowedLateness(-1)
        .reduce((a) => a),
    ).toThrow(JobDefinitionError);
    expect(() => keyed.window(TumblingEventTimeWindows.of(10)).process({} as never)).toThrow(TypeError);
  });

  it('countWindow: tumbling and sliding count windows', async () => {
    const tumbling = countWindow<Ev, string, FakeStreamOf>(keyed, 2).reduce((a, b) => ({
      key: a.key,
      v: a.v + b.v,
    }));
    expectTypeOf(tumbling).toEqualTypeOf<FakeStream<Ev>>();
    expect(tumbling.name).toBe('Window(GlobalWindows, PurgingTrigger(CountTrigger(2)), reduce)');
    const sliding = countWindow<Ev, string, FakeStreamOf>(keyed, 3, 1).process<string>((_k, _c, xs, out) =>
      out.collect(xs.map((x) => x.v).join('')),
    );
    expect(sliding.name).toBe('Window(GlobalWindows, CountTrigger(1), CountEvictor(3), process)');
    const h = new OperatorHarness<Ev, string>(
      sliding.createOperator() as OneInputStreamOperator<Ev, string>,
      {
        keySelector: (e) => e.key,
      },
    );
    await h.open();
    for (let v = 1; v <= 5; v++) h.processElement({ key: 'a', v });
    expect(h.values()).toEqual(['1', '12', '123', '234', '345']);
    await h.close();
  });
});
