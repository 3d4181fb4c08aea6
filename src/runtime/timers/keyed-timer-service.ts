/** Event-time and processing-time timers of one keyed operator, scoped to key and namespace. */
import type { Cancellable } from '../../core/clock.ts';
import { keyIdentityString } from '../../core/key-identity.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import { MIN_WATERMARK } from '../elements.ts';
import type { InternalTimerService, ProcessingTimeService, Triggerable } from '../timer-service.ts';
import { type TimerEntry, TimerQueue } from './timer-queue.ts';

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
  #eventTimers = new TimerQueue();
  #processingTimers = new TimerQueue();
  #eventIndex = new Map<string, TimerEntry>();
  #processingIndex = new Map<string, TimerEntry>();
  #sequence = 0;
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
  }

  currentProcessingTime(): number {
    return this.#processingTime.currentProcessingTime();
  }

  currentWatermark(): number {
    return this.#watermark;
  }

  registerEventTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#register(this.#eventTimers, this.#eventIndex, namespace, timestampMs);
  }

  deleteEventTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#delete(this.#eventIndex, namespace, timestampMs);
  }

  registerProcessingTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#register(this.#processingTimers, this.#processingIndex, namespace, timestampMs);
    if (timestampMs < this.#scheduledAtMs) this.#schedule(timestampMs);
  }

  deleteProcessingTimeTimer(namespace: string | number, timestampMs: number): void {
    this.#delete(this.#processingIndex, namespace, timestampMs);
  }

  /** Fires every event-time timer at or before `watermarkMs`, earliest first. */
  advanceWatermark(watermarkMs: number): void {
    this.#watermark = watermarkMs;
    for (;;) {
      const top = this.#eventTimers.peek();
      if (top === undefined || top.timestampMs > watermarkMs) return;
      this.#eventTimers.pop();
      this.#eventIndex.delete(indexKey(top.key, top.namespace, top.timestampMs));
      this.#backend.setCurrentKey(top.key, top.keyGroup);
      this.#target.onEventTime(top);
    }
  }

  /** Fires every processing-time timer due at `nowMs`; runs in the task's mailbox. */
  onProcessingTime(nowMs: number): void {
    this.#scheduled = undefined;
    this.#scheduledAtMs = Number.POSITIVE_INFINITY;
    for (;;) {
      const top = this.#processingTimers.peek();
      if (top === undefined) return;
      if (top.timestampMs > nowMs) {
        this.#schedule(top.timestampMs);
        return;
      }
      this.#processingTimers.pop();
      this.#processingIndex.delete(indexKey(top.key, top.namespace, top.timestampMs));
      this.#backend.setCurrentKey(top.key, top.keyGroup);
      this.#target.onProcessingTime(top);
    }
  }

  /** Live timers, for snapshots and tests. */
  eventTimers(): IterableIterator<TimerEntry> {
    return this.#eventTimers.entries();
  }

  processingTimers(): IterableIterator<TimerEntry> {
    return this.#processingTimers.entries();
  }

  dispose(): void {
    this.#scheduled?.cancel();
    this.#scheduled = undefined;
  }

  #register(
    queue: TimerQueue,
    index: Map<string, TimerEntry>,
    namespace: string | number,
    timestampMs: number,
  ): void {
    const key = this.#backend.getCurrentKey();
    const id = indexKey(key, namespace, timestampMs);
    if (index.has(id)) return;
    const entry: TimerEntry = {
      timestampMs,
      key,
      keyGroup: this.#backend.getCurrentKeyGroup(),
      namespace,
      sequence: this.#sequence++,
      deleted: false,
    };
    index.set(id, entry);
    queue.push(entry);
  }

  #delete(index: Map<string, TimerEntry>, namespace: string | number, timestampMs: number): void {
    const id = indexKey(this.#backend.getCurrentKey(), namespace, timestampMs);
    const entry = index.get(id);
    if (entry === undefined) return;
    entry.deleted = true;
    index.delete(id);
  }

  #schedule(atMs: number): void {
    this.#scheduled?.cancel();
    this.#scheduledAtMs = atMs;
    this.#scheduled = this.#processingTime.registerTimer(atMs, (now) => this.onProcessingTime(now));
  }
}

function indexKey(key: unknown, namespace: string | number, timestampMs: number): string {
  return `${keyIdentityString(key)}\u0000${typeof namespace === 'number' ? 'n' : 's'}${namespace}\u0000${timestampMs}`;
}
