/** The window assigner contract: which windows an element belongs to, and how windows merge. */
import { JobDefinitionError, TaskFailure, type TaskLocation } from '../../core/errors.ts';
import type { Trigger } from './trigger.ts';
import type { Window, WindowCodec } from './window.ts';

/** What an assigner may read while it assigns an element. */
export interface WindowAssignerContext {
  currentProcessingTime(): number;
  /** Where the assigner runs, for the errors it raises on bad records. */
  readonly location: TaskLocation;
}

/**
 * Assigns each element to zero or more windows. `isEventTime` tells the operator whether
 * windows end by watermark (lateness applies) or by the clock.
 *
 * @example
 * const assigner: WindowAssigner<Order, TimeWindow> = TumblingEventTimeWindows.of(60_000);
 */
export interface WindowAssigner<T, W extends Window> {
  assignWindows(element: T, timestampMs: number, context: WindowAssignerContext): W[];
  defaultTrigger(): Trigger<T, W>;
  readonly isEventTime: boolean;
  /** How windows of this assigner map to state and timer namespaces. */
  readonly windowCodec: WindowCodec<W>;
  /** Shown in the operator name. */
  toString(): string;
}

/**
 * An assigner whose windows grow by merging (session windows): `mergeWindows` reports each
 * group of windows that must become one, and the window that replaces them.
 */
export interface MergingWindowAssigner<T, W extends Window> extends WindowAssigner<T, W> {
  mergeWindows(windows: readonly W[], callback: (toBeMerged: W[], mergeResult: W) => void): void;
}

/** Whether `assigner` merges windows. */
export function isMergingAssigner<T, W extends Window>(
  assigner: WindowAssigner<T, W>,
): assigner is MergingWindowAssigner<T, W> {
  return typeof (assigner as Partial<MergingWindowAssigner<T, W>>).mergeWindows === 'function';
}

/**
 * The element's event timestamp, or a clear failure when it has none: event-time windows
 * need timestamps assigned upstream.
 */
export function requireEventTimestamp(timestampMs: number, context: WindowAssignerContext): number {
  if (Number.isFinite(timestampMs)) return timestampMs;
  const detail = timestampMs === Number.NEGATIVE_INFINITY ? '' : ` (got ${timestampMs})`;
  throw new TaskFailure(
    context.location,
    `record has no timestamp${detail}: assign timestamps with assignTimestampsAndWatermarks before an event-time window`,
  );
}

/** Checks a duration argument of an assigner factory. */
export function requirePositiveMs(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new JobDefinitionError(`${what} must be a positive integer number of milliseconds, got ${value}`);
  }
  return value;
}

/** Checks a window offset: an integer with |offset| < bound. */
export function requireOffsetMs(value: number, boundMs: number, what: string): number {
  if (!Number.isSafeInteger(value) || Math.abs(value) >= boundMs) {
    throw new JobDefinitionError(`${what} must be an integer with |offset| < ${boundMs} ms, got ${value}`);
  }
  return value;
}
