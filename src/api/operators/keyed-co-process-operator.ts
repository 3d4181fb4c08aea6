/** Runs a KeyedCoProcessFunction over two inputs keyed alike: one key space, shared state and timers. */
import type { OperatorContext, TwoInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output } from '../../runtime/output.ts';
import type { FiredTimer, Triggerable } from '../../runtime/timer-service.ts';
import type { KeyedCoProcessFunction } from '../functions.ts';
import { KeyedProcessContext } from './keyed-process-context.ts';
import { USER_TIMERS } from './keyed-process-operator.ts';
import { closeFunction, instantiateFunction, openFunction, requireKeyedBackend } from './runtime-context.ts';
import { TimestampedCollector } from './timestamped-collector.ts';
import { UserTimerService } from './user-timer-service.ts';

/**
 * Flink's KeyedCoProcessOperator. Each input has its own key selector; records of both
 * inputs with the same key see the same state. Timestamps follow KeyedProcessOperator.
 *
 * @example
 * ```ts
 * new KeyedCoProcessOperator<string, Order, Payment, Matched>({
 *   processElement1(order, ctx, out) { ... },
 *   processElement2(payment, ctx, out) { ... },
 * });
 * ```
 */
export class KeyedCoProcessOperator<K, IN1, IN2, OUT>
  extends AbstractStreamOperator<OUT>
  implements TwoInputStreamOperator<IN1, IN2, OUT>, Triggerable
{
  readonly #fn: KeyedCoProcessFunction<K, IN1, IN2, OUT>;
  #collector!: TimestampedCollector<OUT>;
  #ctx!: KeyedProcessContext<K>;

  constructor(fn: KeyedCoProcessFunction<K, IN1, IN2, OUT>) {
    super();
    this.#fn = instantiateFunction(fn);
    this.setInputCount(2);
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

  prepareBatch1(values: readonly IN1[]): undefined | Promise<void> {
    return this.context.prefetchKeys(values, 0);
  }

  prepareBatch2(values: readonly IN2[]): undefined | Promise<void> {
    return this.context.prefetchKeys(values, 1);
  }

  processElement1(value: IN1, timestamp: number): void {
    this.context.setKeyContextElement(value, 0);
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement1(value, this.#ctx, this.#collector);
  }

  processElement2(value: IN2, timestamp: number): void {
    this.context.setKeyContextElement(value, 1);
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement2(value, this.#ctx, this.#collector);
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
