/** List state with TTL on the heap: the cell is a non-empty array of TtlCells, one expiry per element. */
import { type InternalKvState, type ListState, VOID_NAMESPACE } from '../../keyed-state.ts';
import type { Namespace, StateTable } from './state-table.ts';
import { isExpired, type TtlCell, type TtlPolicy } from './ttl.ts';

/**
 * Each element expires on its own (as in Flink): `add` stamps only the new element. `get()`
 * drops expired elements from the state (returning them this once under
 * ReturnExpiredIfNotCleanedUp) and, under OnReadAndWrite, restarts the TTL of the rest.
 */
export class TtlListState<T> implements ListState<T>, InternalKvState {
  readonly #table: StateTable;
  readonly #policy: TtlPolicy;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable, policy: TtlPolicy) {
    this.#table = table;
    this.#policy = policy;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  get(): T[] {
    const policy = this.#policy;
    const nowMs = policy.now();
    const list = this.#table.getMutable(this.#namespace) as TtlCell<T>[] | undefined;
    const result: T[] = [];
    if (list !== undefined) {
      const kept: TtlCell<T>[] = [];
      for (const cell of list) {
        if (!isExpired(cell, nowMs)) {
          result.push(cell.value);
          kept.push(policy.refreshOnRead ? policy.fresh(cell.value, nowMs) : cell);
        } else if (policy.returnExpired) {
          result.push(cell.value);
        }
      }
      if (kept.length === 0) this.#table.delete(this.#namespace);
      else if (kept.length !== list.length || policy.refreshOnRead) this.#table.set(this.#namespace, kept);
    }
    this.#table.cleanupStep(nowMs);
    return result;
  }

  add(value: T): void {
    const nowMs = this.#policy.now();
    const list = this.#table.getForUpdate(this.#namespace) as TtlCell<T>[] | undefined;
    if (list === undefined) this.#table.set(this.#namespace, [this.#policy.fresh(value, nowMs)]);
    else list.push(this.#policy.fresh(value, nowMs));
    this.#table.cleanupStep(nowMs);
  }

  addAll(values: readonly T[]): void {
    if (values.length === 0) return;
    const nowMs = this.#policy.now();
    const cells = values.map((value) => this.#policy.fresh(value, nowMs));
    const list = this.#table.getForUpdate(this.#namespace) as TtlCell<T>[] | undefined;
    if (list === undefined) this.#table.set(this.#namespace, cells);
    else for (const cell of cells) list.push(cell);
    this.#table.cleanupStep(nowMs);
  }

  update(values: readonly T[]): void {
    const nowMs = this.#policy.now();
    if (values.length === 0) this.#table.delete(this.#namespace);
    else
      this.#table.set(
        this.#namespace,
        values.map((value) => this.#policy.fresh(value, nowMs)),
      );
    this.#table.cleanupStep(nowMs);
  }

  clear(): void {
    this.#table.delete(this.#namespace);
    this.#table.cleanupStep(this.#policy.now());
  }
}
