import { describe, expect, it } from 'vitest';
import { GlobalWindow } from '../../../src/api/windowing/global-window.ts';
import { TimeWindow } from '../../../src/api/windowing/time-window.ts';
import type { Trigger } from '../../../src/api/windowing/trigger.ts';
import { CountTrigger } from '../../../src/api/windowing/triggers/count-trigger.ts';
import { EventTimeTrigger } from '../../../src/api/windowing/triggers/event-time-trigger.ts';
import { NeverTrigger } from '../../../src/api/windowing/triggers/never-trigger.ts';
import { ProcessingTimeTrigger } from '../../../src/api/windowing/triggers/processing-time-trigger.ts';
import { PurgingTrigger } from '../../../src/api/windowing/triggers/purging-trigger.ts';
import type { Window } from '../../../src/api/windowing/window.ts';
import { WindowTriggerContext } from '../../../src/api/windowing/window-trigger-context.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { MIN_WATERMARK } from '../../../src/runtime/elements.ts';
import type { InternalTimerService } from '../../../src/runtime/timer-service.ts';
import { hashMapStateBackend } from '../../../src/state/backends/heap/index.ts';
import { assignToKeyGroup } from '../../../src/state/key-groups.ts';
import { reducingState, valueState } from '../../../src/state/state-descriptors-factory.ts';

/** Records timers as strings "event|processing namespace@time"; times are set by the test. */
class RecordingTimers implements InternalTimerService {
  readonly timers = new Set<string>();
  watermarkMs = MIN_WATERMARK;
  nowMs = 0;
  currentProcessingTime(): number {
    return this.nowMs;
  }
  currentWatermark(): number {
    return this.watermarkMs;
  }
  registerEventTimeTimer(ns: string | number, t: number): void {
    this.timers.add(`event ${ns}@${t}`);
  }
  deleteEventTimeTimer(ns: string | number, t: number): void {
    this.timers.delete(`event ${ns}@${t}`);
  }
  registerProcessingTimeTimer(ns: string | number, t: number): void {
    this.timers.add(`processing ${ns}@${t}`);
  }
  deleteProcessingTimeTimer(ns: string | number, t: number): void {
    this.timers.delete(`processing ${ns}@${t}`);
  }
}

function setup<W extends Window>(trigger: Trigger<unknown, W>) {
  const backend = hashMapStateBackend.create({
    operatorId: 'test',
    keyGroupRange: { start: 0, end: 127 },
    maxParallelism: 128,
    clock: new ManualClock(0),
  });
  const timers = new RecordingTimers();
  const context = new WindowTriggerContext<unknown, W>(backend, timers, trigger);
  const setKey = (key: string) => backend.setCurrentKey(key, assignToKeyGroup(key, 128));
  setKey('k');
  return { backend, timers, context, setKey };
}

const w = (s: number, e: number) => TimeWindow.of(s, e);
const ns = (window: TimeWindow) => TimeWindow.codec.toNamespace(window);

describe('EventTimeTrigger', () => {
  it('registers a timer at the window end and fires on it', () => {
    const { context, timers } = setup(EventTimeTrigger.create());
    context.setWindow(w(0, 10), '0|10');
    expect(context.onElement('a', 3)).toBe('CONTINUE');
    expect([...timers.timers]).toEqual(['event 0|10@9']);
    expect(context.onEventTime(5)).toBe('CONTINUE');
    expect(context.onEventTime(9)).toBe('FIRE');
    context.clear();
    expect(timers.timers.size).toBe(0);
  });

  it('fires at once for an element of a window the watermark has passed (allowed lateness)', () => {
    const { context, timers } = setup(EventTimeTrigger.create());
    timers.watermarkMs = 9;
    context.setWindow(w(0, 10), '0|10');
    expect(context.onElement('late', 3)).toBe('FIRE');
    expect(timers.timers.size).toBe(0);
  });

  it('on merge registers the merged window’s timer unless the watermark passed it', () => {
    const { context, timers } = setup(EventTimeTrigger.create());
    context.setWindow(w(0, 20), '0|20');
    context.onMerge(['0|10', '10|20']);
    expect([...timers.timers]).toEqual(['event 0|20@19']);
    timers.watermarkMs = 100;
    context.setWindow(w(0, 30), '0|30');
    context.onMerge(['0|20']);
    expect([...timers.timers]).toEqual(['event 0|20@19']);
  });
});

