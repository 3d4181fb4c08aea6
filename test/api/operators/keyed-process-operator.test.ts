import { describe, expect, it, vi } from 'vitest';
import type { KeyedProcessFunction, RuntimeContext } from '../../../src/api/functions.ts';
import { KeyedProcessOperator } from '../../../src/api/operators/keyed-process-operator.ts';
import { TaskFailure } from '../../../src/core/errors.ts';
import { OutputTag } from '../../../src/runtime/output.ts';
import { TIMERS_BETWEEN_PAUSE_CHECKS } from '../../../src/runtime/timers/keyed-timer-service.ts';
import { hashMapStateBackend } from '../../../src/state/backends/heap/index.ts';
import type { ValueState } from '../../../src/state/keyed-state.ts';
import { valueState } from '../../../src/state/state-descriptors-factory.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

interface Ev {
  readonly user: string;
  readonly n: number;
}

const byUser = (e: Ev) => e.user;
const fired = new OutputTag<string>('fired');

/**
 * Registers a timer at `e.n` per element and emits each firing's time, over a heap backend
 * that reports its writes backed up whenever `isBackedUp` says so.
 */
function timerPerElementHarness(domain: 'event' | 'processing', isBackedUp: () => boolean) {
  return new OperatorHarness(
    new KeyedProcessOperator<string, Ev, number>({
      processElement(e, ctx) {
        if (domain === 'event') ctx.timerService().registerEventTimeTimer(e.n);
        else ctx.timerService().registerProcessingTimeTimer(e.n);
      },
      onTimer(ts, _ctx, out) {
        out.collect(ts);
      },
    }),
    {
      keySelector: byUser,
      keyedStateBackendFactory: {
        name: 'heap, backed up on demand',
        create: (options) => Object.assign(hashMapStateBackend.create(options), { isBackedUp }),
      },
    },
  );
}

function harness<O>(fn: KeyedProcessFunction<string, Ev, O>, name = 'KeyedProcess') {
  return new OperatorHarness(new KeyedProcessOperator<string, Ev, O>(fn), {
    keySelector: byUser,
    operatorName: name,
  });
}

