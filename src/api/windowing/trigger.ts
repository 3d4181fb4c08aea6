/** The trigger contract: decides, per window, when its contents are emitted and when they are dropped. */
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../state/descriptors.ts';
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from '../../state/keyed-state.ts';
import type { Window } from './window.ts';

/**
 * What a trigger tells the operator: FIRE emits the window's current contents (they stay),
 * PURGE drops them, FIRE_AND_PURGE does both, CONTINUE does nothing.
 */
export type TriggerResult = 'CONTINUE' | 'FIRE' | 'PURGE' | 'FIRE_AND_PURGE';

/** Whether `result` emits the window. */
export function isFire(result: TriggerResult): boolean {
  return result === 'FIRE' || result === 'FIRE_AND_PURGE';
}

/** Whether `result` drops the window's contents. */
export function isPurge(result: TriggerResult): boolean {
  return result === 'PURGE' || result === 'FIRE_AND_PURGE';
}

/**
 * What a trigger may use, scoped to the current key and window: timers (delivered back to
 * the trigger's onEventTime / onProcessingTime) and state that is part of the keyed state,
 * hence of every snapshot.
 */
export interface TriggerContext {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(timestampMs: number): void;
  deleteEventTimeTimer(timestampMs: number): void;
  registerProcessingTimeTimer(timestampMs: number): void;
  deleteProcessingTimeTimer(timestampMs: number): void;
  /** State of the current key and window; the same descriptor name must keep the same kind. */
  getPartitionedState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getPartitionedState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getPartitionedState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getPartitionedState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getPartitionedState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT>;
}

/** Given to `onMerge`: the current window is the merge result. */
export interface OnMergeContext extends TriggerContext {
  /**
   * Folds the state named by `descriptor` of every window that was merged into the state of
   * the result window. Reducing and list state can be merged.
   */
  mergePartitionedState<T>(descriptor: ReducingStateDescriptor<T> | ListStateDescriptor<T>): void;
}

/**
 * Decides when a window fires. Called with the current key set; every method gets the
 * window it concerns. A trigger that can be used with merging (session) windows returns
 * true from `canMerge` and implements `onMerge`, which re-registers its timers and merges
 * its state for the merged window.
 *
 * @example
 * const everyTen: Trigger<unknown, Window> = CountTrigger.of(10);
 */
export interface Trigger<T, W extends Window> {
  onElement(element: T, timestampMs: number, window: W, ctx: TriggerContext): TriggerResult;
  onEventTime(timestampMs: number, window: W, ctx: TriggerContext): TriggerResult;
  onProcessingTime(timestampMs: number, window: W, ctx: TriggerContext): TriggerResult;
  canMerge(): boolean;
  onMerge?(window: W, ctx: OnMergeContext): void;
  /** The window is being removed: delete its timers and clear its trigger state. */
  clear(window: W, ctx: TriggerContext): void;
  /** Shown in the operator name. */
  toString(): string;
}
