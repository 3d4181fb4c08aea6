/** Timers in keyed state snapshots: what a task hands in at snapshot time and gets back on restore. */

/** One timer of a keyed operator's timer service, as a snapshot stores it. */
export interface TimerSnapshotEntry {
  /** The timer service's name (an operator may have several). */
  readonly service: string;
  readonly domain: 'event' | 'processing';
  readonly key: unknown;
  readonly keyGroup: number;
  readonly namespace: string | number;
  readonly timestampMs: number;
}

/** The fields of a live timer a snapshot needs (the runtime's TimerEntry has them). */
export interface SnapshotTimer {
  readonly timestampMs: number;
  readonly key: unknown;
  readonly keyGroup: number;
  readonly namespace: string | number;
}

/** What `collectTimers` reads: a keyed timer service's live timers. */
export interface TimerSource {
  eventTimers(): Iterable<SnapshotTimer>;
  processingTimers(): Iterable<SnapshotTimer>;
}

/** What `registerRestoredTimers` registers into: a keyed timer service, scoped to the backend's current key. */
export interface TimerRegistrar {
  registerEventTimeTimer(namespace: string | number, timestampMs: number): void;
  registerProcessingTimeTimer(namespace: string | number, timestampMs: number): void;
}

/**
 * Copies the live timers of one timer service into snapshot entries (appended to `into`):
 * the synchronous part of snapshotting timers, O(timers). The entries are fresh objects,
 * so timers that fire or are deleted afterwards do not change the snapshot.
 *
 * @example
 * ```ts
 * const timers: TimerSnapshotEntry[] = [];
 * collectTimers('window-timers', windowOperator.timerService, timers);
 * ```
 */
export function collectTimers(
  service: string,
  source: TimerSource,
  into: TimerSnapshotEntry[] = [],
): TimerSnapshotEntry[] {
  for (const timer of source.eventTimers()) into.push(entryOf(service, 'event', timer));
  for (const timer of source.processingTimers()) into.push(entryOf(service, 'processing', timer));
  return into;
}

function entryOf(service: string, domain: 'event' | 'processing', timer: SnapshotTimer): TimerSnapshotEntry {
  const { key, keyGroup, namespace, timestampMs } = timer;
  return { service, domain, key, keyGroup, namespace, timestampMs };
}

/**
 * Re-registers restored timers: for each, sets the backend's current key to the timer's key
 * and registers it with the service `serviceFor(name)` returns. Timers are registered by
 * timestamp (ties in the order given), so equal-time timers fire in a deterministic order.
 * Returns the timers whose service does not exist (yet); the caller keeps them, registers
 * them when the service is created, or fails. Leaves the last timer's key current.
 *
 * @example
 * ```ts
 * const timers = backend.restore(parts);
 * const unclaimed = registerRestoredTimers(timers, backend, (name) => services.get(name));
 * ```
 */
export function registerRestoredTimers(
  timers: readonly TimerSnapshotEntry[],
  backend: { setCurrentKey(key: unknown, keyGroup: number): void },
  serviceFor: (service: string) => TimerRegistrar | undefined,
): TimerSnapshotEntry[] {
  const ordered = timers
    .map((timer, index) => ({ timer, index }))
    .sort((a, b) => a.timer.timestampMs - b.timer.timestampMs || a.index - b.index);
  const unclaimed: TimerSnapshotEntry[] = [];
  for (const { timer } of ordered) {
    const service = serviceFor(timer.service);
    if (service === undefined) {
      unclaimed.push(timer);
      continue;
    }
    backend.setCurrentKey(timer.key, timer.keyGroup);
    if (timer.domain === 'event') service.registerEventTimeTimer(timer.namespace, timer.timestampMs);
    else service.registerProcessingTimeTimer(timer.namespace, timer.timestampMs);
  }
  return unclaimed;
}