describe('KeyedProcessOperator', () => {
  it('keeps keyed state per key and sees the current key', async () => {
    const countDesc = valueState<number>('count', { defaultValue: 0 });
    let count!: ValueState<number>;
    const h = harness<string>({
      open(ctx: RuntimeContext) {
        count = ctx.getState(countDesc);
      },
      processElement(e, ctx, out) {
        count.update(count.value()! + e.n);
        out.collect(`${ctx.getCurrentKey()}=${count.value()}@${ctx.timestamp()}`);
      },
    });
    await h.open();
    h.processElement({ user: 'a', n: 1 }, 1);
    h.processElement({ user: 'b', n: 10 }, 2);
    h.processElement({ user: 'a', n: 2 }, 3);
    h.processElement({ user: 'b', n: 5 });
    expect(h.records()).toEqual([
      { value: 'a=1@1', timestamp: 1 },
      { value: 'b=10@2', timestamp: 2 },
      { value: 'a=3@3', timestamp: 3 },
      { value: 'b=15@undefined', timestamp: undefined },
    ]);
    await h.close();
  });

  it('fires event-time timers in timestamp order when the watermark passes, before forwarding it', async () => {
    const h = harness<string>({
      processElement(e, ctx) {
        ctx.timerService().registerEventTimeTimer(e.n);
      },
      onTimer(ts, ctx, out) {
        out.collect(
          `${ctx.getCurrentKey()}@${ts} ${ctx.timeDomain()} wm=${ctx.timerService().currentWatermark()}`,
        );
      },
    });
    await h.open();
    h.processElement({ user: 'a', n: 30 }, 1);
    h.processElement({ user: 'b', n: 10 }, 1);
    h.processElement({ user: 'c', n: 20 }, 1);
    h.processElement({ user: 'a', n: 30 }, 1); // same key and time: deduplicated
    h.processWatermark(20);
    expect(h.output).toEqual([
      { kind: 'record', value: 'b@10 event-time wm=20', timestamp: 10 },
      { kind: 'record', value: 'c@20 event-time wm=20', timestamp: 20 },
      { kind: 'watermark', timestamp: 20 },
    ]);
    h.clearOutput();
    h.processWatermark(100);
    expect(h.output).toEqual([
      { kind: 'record', value: 'a@30 event-time wm=100', timestamp: 30 },
      { kind: 'watermark', timestamp: 100 },
    ]);
    await h.close();
  });

  it('pauses a watermark while the backend reports its writes backed up, and forwards it once every due timer fired', async () => {
    let backedUp = true;
    const h = timerPerElementHarness('event', () => backedUp);
    await h.open();
    for (let i = 0; i < 600; i++) h.processElement({ user: `u${i}`, n: i }, 1);
    h.processWatermark(1_000);
    // One slice between two checks, and the watermark held back.
    expect(h.values()).toEqual([...Array(TIMERS_BETWEEN_PAUSE_CHECKS).keys()]);
    expect(h.watermarks()).toEqual([]);
    expect(h.finishWatermark()).toBe(false);
    expect(h.values()).toHaveLength(2 * TIMERS_BETWEEN_PAUSE_CHECKS);
    backedUp = false;
    expect(h.finishWatermark()).toBe(true);
    expect(h.values()).toEqual([...Array(600).keys()]);
    expect(h.output.at(-1)).toEqual({ kind: 'watermark', timestamp: 1_000 });
    expect(h.finishWatermark()).toBe(true);
    expect(h.watermarks()).toEqual([1_000]);
    await h.close();
  });

  it('fires processing-time timers in slices from the mailbox while the backend reports its writes backed up', async () => {
    const h = timerPerElementHarness('processing', () => true);
    await h.open();
    // All due at once: one mailbox action would fire them all.
    for (let i = 0; i < 300; i++) h.processElement({ user: `u${i}`, n: 100 }, 1);
    const registerTimer = vi.spyOn(h.context.processingTimeService, 'registerTimer');
    h.advanceProcessingTime(1_000);
    expect(h.values()).toEqual(Array(300).fill(100));
    // After the first slice, the rest was handed back to the mailbox, due at once.
    expect(registerTimer.mock.calls.map(([atMs]) => atMs)).toEqual([100]);
    await h.close();
  });

  it('deletes timers of the current key only', async () => {
    const h = harness<string>({
      processElement(e, ctx) {
        if (e.n > 0) ctx.timerService().registerEventTimeTimer(e.n);
        else ctx.timerService().deleteEventTimeTimer(-e.n);
      },
      onTimer(ts, ctx, out) {
        out.collect(`${ctx.getCurrentKey()}@${ts}`);
      },
    });
    await h.open();
    h.processElement({ user: 'a', n: 10 });
    h.processElement({ user: 'b', n: 10 });
    h.processElement({ user: 'b', n: -10 }); // deletes b's timer, not a's
    h.processElement({ user: 'a', n: -99 }); // no such timer: nothing happens
    h.processWatermark(50);
    expect(h.values()).toEqual(['a@10']);
  });

  it('fires processing-time timers through the mailbox, without a timestamp', async () => {
    const seen: string[] = [];
    const h = harness<string>({
      processElement(e, ctx) {
        ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + e.n);
      },
      onTimer(ts, ctx, out) {
        seen.push(`${ctx.getCurrentKey()}@${ts} now=${ctx.timerService().currentProcessingTime()}`);
        expect(ctx.timeDomain()).toBe('processing-time');
        expect(ctx.timestamp()).toBeUndefined();
        out.collect(`${ctx.getCurrentKey()}@${ts}`);
      },
    });
    await h.open();
    h.processElement({ user: 'a', n: 100 }, 5);
    h.processElement({ user: 'b', n: 50 }, 5);
    h.processElement({ user: 'a', n: 100 }, 5); // duplicate
    h.advanceProcessingTime(49);
    expect(h.output).toEqual([]);
    h.advanceProcessingTime(200);
    expect(seen).toEqual(['b@50 now=50', 'a@100 now=100']);
    expect(h.records()).toEqual([
      { value: 'b@50', timestamp: undefined },
      { value: 'a@100', timestamp: undefined },
    ]);
    await h.close();
  });

  it('lets a timer register another timer that is already due', async () => {
    const h = harness<number>({
      processElement(_e, ctx) {
        ctx.timerService().registerProcessingTimeTimer(10);
      },
      onTimer(ts, ctx, out) {
        out.collect(ts);
        if (ts === 10) ctx.timerService().registerProcessingTimeTimer(5); // in the past
      },
    });
    await h.open();
    h.processElement({ user: 'a', n: 0 });
    h.advanceProcessingTime(10);
    expect(h.values()).toEqual([10, 5]);
  });

  it('sees state of the timer key in onTimer, and emits side outputs with the timer timestamp', async () => {
    const last = valueState<number>('last');
    const h = harness<string>({
      processElement(e, ctx) {
        ctx.timerService().registerEventTimeTimer(e.n);
        this.state!.update(e.n);
      },
      state: undefined as ValueState<number> | undefined,
      open(ctx: RuntimeContext) {
        this.state = ctx.getState(last);
      },
      onTimer(ts, ctx) {
        ctx.output(fired, `${ctx.getCurrentKey()}:${this.state!.value()}@${ts}`);
      },
    } as KeyedProcessFunction<string, Ev, string> & { state: ValueState<number> | undefined });
    await h.open();
    h.processElement({ user: 'x', n: 7 });
    h.processElement({ user: 'y', n: 3 });
    h.processWatermark(10);
    expect(h.output.filter((e) => e.kind === 'side')).toEqual([
      { kind: 'side', tag: 'fired', value: 'y:3@3', timestamp: 3 },
      { kind: 'side', tag: 'fired', value: 'x:7@7', timestamp: 7 },
    ]);
  });

  it('refuses a NaN timer timestamp with a clear error', async () => {
    const h = harness<never>({
      processElement(_e, ctx) {
        ctx.timerService().registerEventTimeTimer(Number.NaN);
      },
    });
    await h.open();
    expect(() => h.processElement({ user: 'a', n: 1 })).toThrow(/timer needs a timestamp/);
  });

  it('prefetches the keys of a batch (heap backend: nothing to await)', async () => {
    const h = harness<number>({ processElement: (e, _ctx, out) => out.collect(e.n) });
    await h.open();
    await h.processBatch(
      [
        { user: 'a', n: 1 },
        { user: 'b', n: 2 },
      ],
      [1, 2],
    );
    expect(h.records()).toEqual([
      { value: 1, timestamp: 1 },
      { value: 2, timestamp: 2 },
    ]);
  });

  it('fails at open with a clear error when the input is not keyed', async () => {
    const h = new OperatorHarness(new KeyedProcessOperator<string, Ev, never>({ processElement() {} }), {
      operatorName: 'Lonely',
    });
    await expect(h.open()).rejects.toThrow(/keyed stream \(call keyBy first\).*'Lonely'/);
  });
});

