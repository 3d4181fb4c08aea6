/** CountTrigger: fires a window every time it has received a given number of elements. */
import { JobDefinitionError } from '../../../core/errors.ts';
import type { ReducingStateDescriptor } from '../../../state/descriptors.ts';
import type { OnMergeContext, Trigger, TriggerContext, TriggerResult } from '../trigger.ts';
import type { Window } from '../window.ts';

const COUNT_STATE: ReducingStateDescriptor<number> = {
  kind: 'reducing',
  name: 'count-trigger.count',
  reduce: (a, b) => a + b,
};

/**
 * Fires once the window has received `maxCount` elements since it last fired, then starts
 * counting again. The count lives in per-window reducing state, so it is part of every
 * snapshot and survives a restore. Wrap it in `PurgingTrigger` to drop the contents on each
 * firing (what `countWindow(size)` does).
 *
 * @example
 * stream.keyBy(o => o.user).window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(100)))
 */
export class CountTrigger implements Trigger<unknown, Window> {
  readonly maxCount: number;

  private constructor(maxCount: number) {
    this.maxCount = maxCount;
  }

  static of(maxCount: number): CountTrigger {
    if (!Number.isSafeInteger(maxCount) || maxCount <= 0) {
      throw new JobDefinitionError(`CountTrigger.of needs a positive integer count, got ${maxCount}`);
    }
    return new CountTrigger(maxCount);
  }

  onElement(_element: unknown, _timestampMs: number, _window: Window, ctx: TriggerContext): TriggerResult {
    const count = ctx.getPartitionedState(COUNT_STATE);
    count.add(1);
    if ((count.get() ?? 0) < this.maxCount) return 'CONTINUE';
    count.clear();
    return 'FIRE';
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

  onMerge(_window: Window, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(COUNT_STATE);
  }

  clear(_window: Window, ctx: TriggerContext): void {
    ctx.getPartitionedState(COUNT_STATE).clear();
  }

  toString(): string {
    return `CountTrigger(${this.maxCount})`;
  }
}