describe('ProcessingTimeTrigger', () => {
  it('fires on the processing-time timer at the window end', () => {
    const { context, timers } = setup(ProcessingTimeTrigger.create());
    context.setWindow(w(0, 10), '0|10');
    expect(context.onElement('a', 0)).toBe('CONTINUE');
    expect([...timers.timers]).toEqual(['processing 0|10@9']);
    expect(context.onProcessingTime(9)).toBe('FIRE');
    expect(context.onEventTime(9)).toBe('CONTINUE');
    context.clear();
    expect(timers.timers.size).toBe(0);
  });
});

describe('CountTrigger', () => {
  it('fires every n elements per window, counting in keyed state per key and window', () => {
    const { context, setKey } = setup(CountTrigger.of(3));
    const g = GlobalWindow.INSTANCE;
    context.setWindow(g, 'global');
    const results: string[] = [];
    for (let i = 0; i < 7; i++) {
      setKey(i % 2 === 0 ? 'a' : 'b');
      results.push(context.onElement(i, 0));
    }
    // a gets elements 0,2,4,6 (fires on its third), b gets 1,3,5 (fires on its third).
    expect(results).toEqual(['CONTINUE', 'CONTINUE', 'CONTINUE', 'CONTINUE', 'FIRE', 'FIRE', 'CONTINUE']);
  });

  it('keeps the count in keyed reducing state (so snapshots hold it) and merges it on merge', () => {
    const { context, backend } = setup(CountTrigger.of(5));
    const a = w(0, 10);
    const b = w(10, 20);
    context.setWindow(a, ns(a));
    context.onElement(1, 0);
    context.onElement(2, 0);
    context.setWindow(b, ns(b));
    context.onElement(3, 0);
    const count = backend.getReducingState(reducingState<number>('count-trigger.count', (x, y) => x + y));
    count.setCurrentNamespace('0|10');
    expect(count.get()).toBe(2);
    const merged = w(0, 20);
    context.setWindow(merged, ns(merged));
    context.onMerge(['0|10', '10|20']);
    count.setCurrentNamespace('0|20');
    expect(count.get()).toBe(3);
    count.setCurrentNamespace('0|10');
    expect(count.get()).toBeUndefined();
    // Two more elements reach 5.
    expect(context.onElement(4, 0)).toBe('CONTINUE');
    expect(context.onElement(5, 0)).toBe('FIRE');
  });

  it('validates its count', () => {
    expect(() => CountTrigger.of(0)).toThrow(/positive integer/);
  });
});

describe('PurgingTrigger and NeverTrigger', () => {
  it('PurgingTrigger turns FIRE into FIRE_AND_PURGE and keeps the rest', () => {
    const { context } = setup(PurgingTrigger.of(CountTrigger.of(2)));
    context.setWindow(GlobalWindow.INSTANCE, 'global');
    expect(context.onElement(1, 0)).toBe('CONTINUE');
    expect(context.onElement(2, 0)).toBe('FIRE_AND_PURGE');
    expect(PurgingTrigger.of(CountTrigger.of(2)).toString()).toBe('PurgingTrigger(CountTrigger(2))');
  });

  it('NeverTrigger never fires', () => {
    const { context } = setup(NeverTrigger.create());
    context.setWindow(GlobalWindow.INSTANCE, 'global');
    expect(context.onElement(1, 0)).toBe('CONTINUE');
    expect(context.onEventTime(Number.MAX_SAFE_INTEGER)).toBe('CONTINUE');
    expect(context.onProcessingTime(0)).toBe('CONTINUE');
  });
});

describe('WindowTriggerContext', () => {
  it('refuses a state name reused with another kind, and merging state kinds that cannot merge', () => {
    const { context } = setup(NeverTrigger.create());
    context.setWindow(GlobalWindow.INSTANCE, 'global');
    context.getPartitionedState(valueState<number>('s'));
    expect(() => context.getPartitionedState(reducingState<number>('s', (a, b) => a + b))).toThrow(
      /registered as value state/,
    );
  });

  it('refuses to merge state kinds that cannot merge', () => {
    const valueTrigger: Trigger<unknown, Window> = {
      onElement: () => 'CONTINUE',
      onEventTime: () => 'CONTINUE',
      onProcessingTime: () => 'CONTINUE',
      canMerge: () => true,
      onMerge: (_window, ctx) => ctx.mergePartitionedState(valueState<number>('v') as never),
      clear: () => {},
    };
    const { context } = setup(valueTrigger);
    context.setWindow(w(0, 20), '0|20');
    expect(() => context.onMerge(['0|10'])).toThrow(/value state, which cannot be merged/);
  });
});
