/** Runs a KeyedProcessFunction: keyed state and timers of the current key. */
import type { OneInputStreamOperator, OperatorContext } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output } from '../../runtime/output.ts';
import type { FiredTimer, Triggerable } from '../../runtime/timer-service.ts';
import type { KeyedProcessFunction } from '../functions.ts';
import { KeyedProcessContext } from './keyed-process-context.ts';
import { closeFunction, instantiateFunction, openFunction, requireKeyedBackend } from './runtime-context.ts';
import { TimestampedCollector } from './timestamped-collector.ts';
import { UserTimerService } from './user-timer-service.ts';

/** Name of the timer service keyed process operators register user timers in. */
export const USER_TIMERS = 'user-timers';

/**
 * Flink's KeyedProcessOperator. Records keep their input timestamp; what onTimer emits for an
 * event-time timer carries the timer's timestamp, for a processing-time timer no timestamp
 * (processing time is not event time).
 *
 * @example
 * ```ts
 * new KeyedProcessOperator<string, Click, string>({
 *   processElement(click, ctx) { ctx.timerService().registerEventTimeTimer(ctx.timestamp()! + 60_000); },
 *   onTimer(ts, ctx, out) { out.collect(`${ctx.getCurrentKey()} idle since ${ts - 60_000}`); },
 * });
 * ```
 */
export class KeyedProcessOperator<K, IN, OUT>
  extends AbstractStreamOperator<OUT>
  implements OneInputStreamOperator<IN, OUT>, Triggerable
{
  readonly #fn: KeyedProcessFunction<K, IN, OUT>;
  #collector!: TimestampedCollector<OUT>;
  #ctx!: KeyedProcessContext<K>;

  constructor(fn: KeyedProcessFunction<K, IN, OUT>) {
    super();
    this.#fn = instantiateFunction(fn);
  }

  override setup(context: OperatorContext, output: Output<OUT>): void {
    super.setup(context, output);
    this.#collector = new TimestampedCollector(output);
  }

  override open(): void | Promise<void> {
    const backend = requireKeyedBackend(this.context);
    const timers = new UserTimerService(this.context.getTimerService(USER_TIMERS, this));
    this.#ctx = new KeyedProcessContext<K>(this.#collector, backend, timers);
    return openFunction(this.#fn, this.context);
  }

  prepareBatch(values: readonly IN[]): undefined | Promise<void> {
    return this.context.prefetchKeys(values, 0);
  }

  processElement(value: IN, timestamp: number): void {
    this.context.setKeyContextElement(value, 0);
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement(value, this.#ctx, this.#collector);
  }

  onEventTime(timer: FiredTimer): void {
    this.#ctx.enterTimer('event-time', timer.timestampMs);
    this.#fn.onTimer?.(timer.timestampMs, this.#ctx, this.#collector);
  }

  onProcessingTime(timer: FiredTimer): void {
    this.#ctx.enterTimer('processing-time', timer.timestampMs);
    this.#fn.onTimer?.(timer.timestampMs, this.#ctx, this.#collector);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}
