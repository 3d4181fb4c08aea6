/** Session windows: per-key windows that grow while elements keep arriving within a gap of each other. */

import { TimeWindow } from '../time-window.ts';
import type { Trigger } from '../trigger.ts';
import { EventTimeTrigger } from '../triggers/event-time-trigger.ts';
import { ProcessingTimeTrigger } from '../triggers/processing-time-trigger.ts';
import type { WindowCodec } from '../window.ts';
import {
  type MergingWindowAssigner,
  requireEventTimestamp,
  requirePositiveMs,
  type WindowAssignerContext,
} from '../window-assigner.ts';

/**
 * Each element opens the window `[timestamp, timestamp + gap)`; windows of one key that
 * overlap or touch merge into one session, which closes after `gapMs` without elements.
 *
 * @example
 * stream.keyBy(c => c.user).window(EventTimeSessionWindows.withGap(30 * 60_000)).process(summarize)
 */
export class EventTimeSessionWindows implements MergingWindowAssigner<unknown, TimeWindow> {
  readonly gapMs: number;
  readonly isEventTime = true;
  readonly windowCodec: WindowCodec<TimeWindow> = TimeWindow.codec;

  private constructor(gapMs: number) {
    this.gapMs = gapMs;
  }

  static withGap(gapMs: number): EventTimeSessionWindows {
    return new EventTimeSessionWindows(requirePositiveMs(gapMs, 'EventTimeSessionWindows gap'));
  }

  assignWindows(_element: unknown, timestampMs: number, context: WindowAssignerContext): TimeWindow[] {
    const start = requireEventTimestamp(timestampMs, context);
    return [new TimeWindow(start, start + this.gapMs)];
  }

  mergeWindows(
    windows: readonly TimeWindow[],
    callback: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void,
  ): void {
    TimeWindow.mergeWindows(windows, callback);
  }

  defaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  toString(): string {
    return `EventTimeSessionWindows(${this.gapMs})`;
  }
}

/**
 * Session windows by the subtask's clock: a session closes once no element arrived for `gapMs`.
 *
 * @example
 * stream.keyBy(c => c.user).window(ProcessingTimeSessionWindows.withGap(10_000)).process(summarize)
 */
export class ProcessingTimeSessionWindows implements MergingWindowAssigner<unknown, TimeWindow> {
  readonly gapMs: number;
  readonly isEventTime = false;
  readonly windowCodec: WindowCodec<TimeWindow> = TimeWindow.codec;

  private constructor(gapMs: number) {
    this.gapMs = gapMs;
  }

  static withGap(gapMs: number): ProcessingTimeSessionWindows {
    return new ProcessingTimeSessionWindows(requirePositiveMs(gapMs, 'ProcessingTimeSessionWindows gap'));
  }

  assignWindows(_element: unknown, _timestampMs: number, context: WindowAssignerContext): TimeWindow[] {
    const start = context.currentProcessingTime();
    return [new TimeWindow(start, start + this.gapMs)];
  }

  mergeWindows(
    windows: readonly TimeWindow[],
    callback: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void,
  ): void {
    TimeWindow.mergeWindows(windows, callback);
  }

  defaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return `ProcessingTimeSessionWindows(${this.gapMs})`;
  }
}
