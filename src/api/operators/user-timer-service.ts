/** The TimerService user functions see: the operator's internal timers, in the void namespace. */
import type { InternalTimerService } from '../../runtime/timer-service.ts';
import { VOID_NAMESPACE } from '../../state/keyed-state.ts';
import type { TimerService } from '../functions.ts';

/**
 * Timers of the current key. Registering the same timestamp twice keeps one timer; a NaN or
 * non-number timestamp is refused here, where the user can see which call was wrong, rather
 * than corrupting the timer queue.
 *
 * @example
 * ```ts
 * const timers = new UserTimerService(this.context.getTimerService('user-timers', this));
 * timers.registerEventTimeTimer(timestamp + 60_000);
 * ```
 */
export class UserTimerService implements TimerService {
  readonly #timers: InternalTimerService;

  constructor(timers: InternalTimerService) {
    this.#timers = timers;
  }

  currentProcessingTime(): number {
    return this.#timers.currentProcessingTime();
  }
  currentWatermark(): number {
    return this.#timers.currentWatermark();
  }
  registerEventTimeTimer(timestampMs: number): void {
    this.#timers.registerEventTimeTimer(VOID_NAMESPACE, checkTimestamp(timestampMs));
  }
  deleteEventTimeTimer(timestampMs: number): void {
    this.#timers.deleteEventTimeTimer(VOID_NAMESPACE, timestampMs);
  }
  registerProcessingTimeTimer(timestampMs: number): void {
    this.#timers.registerProcessingTimeTimer(VOID_NAMESPACE, checkTimestamp(timestampMs));
  }
  deleteProcessingTimeTimer(timestampMs: number): void {
    this.#timers.deleteProcessingTimeTimer(VOID_NAMESPACE, timestampMs);
  }
}

function checkTimestamp(timestampMs: number): number {
  if (typeof timestampMs !== 'number' || Number.isNaN(timestampMs)) {
    throw new TypeError(`a timer needs a timestamp in milliseconds, got ${String(timestampMs)}`);
  }
  return timestampMs;
}
