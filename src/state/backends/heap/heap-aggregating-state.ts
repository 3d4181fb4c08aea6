/** Aggregating state on the heap, without TTL: the cell is the accumulator. */
import type { AggregateFunction } from '../../descriptors.ts';
import { type AggregatingState, type InternalKvState, VOID_NAMESPACE } from '../../keyed-state.ts';
import type { Namespace, StateTable } from './state-table.ts';

/** `get()` is `getResult(accumulator)`, or undefined while nothing was added. */
export class HeapAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT>, InternalKvState {
  readonly #table: StateTable;
  readonly #aggregate: AggregateFunction<IN, ACC, OUT>;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable, aggregate: AggregateFunction<IN, ACC, OUT>) {
    this.#table = table;
    this.#aggregate = aggregate;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  get(): OUT | undefined {
    // getResult may return the accumulator itself, which callers may then mutate.
    const accumulator = this.#table.getMutable(this.#namespace) as ACC | undefined;
    return accumulator === undefined ? undefined : this.#aggregate.getResult(accumulator);
  }

  add(value: IN): void {
    // getMutable: `add` may mutate the accumulator in place, as Flink's contract allows.
    const stored = this.#table.getMutable(this.#namespace) as ACC | undefined;
    const accumulator = stored === undefined ? this.#aggregate.createAccumulator() : stored;
    this.#table.set(this.#namespace, this.#aggregate.add(value, accumulator));
  }

  clear(): void {
    this.#table.delete(this.#namespace);
  }
}
