/** Timers: event-time timers fire on watermarks, processing-time timers on the clock. */

/**
 * Timers of one keyed operator, scoped to the current key and a namespace (a window, or
 * VOID_NAMESPACE). Registering the same (key, namespace, timestamp) twice keeps one timer.
 */
export interface InternalTimerService {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(namespace: string | number, timestampMs: number): void;
  deleteEventTimeTimer(namespace: string | number, timestampMs: number): void;
  registerProcessingTimeTimer(namespace: string | number, timestampMs: number): void;
  deleteProcessingTimeTimer(namespace: string | number, timestampMs: number): void;
}

/** A timer that fired; the operator's current key is set to `key` while it runs. */
export interface FiredTimer {
  readonly key: unknown;
  readonly namespace: string | number;
  readonly timestampMs: number;
}

/** What a keyed operator implements to be told about its timers. */
export interface Triggerable {
  onEventTime(timer: FiredTimer): void;
  onProcessingTime(timer: FiredTimer): void;
}

/**
 * Schedules a callback in the task's mailbox at a processing time, so that it runs on the
 * task's one logical thread, between batches, never concurrently with record processing.
 */
export interface ProcessingTimeService {
  currentProcessingTime(): number;
  registerTimer(
    atMs: number,
    callback: (timestampMs: number) => void,
  ): import('../core/clock.ts').Cancellable;
}
