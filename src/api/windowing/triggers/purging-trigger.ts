/** PurgingTrigger: turns every FIRE of another trigger into FIRE_AND_PURGE. */
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from '../trigger.ts';
import type { Window } from '../window.ts';

function purging(result: TriggerResult): TriggerResult {
  return result === 'FIRE' ? 'FIRE_AND_PURGE' : result;
}

/**
 * Wraps a trigger so that the window's contents are dropped whenever it fires: each firing
 * then covers only the elements since the previous one.
 *
 * @example
 * const tumblingCount = PurgingTrigger.of(CountTrigger.of(100));
 */
export class PurgingTrigger<T, W extends Window> implements Trigger<T, W> {
  readonly nested: Trigger<T, W>;

  private constructor(nested: Trigger<T, W>) {
    this.nested = nested;
  }

  static of<T, W extends Window>(nested: Trigger<T, W>): PurgingTrigger<T, W> {
    return new PurgingTrigger(nested);
  }

  onElement(element: T, timestampMs: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onElement(element, timestampMs, window, ctx));
  }

  onEventTime(timestampMs: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onEventTime(timestampMs, window, ctx));
  }

  onProcessingTime(timestampMs: number, window: W, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onProcessingTime(timestampMs, window, ctx));
  }

  canMerge(): boolean {
    return this.nested.canMerge();
  }

  onMerge(window: W, ctx: OnMergeContext): void {
    this.nested.onMerge?.(window, ctx);
  }

  clear(window: W, ctx: TriggerContext): void {
    this.nested.clear(window, ctx);
  }

  toString(): string {
    return `PurgingTrigger(${this.nested.toString()})`;
  }
}
