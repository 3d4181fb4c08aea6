/** Reducing state with TTL on the heap: the cell is a TtlCell holding the reduced value. */
import type { ReduceFunction } from '../../descriptors.ts';
import { type InternalKvState, type ReducingState, VOID_NAMESPACE } from '../../keyed-state.ts';
import type { Namespace, StateTable } from './state-table.ts';
import type { TtlPolicy } from './ttl.ts';
import { liveTtlValue, readTtlValue } from './ttl-value-access.ts';

/** An add after expiry starts over from the added value; every add restarts the TTL. */
export class TtlReducingState<T> implements ReducingState<T>, InternalKvState {
  readonly #table: StateTable;
  readonly #policy: TtlPolicy;
  readonly #reduce: ReduceFunction<T>;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable, policy: TtlPolicy, reduce: ReduceFunction<T>) {
    this.#table = table;
    this.#policy = policy;
    this.#reduce = reduce;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  get(): T | undefined {
    const nowMs = this.#policy.now();
    const value = readTtlValue<T>(this.#table, this.#namespace, this.#policy, nowMs);
    this.#table.cleanupStep(nowMs);
    return value;
  }

  add(value: T): void {
    const nowMs = this.#policy.now();
    const stored = liveTtlValue<T>(this.#table, this.#namespace, nowMs);
    const reduced = stored === undefined ? value : this.#reduce(stored, value);
    this.#table.set(this.#namespace, this.#policy.fresh(reduced, nowMs));
    this.#table.cleanupStep(nowMs);
  }

  clear(): void {
    this.#table.delete(this.#namespace);
    this.#table.cleanupStep(this.#policy.now());
  }
}
