/** Value state with TTL on the heap: the cell is a TtlCell holding the value. */
import { type InternalKvState, type ValueState, VOID_NAMESPACE } from '../../keyed-state.ts';
import { defaultValueOf } from './heap-value-state.ts';
import type { Namespace, StateTable } from './state-table.ts';
import type { TtlPolicy } from './ttl.ts';
import { readTtlValue } from './ttl-value-access.ts';

/** HeapValueState's semantics plus expiry; each access also runs one incremental cleanup step. */
export class TtlValueState<T> implements ValueState<T>, InternalKvState {
  readonly #table: StateTable;
  readonly #policy: TtlPolicy;
  readonly #defaultValue: T | undefined;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable, policy: TtlPolicy, defaultValue: T | undefined) {
    this.#table = table;
    this.#policy = policy;
    this.#defaultValue = defaultValue;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  value(): T | undefined {
    const nowMs = this.#policy.now();
    const value = readTtlValue<T>(this.#table, this.#namespace, this.#policy, nowMs);
    this.#table.cleanupStep(nowMs);
    return value !== undefined ? value : defaultValueOf(this.#defaultValue);
  }

  update(value: T): void {
    const nowMs = this.#policy.now();
    if (value === undefined) this.#table.delete(this.#namespace);
    else this.#table.set(this.#namespace, this.#policy.fresh(value, nowMs));
    this.#table.cleanupStep(nowMs);
  }

  clear(): void {
    this.#table.delete(this.#namespace);
    this.#table.cleanupStep(this.#policy.now());
  }
}
