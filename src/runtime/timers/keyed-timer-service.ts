/** Event-time and processing-time timers of one keyed operator, scoped to key and namespace. */
import type { Cancellable } from '../../core/clock.ts';
import type { KeyedStateBackend, KeyedTimerQueue, QueuedTimer } from '../../state/keyed-state-backend.ts';
import { MIN_WATERMARK } from '../elements.ts';
import type { InternalTimerService, ProcessingTimeService, Triggerable } from '../timer-service.ts';
import { HeapTimerQueue } from './timer-queue.ts';

/** Timers fired between two checks of whether the backend's writes are backed up. */
export const TIMERS_BETWEEN_PAUSE_CHECKS = 256;

/**
 * Keeps one timer per (key, namespace, timestamp). Event-time timers fire when the
 * operator's watermark passes them; processing-time timers through the task's mailbox, so
 * a timer never runs in the middle of a batch. Before each firing the backend's current
 * key is set to the timer's key.
 */
export class KeyedTimerService implements InternalTimerService {
  readonly name: string;
  readonly #backend: KeyedStateBackend;
  readonly #target: Triggerable;
  readonly #processingTime: ProcessingTimeService;
  readonly #eventTimers: KeyedTimerQueue;
  readonly #processingTimers: KeyedTimerQueue;
  #watermark = MIN_WATERMARK;
  #scheduledAtMs = Number.POSITIVE_INFINITY;
  #scheduled: Cancellable | undefined;

  constructor(
    name: string,
    backend: KeyedStateBackend,
    target: Triggerable,
    processingTime: ProcessingTimeService,
  ) {
    this.name = name;
    this.#backend = backend;
    this.#target = target;
    this.#processingTime = processingTime;
    this.#eventTimers = backend.createTimerQueue?.(name, 'event') ?? new HeapTimerQueue();
    this.#processingTimers = backend.createTimerQueue?.(name, 'processing') ?? new HeapTimerQueue();
  }

  /**
   * Schedules the processing-time callback for the earliest queued timer: for timers a
   * backend restored into its queue. The task calls it once the backend's restore is loaded
   * (a peek before would load it all at once).
   */
  reschedule(): void {
    const top = this.#processingTimers.peek();
    if (top !== undefined && top.timestampMs < this.#scheduledAtMs) this.#schedule(top.timestampMs);
  }

  currentProcessingTime(): number {
    return this.#processingTime.currentProcessingTime();
  }

  currentWatermark(): number {
    return this.#watermark;
  }

  registerEventTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#eventTimers.add(
      this.#backend.getCurrentKey(),
      this.#backend.getCurrentKeyGroup(),
      namespace,
      timestampMs,
    );
  }

  deleteEventTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#eventTimers.remove(
      this.#backend.getCurrentKey(),
      this.#backend.getCurrentKeyGroup(),
      namespace,
      timestampMs,
    );
  }

  registerProcessingTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#processingTimers.add(
      this.#backend.getCurrentKey(),
      this.#backend.getCurrentKeyGroup(),
      namespace,
      timestampMs,
    );
    if (timestampMs < this.#scheduledAtMs) this.#schedule(timestampMs);
  }

  deleteProcessingTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#processingTimers.remove(
      this.#backend.getCurrentKey(),
      this.#backend.getCurrentKeyGroup(),
      namespace,
      timestampMs,
    );
  }

  /**
   * Fires every event-time timer at or before `watermarkMs`, earliest first; true when done.
   * False when it stopped early because the backend's writes are backed up (see
   * `KeyedStateBackend.isBackedUp`): call again with the same watermark once the task has
   * awaited the backend. Each call fires at least TIMERS_BETWEEN_PAUSE_CHECKS timers, if due.
   */
  advanceWatermark(watermarkMs: number): boolean {
    this.#watermark = watermarkMs;
    for (let fired = 1; ; fired++) {
      const top = this.#eventTimers.peek();
      if (top === undefined || top.timestampMs > watermarkMs) return true;
      this.#eventTimers.pop();
      this.#backend.setCurrentKey(top.key, top.keyGroup);
      this.#target.onEventTime(top);
      if (fired % TIMERS_BETWEEN_PAUSE_CHECKS === 0 && this.#backend.isBackedUp?.() === true) return false;
    }
  }

  /** Fires every processing-time timer due at `nowMs`; runs in the task's mailbox. */
  onProcessingTime(nowMs: number): void {
    this.#scheduled = undefined;
    this.#scheduledAtMs = Number.POSITIVE_INFINITY;
    for (let fired = 1; ; fired++) {
      const top = this.#processingTimers.peek();
      if (top === undefined) return;
      if (top.timestampMs > nowMs) {
        this.#schedule(top.timestampMs);
        return;
      }
      this.#processingTimers.pop();
      this.#backend.setCurrentKey(top.key, top.keyGroup);
      this.#target.onProcessingTime(top);
      if (fired % TIMERS_BETWEEN_PAUSE_CHECKS === 0 && this.#backend.isBackedUp?.() === true) {
        // The rest fire from the mailbox again, after an event-loop turn lets writes commit.
        this.#schedule(nowMs);
        return;
      }
    }
  }

  /** Live timers kept on the heap, for snapshots and tests (none when the backend keeps them: it snapshots them itself). */
  eventTimers(): Iterable<QueuedTimer> {
    return heapTimers(this.#eventTimers);
  }

  processingTimers(): Iterable<QueuedTimer> {
    return heapTimers(this.#processingTimers);
  }

  dispose(): void {
    this.#scheduled?.cancel();
    this.#scheduled = undefined;
  }

  #schedule(atMs: number): void {
    this.#scheduled?.cancel();
    this.#scheduledAtMs = atMs;
    this.#scheduled = this.#processingTime.registerTimer(atMs, (now) => this.onProcessingTime(now));
  }
}

function heapTimers(queue: KeyedTimerQueue): Iterable<QueuedTimer> {
  return queue instanceof HeapTimerQueue ? queue.entries() : [];
}
