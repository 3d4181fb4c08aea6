/** ProcessingTimeTrigger: fires a time window once the clock passes its end. */
import type { TimeWindow } from '../time-window.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from '../trigger.ts';

/**
 * Fires when processing time reaches `window.maxTimestamp()`.
 *
 * @example
 * stream.keyBy(o => o.user).window(TumblingProcessingTimeWindows.of(1_000)).trigger(ProcessingTimeTrigger.create())
 */
export class ProcessingTimeTrigger implements Trigger<unknown, TimeWindow> {
  static readonly #INSTANCE = new ProcessingTimeTrigger();

  private constructor() {}

  static create(): ProcessingTimeTrigger {
    return ProcessingTimeTrigger.#INSTANCE;
  }

  onElement(_element: unknown, _timestampMs: number, window: TimeWindow, ctx: TriggerContext): TriggerResult {
    ctx.registerProcessingTimeTimer(window.maxTimestamp());
    return 'CONTINUE';
  }

  onEventTime(): TriggerResult {
    return 'CONTINUE';
  }

  onProcessingTime(): TriggerResult {
    return 'FIRE';
  }

  canMerge(): boolean {
    return true;
  }

  onMerge(window: TimeWindow, ctx: OnMergeContext): void {
    if (window.maxTimestamp() > ctx.currentProcessingTime())
      ctx.registerProcessingTimeTimer(window.maxTimestamp());
  }

  clear(window: TimeWindow, ctx: TriggerContext): void {
    ctx.deleteProcessingTimeTimer(window.maxTimestamp());
  }

  toString(): string {
    return 'ProcessingTimeTrigger';
  }
}
