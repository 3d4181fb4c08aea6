/** NeverTrigger: the default trigger of global windows, which never fires on its own. */
import type { Trigger, TriggerResult } from '../trigger.ts';
import type { Window } from '../window.ts';

/**
 * Never fires. Global windows have no end, so a job using them must set a trigger of its
 * own (`countWindow` sets a count trigger); with this one nothing is ever emitted.
 *
 * @example
 * stream.keyBy(o => o.user).window(GlobalWindows.create()) // fires never until .trigger(...)
 */
export class NeverTrigger implements Trigger<unknown, Window> {
  static readonly #INSTANCE = new NeverTrigger();

  private constructor() {}

  static create(): NeverTrigger {
    return NeverTrigger.#INSTANCE;
  }

  onElement(): TriggerResult {
    return 'CONTINUE';
  }

  onEventTime(): TriggerResult {
    return 'CONTINUE';
  }

  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }

  canMerge(): boolean {
    return true;
  }

  onMerge(): void {}

  clear(): void {}

  toString(): string {
    return 'NeverTrigger';
  }
}
