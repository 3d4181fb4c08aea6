/** Keyed rolling aggregation: per key an accumulator in keyed state; emits the current result per record. */
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { AggregateFunction } from '../../state/descriptors.ts';
import type { AggregatingState } from '../../state/keyed-state.ts';
import { aggregatingState } from '../../state/state-descriptors-factory.ts';

export class KeyedAggregateOperator<IN, ACC, OUT>
  extends AbstractStreamOperator<OUT>
  implements OneInputStreamOperator<IN, OUT>
{
  readonly #aggregate: AggregateFunction<IN, ACC, OUT>;
  #state!: AggregatingState<IN, OUT>;

  constructor(aggregate: AggregateFunction<IN, ACC, OUT>) {
    super();
    this.#aggregate = aggregate;
  }

  override open(): void {
    this.#state = this.context.keyedStateBackend!.getAggregatingState(
      aggregatingState('_keyed_aggregate', this.#aggregate),
    );
  }

  prepareBatch(values: readonly IN[]): undefined | Promise<void> {
    return this.context.prefetchKeys(values, 0);
  }

  processElement(value: IN, timestamp: number): void {
    this.context.setKeyContextElement(value, 0);
    this.#state.add(value);
    this.output.collect(this.#state.get() as OUT, timestamp);
  }
}
