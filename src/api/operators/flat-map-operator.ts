/** Applies a FlatMapFunction to every record; every result keeps the record's timestamp. */
import type { OneInputStreamOperator, OperatorContext } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output } from '../../runtime/output.ts';
import type { Collector, FlatMapFunction } from '../functions.ts';
import { closeFunction, instantiateFunction, openFunction, resolveFunction } from './runtime-context.ts';
import { TimestampedCollector } from './timestamped-collector.ts';

/**
 * Flink's StreamFlatMap: one collector for the operator's lifetime, restamped per record.
 *
 * @example
 * ```ts
 * new FlatMapOperator<string, string>((line, out) => line.split(' ').forEach((w) => out.collect(w)));
 * ```
 */
export class FlatMapOperator<IN, OUT>
  extends AbstractStreamOperator<OUT>
  implements OneInputStreamOperator<IN, OUT>
{
  readonly #fn: FlatMapFunction<IN, OUT>;
  readonly #flatMap: (value: IN, out: Collector<OUT>) => void;
  #collector!: TimestampedCollector<OUT>;

  constructor(fn: FlatMapFunction<IN, OUT>) {
    super();
    this.#fn = instantiateFunction(fn);
    this.#flatMap = resolveFunction(this.#fn, 'flatMap');
  }

  override setup(context: OperatorContext, output: Output<OUT>): void {
    super.setup(context, output);
    this.#collector = new TimestampedCollector(output);
  }

  override open(): void | Promise<void> {
    return openFunction(this.#fn, this.context);
  }

  processElement(value: IN, timestamp: number): void {
    this.#collector.timestampMs = timestamp;
    this.#flatMap(value, this.#collector);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}
