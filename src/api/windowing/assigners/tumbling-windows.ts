/** Tumbling windows: fixed-size, non-overlapping time windows, by event time or processing time. */

import { TimeWindow } from '../time-window.ts';
import type { Trigger } from '../trigger.ts';
import { EventTimeTrigger } from '../triggers/event-time-trigger.ts';
import { ProcessingTimeTrigger } from '../triggers/processing-time-trigger.ts';
import type { WindowCodec } from '../window.ts';
import {
  requireEventTimestamp,
  requireOffsetMs,
  requirePositiveMs,
  type WindowAssigner,
  type WindowAssignerContext,
} from '../window-assigner.ts';

/**
 * Puts each element into the one window `[start, start + size)` containing its timestamp,
 * windows aligned to the epoch plus `offsetMs` (an offset shifts e.g. daily windows to a time zone).
 *
 * @example
 * stream.keyBy(o => o.user).window(TumblingEventTimeWindows.of(60_000)).reduce((a, b) => a + b)
 */
export class TumblingEventTimeWindows implements WindowAssigner<unknown, TimeWindow> {
  readonly sizeMs: number;
  readonly offsetMs: number;
  readonly isEventTime = true;
  readonly windowCodec: WindowCodec<TimeWindow> = TimeWindow.codec;

  private constructor(sizeMs: number, offsetMs: number) {
    this.sizeMs = sizeMs;
    this.offsetMs = offsetMs;
  }

  static of(sizeMs: number, offsetMs = 0): TumblingEventTimeWindows {
    requirePositiveMs(sizeMs, 'TumblingEventTimeWindows size');
    requireOffsetMs(offsetMs, sizeMs, 'TumblingEventTimeWindows offset');
    return new TumblingEventTimeWindows(sizeMs, offsetMs);
  }

  assignWindows(_element: unknown, timestampMs: number, context: WindowAssignerContext): TimeWindow[] {
    const start = TimeWindow.getWindowStartWithOffset(
      requireEventTimestamp(timestampMs, context),
      this.offsetMs,
      this.sizeMs,
    );
    return [new TimeWindow(start, start + this.sizeMs)];
  }

  defaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  toString(): string {
    return `TumblingEventTimeWindows(${this.sizeMs})`;
  }
}

/**
 * Tumbling windows by the clock of the subtask: an element goes into the window containing
 * the processing time at which it arrives.
 *
 * @example
 * stream.keyBy(o => o.user).window(TumblingProcessingTimeWindows.of(1_000)).reduce((a, b) => a + b)
 */
export class TumblingProcessingTimeWindows implements WindowAssigner<unknown, TimeWindow> {
  readonly sizeMs: number;
  readonly offsetMs: number;
  readonly isEventTime = false;
  readonly windowCodec: WindowCodec<TimeWindow> = TimeWindow.codec;

  private constructor(sizeMs: number, offsetMs: number) {
    this.sizeMs = sizeMs;
    this.offsetMs = offsetMs;
  }

  static of(sizeMs: number, offsetMs = 0): TumblingProcessingTimeWindows {
    requirePositiveMs(sizeMs, 'TumblingProcessingTimeWindows size');
    requireOffsetMs(offsetMs, sizeMs, 'TumblingProcessingTimeWindows offset');
    return new TumblingProcessingTimeWindows(sizeMs, offsetMs);
  }

  assignWindows(_element: unknown, _timestampMs: number, context: WindowAssignerContext): TimeWindow[] {
    const start = TimeWindow.getWindowStartWithOffset(
      context.currentProcessingTime(),
      this.offsetMs,
      this.sizeMs,
    );
    return [new TimeWindow(start, start + this.sizeMs)];
  }

  defaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return `TumblingProcessingTimeWindows(${this.sizeMs})`;
  }
}
