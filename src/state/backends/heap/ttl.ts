/** State TTL on the heap: expiry-stamped cells, the policy a state applies, and how expired parts are purged. */
import type { Clock } from '../../../core/clock.ts';
import type { StateTtlConfig } from '../../descriptors.ts';
import type { MapKey } from './map-key.ts';

/**
 * How many further entries of a state table each access of a TTL state inspects for expiry
 * (incremental cleanup). Small, so an access costs O(1) more; non-zero, so expired state of
 * keys that never come back is still removed as the table is used.
 */
export const TTL_CLEANUP_ENTRIES_PER_ACCESS = 3;

/** A value with its expiry time. Immutable: a refresh makes a new cell, so a snapshot's view never changes. */
export class TtlCell<V> {
  readonly value: V;
  readonly expiresAtMs: number;

  constructor(value: V, expiresAtMs: number) {
    this.value = value;
    this.expiresAtMs = expiresAtMs;
  }
}

/** A state's TTL configuration with defaults applied, and the clock it reads. */
export class TtlPolicy {
  readonly ttlMs: number;
  /** OnReadAndWrite: a successful read restarts the entry's TTL. */
  readonly refreshOnRead: boolean;
  /** ReturnExpiredIfNotCleanedUp: the read that finds an expired entry still returns it (once). */
  readonly returnExpired: boolean;
  readonly #clock: Clock;

  constructor(config: StateTtlConfig, clock: Clock) {
    this.ttlMs = config.ttlMs;
    this.refreshOnRead = config.updateType === 'OnReadAndWrite';
    this.returnExpired = config.visibility === 'ReturnExpiredIfNotCleanedUp';
    this.#clock = clock;
  }

  now(): number {
    return this.#clock.now();
  }

  fresh<V>(value: V, nowMs: number): TtlCell<V> {
    return new TtlCell(value, nowMs + this.ttlMs);
  }
}

/** An entry expires when its time is reached (`expiresAtMs <= now`), as in Flink. */
export function isExpired(cell: TtlCell<unknown>, nowMs: number): boolean {
  return cell.expiresAtMs <= nowMs;
}

/**
 * What the state table needs to know about the cells of one TTL state kind. `purge` never
 * mutates: it returns the cell itself when all of it is live, a new smaller cell when part
 * of it expired, and undefined when nothing is left.
 */
export interface TtlCellOps {
  purge(cell: unknown, nowMs: number): unknown;
  hasLive(cell: unknown, nowMs: number): boolean;
}

/** Value, reducing and aggregating state: one TtlCell per entry. */
export const valueCellOps: TtlCellOps = {
  purge: (cell, nowMs) => (isExpired(cell as TtlCell<unknown>, nowMs) ? undefined : cell),
  hasLive: (cell, nowMs) => !isExpired(cell as TtlCell<unknown>, nowMs),
};

/** List state: an array of TtlCells, each element with its own expiry (as in Flink). */
export const listCellOps: TtlCellOps = {
  purge(cell, nowMs) {
    const list = cell as TtlCell<unknown>[];
    let live = 0;
    for (const element of list) if (!isExpired(element, nowMs)) live++;
    if (live === list.length) return list;
    return live === 0 ? undefined : list.filter((element) => !isExpired(element, nowMs));
  },
  hasLive: (cell, nowMs) => (cell as TtlCell<unknown>[]).some((element) => !isExpired(element, nowMs)),
};

/** Map state: a Map of TtlCells, each user-map entry with its own expiry (as in Flink). */
export const mapCellOps: TtlCellOps = {
  purge(cell, nowMs) {
    const map = cell as Map<MapKey, TtlCell<unknown>>;
    let live = 0;
    for (const entry of map.values()) if (!isExpired(entry, nowMs)) live++;
    if (live === map.size) return map;
    if (live === 0) return undefined;
    const kept = new Map<MapKey, TtlCell<unknown>>();
    for (const [key, entry] of map) if (!isExpired(entry, nowMs)) kept.set(key, entry);
    return kept;
  },
  hasLive(cell, nowMs) {
    for (const entry of (cell as Map<MapKey, TtlCell<unknown>>).values())
      if (!isExpired(entry, nowMs)) return true;
    return false;
  },
};
