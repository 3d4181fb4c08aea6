/** Rolling reduce on a keyed stream: per key the running value, emitted after every record. */
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { ValueState } from '../../state/keyed-state.ts';
import { valueState } from '../../state/state-descriptors-factory.ts';
import type { ReduceFunctionLike } from '../functions.ts';
import {
  closeFunction,
  instantiateFunction,
  openFunction,
  requireKeyedBackend,
  resolveFunction,
} from './runtime-context.ts';

/** The state name Flink's StreamGroupedReduce uses, kept so savepoints read alike. */
export const KEYED_REDUCE_STATE_NAME = '_op_state';

/**
 * Flink's StreamGroupedReduce: the first record of a key is its running value; each later
 * record is folded in with `reduce(running, record)`. The new running value is emitted with
 * the record's timestamp. The reduce function must not mutate its arguments: the running
 * value lives in state, and a snapshot may share it.
 *
 * @example
 * ```ts
 * new KeyedReduceOperator<{ user: string; n: number }>((a, b) => ({ user: a.user, n: a.n + b.n }));
 * ```
 */
export class KeyedReduceOperator<T>
  extends AbstractStreamOperator<T>
  implements OneInputStreamOperator<T, T>
{
  readonly #fn: ReduceFunctionLike<T>;
  readonly #reduce: (a: T, b: T) => T;
  #state!: ValueState<T>;

  constructor(fn: ReduceFunctionLike<T>) {
    super();
    this.#fn = instantiateFunction(fn);
    this.#reduce = resolveFunction(this.#fn, 'reduce');
  }

  override open(): void | Promise<void> {
    this.#state = requireKeyedBackend(this.context).getValueState(valueState<T>(KEYED_REDUCE_STATE_NAME));
    return openFunction(this.#fn, this.context);
  }

  prepareBatch(values: readonly T[]): undefined | Promise<void> {
    return this.context.prefetchKeys(values, 0);
  }

  processElement(value: T, timestamp: number): void {
    this.context.setKeyContextElement(value, 0);
    const current = this.#state.value();
    const next = current === undefined ? value : this.#reduce(current, value);
    this.#state.update(next);
    this.output.collect(next, timestamp);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}
