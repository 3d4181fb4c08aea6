/** Sliding windows: fixed-size time windows that start every `slide` and so overlap. */
import { JobDefinitionError } from '../../../core/errors.ts';
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

function checkSliding(name: string, sizeMs: number, slideMs: number, offsetMs: number): void {
  requirePositiveMs(sizeMs, `${name} size`);
  requirePositiveMs(slideMs, `${name} slide`);
  if (slideMs > sizeMs) {
    throw new JobDefinitionError(
      `${name} slide (${slideMs} ms) must not exceed size (${sizeMs} ms): elements between windows would be lost`,
    );
  }
  requireOffsetMs(offsetMs, slideMs, `${name} offset`);
}

/** Every window `[start, start + size)` with `start ≡ offset (mod slide)` that contains `timestampMs`. */
function slidingWindows(
  timestampMs: number,
  sizeMs: number,
  slideMs: number,
  offsetMs: number,
): TimeWindow[] {
  const windows: TimeWindow[] = [];
  const lastStart = TimeWindow.getWindowStartWithOffset(timestampMs, offsetMs, slideMs);
  for (let start = lastStart; start > timestampMs - sizeMs; start -= slideMs) {
    windows.push(new TimeWindow(start, start + sizeMs));
  }
  return windows;
}

/**
 * Windows of `sizeMs` starting every `slideMs`: each element belongs to about `size / slide`
 * windows. `slideMs` must not exceed `sizeMs` (Flink allows it, dropping the elements that
 * fall between windows; we refuse, since that is almost always a mistake).
 *
 * @example
 * stream.keyBy(o => o.user).window(SlidingEventTimeWindows.of(60_000, 10_000)).reduce((a, b) => a + b)
 */
export class SlidingEventTimeWindows implements WindowAssigner<unknown, TimeWindow> {
  readonly sizeMs: number;
  readonly slideMs: number;
  readonly offsetMs: number;
  readonly isEventTime = true;
  readonly windowCodec: WindowCodec<TimeWindow> = TimeWindow.codec;

  private constructor(sizeMs: number, slideMs: number, offsetMs: number) {
    this.sizeMs = sizeMs;
    this.slideMs = slideMs;
    this.offsetMs = offsetMs;
  }

  static of(sizeMs: number, slideMs: number, offsetMs = 0): SlidingEventTimeWindows {
    checkSliding('SlidingEventTimeWindows', sizeMs, slideMs, offsetMs);
    return new SlidingEventTimeWindows(sizeMs, slideMs, offsetMs);
  }

  assignWindows(_element: unknown, timestampMs: number, context: WindowAssignerContext): TimeWindow[] {
    return slidingWindows(
      requireEventTimestamp(timestampMs, context),
      this.sizeMs,
      this.slideMs,
      this.offsetMs,
    );
  }

  defaultTrigger(): Trigger<unknown, TimeWindow> {
    return EventTimeTrigger.create();
  }

  toString(): string {
    return `SlidingEventTimeWindows(${this.sizeMs}, ${this.slideMs})`;
  }
}

/**
 * Sliding windows by the subtask's clock.
 *
 * @example
 * stream.keyBy(o => o.user).window(SlidingProcessingTimeWindows.of(60_000, 10_000)).reduce((a, b) => a + b)
 */
export class SlidingProcessingTimeWindows implements WindowAssigner<unknown, TimeWindow> {
  readonly sizeMs: number;
  readonly slideMs: number;
  readonly offsetMs: number;
  readonly isEventTime = false;
  readonly windowCodec: WindowCodec<TimeWindow> = TimeWindow.codec;

  private constructor(sizeMs: number, slideMs: number, offsetMs: number) {
    this.sizeMs = sizeMs;
    this.slideMs = slideMs;
    this.offsetMs = offsetMs;
  }

  static of(sizeMs: number, slideMs: number, offsetMs = 0): SlidingProcessingTimeWindows {
    checkSliding('SlidingProcessingTimeWindows', sizeMs, slideMs, offsetMs);
    return new SlidingProcessingTimeWindows(sizeMs, slideMs, offsetMs);
  }

  assignWindows(_element: unknown, _timestampMs: number, context: WindowAssignerContext): TimeWindow[] {
    return slidingWindows(context.currentProcessingTime(), this.sizeMs, this.slideMs, this.offsetMs);
  }

  defaultTrigger(): Trigger<unknown, TimeWindow> {
    return ProcessingTimeTrigger.create();
  }

  toString(): string {
    return `SlidingProcessingTimeWindows(${this.sizeMs}, ${this.slideMs})`;
  }
}
