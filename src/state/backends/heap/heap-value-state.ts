/** Value state on the heap, without TTL: the value itself is the cell. */
import { type InternalKvState, type ValueState, VOID_NAMESPACE } from '../../keyed-state.ts';
import { copyValue } from '../../serializers/value-serializer.ts';
import type { Namespace, StateTable } from './state-table.ts';

/**
 * `update(undefined)` clears, as `update(null)` does in Flink; `null` is an ordinary value.
 * While unset, `value()` returns the descriptor's default (a fresh copy when it is an object,
 * so callers mutating it cannot change the default).
 */
export class HeapValueState<T> implements ValueState<T>, InternalKvState {
  readonly #table: StateTable;
  readonly #defaultValue: T | undefined;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable, defaultValue: T | undefined) {
    this.#table = table;
    this.#defaultValue = defaultValue;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  value(): T | undefined {
    // getMutable: callers may mutate an object value and update with it (or not).
    const value = this.#table.getMutable(this.#namespace);
    return value !== undefined ? (value as T) : defaultValueOf(this.#defaultValue);
  }

  update(value: T): void {
    if (value === undefined) this.#table.delete(this.#namespace);
    else this.#table.set(this.#namespace, value);
  }

  clear(): void {
    this.#table.delete(this.#namespace);
  }
}

/** The default to return for a missing value: objects are copied so the default cannot be mutated. */
export function defaultValueOf<T>(defaultValue: T | undefined): T | undefined {
  return typeof defaultValue === 'object' && defaultValue !== null ? copyValue(defaultValue) : defaultValue;
}