describe('one user-function object shared by several subtasks', () => {
  it('gives each subtask its own `this` for a plain object, as Flink gives each its own copy', async () => {
    const count = valueState<number>('count', { defaultValue: 0 });
    const fn = {
      state: undefined as ValueState<number> | undefined,
      open(ctx: RuntimeContext) {
        this.state = ctx.getState(count);
      },
      processElement(_e: Ev, _ctx: unknown, out: { collect(n: number): void }) {
        this.state!.update(this.state!.value()! + 1);
        out.collect(this.state!.value()!);
      },
    };
    // Two subtasks built from the same object, as the job's operator factory does.
    const one = harness<number>(fn);
    const two = harness<number>(fn);
    await one.open();
    await two.open();
    one.processElement({ user: 'a', n: 0 });
    one.processElement({ user: 'a', n: 0 });
    two.processElement({ user: 'a', n: 0 });
    expect(one.values()).toEqual([1, 2]);
    expect(two.values()).toEqual([1]);
    expect(fn.state).toBeUndefined();
  });
});

describe('key selection failures', () => {
  const fn: KeyedProcessFunction<unknown, unknown, never> = { processElement() {} };

  it.each([
    ['undefined', () => undefined, /returned undefined/],
    ['a function', () => () => 1, /unusable key/],
    ['a class instance', () => new (class Point {})(), /unusable key/],
  ])(
    'a key selector returning %s fails with a TaskFailure naming the operator',
    async (_what, selector, message) => {
      const h = new OperatorHarness(new KeyedProcessOperator<unknown, unknown, never>(fn), {
        keySelector: selector,
        operatorName: 'Keyed Thing',
      });
      await h.open();
      let caught: unknown;
      try {
        h.processElement({ any: 1 });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TaskFailure);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).toContain("operator 'Keyed Thing'");
      // prefetch checks keys too, before any record of the batch runs
      await expect(h.processBatch([{ any: 2 }])).rejects.toBeInstanceOf(TaskFailure);
    },
  );
});
