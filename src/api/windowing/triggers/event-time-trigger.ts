/** EventTimeTrigger: fires a time window once the watermark passes its end. */
import type { TimeWindow } from '../time-window.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from '../trigger.ts';

/**
 * Fires when the watermark reaches `window.maxTimestamp()`. An element arriving for a window
 * the watermark has already passed (late but within the allowed lateness) fires it again at
 * once, so the downstream sees an updated result.
 *
 * @example
 * stream.keyBy(o => o.user).window(TumblingEventTimeWindows.of(60_000)).trigger(EventTimeTrigger.create())
 */
export class EventTimeTrigger implements Trigger<unknown, TimeWindow> {
  static readonly #INSTANCE = new EventTimeTrigger();

  private constructor() {}

  static create(): EventTimeTrigger {
    return EventTimeTrigger.#INSTANCE;
  }

  onElement(_element: unknown, _timestampMs: number, window: TimeWindow, ctx: TriggerContext): TriggerResult {
    if (window.maxTimestamp() <= ctx.currentWatermark()) return 'FIRE';
    ctx.registerEventTimeTimer(window.maxTimestamp());
    return 'CONTINUE';
  }

  onEventTime(timestampMs: number, window: TimeWindow): TriggerResult {
    return timestampMs === window.maxTimestamp() ? 'FIRE' : 'CONTINUE';
  }

  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }

  canMerge(): boolean {
    return true;
  }

  onMerge(window: TimeWindow, ctx: OnMergeContext): void {
    // A merged window whose end the watermark already passed fires via its late element
    // (onElement), not via a timer that would fire immediately on the next watermark.
    if (window.maxTimestamp() > ctx.currentWatermark()) ctx.registerEventTimeTimer(window.maxTimestamp());
  }

  clear(window: TimeWindow, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }

  toString(): string {
    return 'EventTimeTrigger';
  }
}
