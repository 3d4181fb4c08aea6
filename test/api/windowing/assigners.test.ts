import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GlobalWindows } from '../../../src/api/windowing/assigners/global-windows.ts';
import {
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
} from '../../../src/api/windowing/assigners/session-windows.ts';
import {
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
} from '../../../src/api/windowing/assigners/sliding-windows.ts';
import {
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
} from '../../../src/api/windowing/assigners/tumbling-windows.ts';
import { GlobalWindow } from '../../../src/api/windowing/global-window.ts';
import type { TimeWindow } from '../../../src/api/windowing/time-window.ts';
import type { WindowAssignerContext } from '../../../src/api/windowing/window-assigner.ts';
import { isMergingAssigner } from '../../../src/api/windowing/window-assigner.ts';
import { JobDefinitionError, TaskFailure } from '../../../src/core/errors.ts';
import { NO_TIMESTAMP } from '../../../src/runtime/elements.ts';

function context(nowMs = 0): WindowAssignerContext {
  return {
    currentProcessingTime: () => nowMs,
    location: { operatorName: 'Window(test)', subtaskIndex: 0, parallelism: 1 },
  };
}

/** Every window [s, s + size) with s ≡ offset (mod slide) containing ts, by enumeration. */
function referenceSliding(ts: number, size: number, slide: number, offset: number): string[] {
  const kMax = Math.floor((ts - offset) / slide);
  const result: string[] = [];
  for (let k = kMax; offset + k * slide > ts - size; k--) {
    const start = offset + k * slide;
    result.push(`${start}|${start + size}`);
  }
  return result.sort();
}

const names = (ws: readonly TimeWindow[]) => ws.map((w) => `${w.start}|${w.end}`).sort();
const timestamp = fc.integer({ min: -1e12, max: 1e12 });

describe('tumbling windows', () => {
  it('assign exactly the one aligned window containing the timestamp', () => {
    fc.assert(
      fc.property(timestamp, fc.integer({ min: 1, max: 1e8 }), fc.integer(), (ts, size, rawOffset) => {
        const offset = rawOffset % size;
        const ws = TumblingEventTimeWindows.of(size, offset).assignWindows('x', ts, context());
        expect(names(ws)).toEqual(referenceSliding(ts, size, size, offset));
        expect(ws).toHaveLength(1);
      }),
    );
  });

  it('by processing time use the clock, not the record timestamp', () => {
    const ws = TumblingProcessingTimeWindows.of(1_000).assignWindows('x', NO_TIMESTAMP, context(2_500));
    expect(names(ws)).toEqual(['2000|3000']);
    expect(TumblingProcessingTimeWindows.of(1_000).isEventTime).toBe(false);
  });

  it('validate size and offset', () => {
    expect(() => TumblingEventTimeWindows.of(0)).toThrow(JobDefinitionError);
    expect(() => TumblingEventTimeWindows.of(-5)).toThrow(/positive integer/);
    expect(() => TumblingEventTimeWindows.of(1.5)).toThrow(/positive integer/);
    expect(() => TumblingEventTimeWindows.of(10, 10)).toThrow(/\|offset\| < 10/);
    expect(() => TumblingProcessingTimeWindows.of(10, -10)).toThrow(/offset/);
    expect(TumblingEventTimeWindows.of(10, -9).offsetMs).toBe(-9);
  });

  it('fail clearly on a record without timestamp, naming the operator', () => {
    const assign = () => TumblingEventTimeWindows.of(10).assignWindows('x', NO_TIMESTAMP, context());
    expect(assign).toThrow(TaskFailure);
    expect(assign).toThrow(
      "record has no timestamp: assign timestamps with assignTimestampsAndWatermarks before an event-time window (operator 'Window(test)', subtask 1/1)",
    );
    expect(() => TumblingEventTimeWindows.of(10).assignWindows('x', Number.NaN, context())).toThrow(
      /got NaN/,
    );
  });
});

describe('sliding windows', () => {
  it('assign every window of Flink’s formula, size/slide of them when slide divides size', () => {
    fc.assert(
      fc.property(
        timestamp,
        fc.integer({ min: 1, max: 1e6 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer(),
        (ts, slide, factor, rawOffset) => {
          const size = slide * factor;
          const offset = rawOffset % slide;
          const ws = SlidingEventTimeWindows.of(size, slide, offset).assignWindows('x', ts, context());
          expect(names(ws)).toEqual(referenceSliding(ts, size, slide, offset));
          expect(ws).toHaveLength(factor);
          for (const w of ws) expect(w.start <= ts && ts <= w.maxTimestamp()).toBe(true);
        },
      ),
    );
  });

  it('handle a slide that does not divide the size', () => {
    fc.assert(
      fc.property(timestamp, fc.integer({ min: 1, max: 1e6 }), fc.nat(), (ts, slide, extra) => {
        // At most 20 windows per element, so the test stays fast.
        const size = slide + (extra % (slide * 20));
        const ws = SlidingEventTimeWindows.of(size, slide).assignWindows('x', ts, context());
        expect(names(ws)).toEqual(referenceSliding(ts, size, slide, 0));
        expect(ws.length === Math.floor(size / slide) || ws.length === Math.ceil(size / slide)).toBe(true);
      }),
    );
  });

  it('validate arguments', () => {
    expect(() => SlidingEventTimeWindows.of(10, 20)).toThrow(
      /slide \(20 ms\) must not exceed size \(10 ms\)/,
    );
    expect(() => SlidingEventTimeWindows.of(10, 0)).toThrow(/slide must be a positive integer/);
    expect(() => SlidingProcessingTimeWindows.of(10, 5, 5)).toThrow(/\|offset\| < 5/);
  });

  it('by processing time use the clock', () => {
    const ws = SlidingProcessingTimeWindows.of(10, 5).assignWindows('x', 0, context(12));
    expect(names(ws)).toEqual(['10|20', '5|15']);
  });
});

describe('session windows', () => {
  it('open [ts, ts + gap) per element and merge', () => {
    const assigner = EventTimeSessionWindows.withGap(30);
    expect(names(assigner.assignWindows('x', -7, context()))).toEqual(['-7|23']);
    expect(isMergingAssigner(assigner)).toBe(true);
    expect(isMergingAssigner(TumblingEventTimeWindows.of(5))).toBe(false);
    expect(
      names(ProcessingTimeSessionWindows.withGap(5).assignWindows('x', NO_TIMESTAMP, context(100))),
    ).toEqual(['100|105']);
    expect(() => EventTimeSessionWindows.withGap(0)).toThrow(/gap must be a positive integer/);
    expect(() => assigner.assignWindows('x', NO_TIMESTAMP, context())).toThrow(/record has no timestamp/);
  });
});

describe('global windows', () => {
  it('put everything into the one global window, which never fires by default', () => {
    const ws = GlobalWindows.create().assignWindows();
    expect(ws).toEqual([GlobalWindow.INSTANCE]);
    expect(GlobalWindows.create().defaultTrigger().toString()).toBe('NeverTrigger');
    expect(GlobalWindow.codec.fromNamespace(GlobalWindow.codec.toNamespace(GlobalWindow.get()))).toBe(
      GlobalWindow.INSTANCE,
    );
  });
});
