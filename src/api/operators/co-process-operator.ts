/** Runs a CoProcessFunction over two non-keyed inputs. */
import type { OperatorContext, TwoInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output } from '../../runtime/output.ts';
import type { CoProcessFunction, ProcessContext } from '../functions.ts';
import { createProcessContext } from './process-operator.ts';
import { closeFunction, instantiateFunction, openFunction } from './runtime-context.ts';
import { TimestampedCollector } from './timestamped-collector.ts';

/**
 * Flink's CoProcessOperator. Records keep their input timestamp; the watermark is the
 * minimum of the two inputs' (handled by the base class).
 *
 * @example
 * ```ts
 * new CoProcessOperator<Order, Payment, string>({
 *   processElement1(order, ctx, out) { out.collect(`order ${order.id}`); },
 *   processElement2(payment, ctx, out) { out.collect(`payment ${payment.id}`); },
 * });
 * ```
 */
export class CoProcessOperator<IN1, IN2, OUT>
  extends AbstractStreamOperator<OUT>
  implements TwoInputStreamOperator<IN1, IN2, OUT>
{
  readonly #fn: CoProcessFunction<IN1, IN2, OUT>;
  #collector!: TimestampedCollector<OUT>;
  #ctx!: ProcessContext;

  constructor(fn: CoProcessFunction<IN1, IN2, OUT>) {
    super();
    this.#fn = instantiateFunction(fn);
    this.setInputCount(2);
  }

  override setup(context: OperatorContext, output: Output<OUT>): void {
    super.setup(context, output);
    this.#collector = new TimestampedCollector(output);
    this.#ctx = createProcessContext(this.#collector, context, () => this.currentWatermark());
  }

  override open(): void | Promise<void> {
    return openFunction(this.#fn, this.context);
  }

  processElement1(value: IN1, timestamp: number): void {
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement1(value, this.#ctx, this.#collector);
  }

  processElement2(value: IN2, timestamp: number): void {
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement2(value, this.#ctx, this.#collector);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}
