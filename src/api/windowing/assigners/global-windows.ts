/** Global windows: one window per key that holds every element; a custom trigger decides when it fires. */
import { GlobalWindow } from '../global-window.ts';
import type { Trigger } from '../trigger.ts';
import { NeverTrigger } from '../triggers/never-trigger.ts';
import type { WindowCodec } from '../window.ts';
import type { WindowAssigner } from '../window-assigner.ts';

const SINGLE: readonly GlobalWindow[] = Object.freeze([GlobalWindow.INSTANCE]);

/**
 * Assigns every element to the single `GlobalWindow`. The default trigger never fires; use
 * `.trigger(...)` (count windows are global windows with a count trigger). Global windows
 * are neither event- nor processing-time windows: lateness does not apply and they are never
 * cleaned up by time, so their contents are not emitted at the end of input.
 *
 * @example
 * stream.keyBy(o => o.user).window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(3)))
 */
export class GlobalWindows implements WindowAssigner<unknown, GlobalWindow> {
  static readonly #INSTANCE = new GlobalWindows();
  readonly isEventTime = false;
  readonly windowCodec: WindowCodec<GlobalWindow> = GlobalWindow.codec;

  private constructor() {}

  static create(): GlobalWindows {
    return GlobalWindows.#INSTANCE;
  }

  assignWindows(): GlobalWindow[] {
    // The operator only reads the array; sharing one avoids an allocation per record.
    return SINGLE as GlobalWindow[];
  }

  defaultTrigger(): Trigger<unknown, GlobalWindow> {
    return NeverTrigger.create();
  }

  toString(): string {
    return 'GlobalWindows';
  }
}
