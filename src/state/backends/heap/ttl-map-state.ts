/** Map state with TTL on the heap: the cell is a non-empty Map of TtlCells, one expiry per user-map entry. */
import { type InternalKvState, type MapState, VOID_NAMESPACE } from '../../keyed-state.ts';
import { fromMapKey, type MapKey, toMapKey } from './map-key.ts';
import type { Namespace, StateTable } from './state-table.ts';
import { isExpired, mapCellOps, type TtlCell, type TtlPolicy } from './ttl.ts';

const ABSENT: unique symbol = Symbol('absent');

/**
 * Each user-map entry expires on its own (as in Flink). Reads (`get`, `contains`, the
 * iterators) drop expired entries, return them this once under ReturnExpiredIfNotCleanedUp,
 * and restart the TTL of live ones under OnReadAndWrite. The iterators work on a list taken
 * when they are created (TTL bookkeeping must happen while the right key is current).
 */
export class TtlMapState<K, V> implements MapState<K, V>, InternalKvState {
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

  get(key: K): V | undefined {
    const nowMs = this.#policy.now();
    const value = this.#read(toMapKey(key), nowMs);
    this.#table.cleanupStep(nowMs);
    return value === ABSENT ? undefined : value;
  }

  contains(key: K): boolean {
    const nowMs = this.#policy.now();
    const value = this.#read(toMapKey(key), nowMs);
    this.#table.cleanupStep(nowMs);
    return value !== ABSENT;
  }

  put(key: K, value: V): void {
    const nowMs = this.#policy.now();
    this.#put(toMapKey(key), this.#policy.fresh(value, nowMs));
    this.#table.cleanupStep(nowMs);
  }

  putAll(entries: Iterable<readonly [K, V]>): void {
    const nowMs = this.#policy.now();
    for (const [key, value] of entries) this.#put(toMapKey(key), this.#policy.fresh(value, nowMs));
    this.#table.cleanupStep(nowMs);
  }

  remove(key: K): void {
    this.#remove(toMapKey(key));
    this.#table.cleanupStep(this.#policy.now());
  }

  entries(): IterableIterator<[K, V]> {
    return this.#readAll()[Symbol.iterator]();
  }

  keys(): IterableIterator<K> {
    return this.#readAll()
      .map(([key]) => key)
      [Symbol.iterator]();
  }

  values(): IterableIterator<V> {
    return this.#readAll()
      .map(([, value]) => value)
      [Symbol.iterator]();
  }

  /** Does not count entries a read would not return (expired ones, under NeverReturnExpired). */
  isEmpty(): boolean {
    const nowMs = this.#policy.now();
    const map = this.#table.get(this.#namespace) as Map<MapKey, TtlCell<V>> | undefined;
    this.#table.cleanupStep(nowMs);
    return map === undefined || (!this.#policy.returnExpired && !mapCellOps.hasLive(map, nowMs));
  }

  clear(): void {
    this.#table.delete(this.#namespace);
    this.#table.cleanupStep(this.#policy.now());
  }

  #read(mapKey: MapKey, nowMs: number): V | typeof ABSENT {
    const cell = (this.#table.getMutable(this.#namespace) as Map<MapKey, TtlCell<V>> | undefined)?.get(
      mapKey,
    );
    if (cell === undefined) return ABSENT;
    if (isExpired(cell, nowMs)) {
      this.#remove(mapKey);
      return this.#policy.returnExpired ? cell.value : ABSENT;
    }
    if (this.#policy.refreshOnRead) this.#put(mapKey, this.#policy.fresh(cell.value, nowMs));
    return cell.value;
  }

  #readAll(): [K, V][] {
    const policy = this.#policy;
    const nowMs = policy.now();
    const map = this.#table.getMutable(this.#namespace) as Map<MapKey, TtlCell<V>> | undefined;
    const result: [K, V][] = [];
    if (map !== undefined) {
      const kept = new Map<MapKey, TtlCell<V>>();
      for (const [mapKey, cell] of map) {
        const expired = isExpired(cell, nowMs);
        if (!expired || policy.returnExpired) result.push([fromMapKey(mapKey) as K, cell.value]);
        if (!expired) kept.set(mapKey, policy.refreshOnRead ? policy.fresh(cell.value, nowMs) : cell);
      }
      if (kept.size === 0) this.#table.delete(this.#namespace);
      else if (kept.size !== map.size || policy.refreshOnRead) this.#table.set(this.#namespace, kept);
    }
    this.#table.cleanupStep(nowMs);
    return result;
  }

  #put(mapKey: MapKey, cell: TtlCell<V>): void {
    const map = this.#table.getForUpdate(this.#namespace) as Map<MapKey, TtlCell<V>> | undefined;
    if (map === undefined) this.#table.set(this.#namespace, new Map([[mapKey, cell]]));
    else map.set(mapKey, cell);
  }

  #remove(mapKey: MapKey): void {
    const map = this.#table.get(this.#namespace) as Map<MapKey, TtlCell<V>> | undefined;
    if (map?.has(mapKey) !== true) return;
    const own = this.#table.getForUpdate(this.#namespace) as Map<MapKey, TtlCell<V>>;
    own.delete(mapKey);
    if (own.size === 0) this.#table.delete(this.#namespace);
  }
}
