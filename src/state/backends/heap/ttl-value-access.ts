/** Reads and merges of single-cell TTL state (value, reducing, aggregating), with Flink's expiry rules. */
import type { Namespace, StateTable } from './state-table.ts';
import { isExpired, type TtlCell, type TtlPolicy } from './ttl.ts';

/**
 * A user read of the current key's cell. An expired cell is removed and, only under
 * ReturnExpiredIfNotCleanedUp, returned this once. Under OnReadAndWrite a live cell's TTL restarts.
 */
export function readTtlValue<V>(
  table: StateTable,
  namespace: Namespace,
  policy: TtlPolicy,
  nowMs: number,
): V | undefined {
  // getMutable: the value goes to user code, which may mutate it in place.
  const cell = table.getMutable(namespace) as TtlCell<V> | undefined;
  if (cell === undefined) return undefined;
  if (isExpired(cell, nowMs)) {
    table.delete(namespace);
    return policy.returnExpired ? cell.value : undefined;
  }
  if (policy.refreshOnRead) table.set(namespace, policy.fresh(cell.value, nowMs));
  return cell.value;
}

/**
 * The live value a write merges into (reduce, aggregate). Expired data is never merged,
 * whatever the visibility: a write must not resurrect it. Read with `getMutable`: reduce and
 * aggregate functions may mutate what they are given in place.
 */
export function liveTtlValue<V>(table: StateTable, namespace: Namespace, nowMs: number): V | undefined {
  const cell = table.getMutable(namespace) as TtlCell<V> | undefined;
  return cell === undefined || isExpired(cell, nowMs) ? undefined : cell.value;
}
