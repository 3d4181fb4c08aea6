/** Reducing state on the heap, without TTL: the cell is the reduced value. */
import type { ReduceFunction } from '../../descriptors.ts';
import { type InternalKvState, type ReducingState, VOID_NAMESPACE } from '../../keyed-state.ts';
import type { Namespace, StateTable } from './state-table.ts';

/** The first added value is stored as it is; later ones are folded in as `reduce(stored, added)`. */
export class HeapReducingState<T> implements ReducingState<T>, InternalKvState {
  readonly #table: StateTable;
  readonly #reduce: ReduceFunction<T>;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable, reduce: ReduceFunction<T>) {
    this.#table = table;
    this.#reduce = reduce;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  get(): T | undefined {
    return this.#table.getMutable(this.#namespace) as T | undefined;
  }

  add(value: T): void {
    // getMutable: a reduce function may mutate its first argument in place.
    const stored = this.#table.getMutable(this.#namespace) as T | undefined;
    this.#table.set(this.#namespace, stored === undefined ? value : this.#reduce(stored, value));
  }

  clear(): void {
    this.#table.delete(this.#namespace);
  }
}
