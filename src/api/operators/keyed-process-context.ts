/** The reusable context of keyed process functions: current key, timers, time domain, side outputs. */
import { NO_TIMESTAMP } from '../../runtime/elements.ts';
import type { OutputTag } from '../../runtime/output.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { OnTimerContext, TimerService } from '../functions.ts';
import type { TimestampedCollector } from './timestamped-collector.ts';

/**
 * One instance per operator, passed to processElement and onTimer alike: the timestamp comes
 * from the operator's collector, the key from the state backend, so nothing is set per record
 * except the collector's timestamp (and the time domain before a timer fires).
 *
 * @example
 * ```ts
 * const ctx = new KeyedProcessContext<K>(collector, backend, new UserTimerService(timers));
 * ctx.domain = 'event-time';
 * fn.onTimer?.(timer.timestampMs, ctx, collector);
 * ```
 */
export class KeyedProcessContext<K> implements OnTimerContext<K> {
  /** Read by `timeDomain()`; meaningful only inside onTimer. */
  domain: 'event-time' | 'processing-time' = 'event-time';
  readonly #collector: TimestampedCollector<unknown>;
  readonly #backend: KeyedStateBackend;
  readonly #timers: TimerService;

  constructor(collector: TimestampedCollector<unknown>, backend: KeyedStateBackend, timers: TimerService) {
    this.#collector = collector;
    this.#backend = backend;
    this.#timers = timers;
  }

  /**
   * Sets up the context and the collector for an `onTimer` call, in one place for every keyed
   * operator: output of an event-time timer carries the timer's timestamp (as in Flink),
   * output of a processing-time timer carries none.
   */
  enterTimer(domain: 'event-time' | 'processing-time', timestampMs: number): void {
    this.domain = domain;
    this.#collector.timestampMs = domain === 'event-time' ? timestampMs : NO_TIMESTAMP;
  }

  timestamp(): number | undefined {
    return this.#collector.timestamp();
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.#collector.collectSide(tag, value);
  }
  getCurrentKey(): K {
    return this.#backend.getCurrentKey() as K;
  }
  timerService(): TimerService {
    return this.#timers;
  }
  timeDomain(): 'event-time' | 'processing-time' {
    return this.domain;
  }
}
