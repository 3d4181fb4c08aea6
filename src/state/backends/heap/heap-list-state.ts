/** List state on the heap, without TTL: the cell is a non-empty array owned by the table. */
import { type InternalKvState, type ListState, VOID_NAMESPACE } from '../../keyed-state.ts';
import type { Namespace, StateTable } from './state-table.ts';

/** `get()` returns a copy; an empty list is no entry (`update([])` clears). */
export class HeapListState<T> implements ListState<T>, InternalKvState {
  readonly #table: StateTable;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable) {
    this.#table = table;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  get(): T[] {
    // getMutable: the copy is shallow, so callers can reach (and mutate) the elements.
    const list = this.#table.getMutable(this.#namespace) as T[] | undefined;
    return list === undefined ? [] : list.slice();
  }

  add(value: T): void {
    const list = this.#table.getForUpdate(this.#namespace) as T[] | undefined;
    if (list === undefined) this.#table.set(this.#namespace, [value]);
    else list.push(value);
  }

  addAll(values: readonly T[]): void {
    if (values.length === 0) return;
    const list = this.#table.getForUpdate(this.#namespace) as T[] | undefined;
    if (list === undefined) this.#table.set(this.#namespace, values.slice());
    else for (const value of values) list.push(value);
  }

  update(values: readonly T[]): void {
    if (values.length === 0) this.#table.delete(this.#namespace);
    else this.#table.set(this.#namespace, values.slice());
  }

  clear(): void {
    this.#table.delete(this.#namespace);
  }
}
