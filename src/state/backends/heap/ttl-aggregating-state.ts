/** Aggregating state with TTL on the heap: the cell is a TtlCell holding the accumulator. */
import type { AggregateFunction } from '../../descriptors.ts';
import { type AggregatingState, type InternalKvState, VOID_NAMESPACE } from '../../keyed-state.ts';
import type { Namespace, StateTable } from './state-table.ts';
import type { TtlPolicy } from './ttl.ts';
import { liveTtlValue, readTtlValue } from './ttl-value-access.ts';

/** An add after expiry starts from a new accumulator; every add restarts the TTL. */
export class TtlAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT>, InternalKvState {
  readonly #table: StateTable;
  readonly #policy: TtlPolicy;
  readonly #aggregate: AggregateFunction<IN, ACC, OUT>;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable, policy: TtlPolicy, aggregate: AggregateFunction<IN, ACC, OUT>) {
    this.#table = table;
    this.#policy = policy;
    this.#aggregate = aggregate;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  get(): OUT | undefined {
    const nowMs = this.#policy.now();
    const accumulator = readTtlValue<ACC>(this.#table, this.#namespace, this.#policy, nowMs);
    this.#table.cleanupStep(nowMs);
    return accumulator === undefined ? undefined : this.#aggregate.getResult(accumulator);
  }

  add(value: IN): void {
    const nowMs = this.#policy.now();
    const stored = liveTtlValue<ACC>(this.#table, this.#namespace, nowMs);
    const accumulator = stored === undefined ? this.#aggregate.createAccumulator() : stored;
    this.#table.set(this.#namespace, this.#policy.fresh(this.#aggregate.add(value, accumulator), nowMs));
    this.#table.cleanupStep(nowMs);
  }

  clear(): void {
    this.#table.delete(this.#namespace);
    this.#table.cleanupStep(this.#policy.now());
  }
}
