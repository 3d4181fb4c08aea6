/** Map state on the heap, without TTL: the cell is a non-empty Map from map keys to values. */
import { type InternalKvState, type MapState, VOID_NAMESPACE } from '../../keyed-state.ts';
import { fromMapKey, type MapKey, toMapKey } from './map-key.ts';
import type { Namespace, StateTable } from './state-table.ts';

/**
 * User map keys go through the same primitive/composite scheme as stream keys (structurally
 * equal arrays and objects are the same key). Removing the last entry removes the cell.
 * The iterators read the map of the key current when they were created.
 */
export class HeapMapState<K, V> implements MapState<K, V>, InternalKvState {
  readonly #table: StateTable;
  #namespace: Namespace = VOID_NAMESPACE;

  constructor(table: StateTable) {
    this.#table = table;
  }

  setCurrentNamespace(namespace: Namespace): void {
    this.#namespace = namespace;
  }

  #map(): Map<MapKey, V> | undefined {
    return this.#table.get(this.#namespace) as Map<MapKey, V> | undefined;
  }

  /** For reads that hand values to user code, which may mutate them in place. */
  #mutableMap(): Map<MapKey, V> | undefined {
    return this.#table.getMutable(this.#namespace) as Map<MapKey, V> | undefined;
  }

  get(key: K): V | undefined {
    return this.#mutableMap()?.get(toMapKey(key));
  }

  put(key: K, value: V): void {
    const mapKey = toMapKey(key);
    const map = this.#table.getForUpdate(this.#namespace) as Map<MapKey, V> | undefined;
    if (map === undefined) this.#table.set(this.#namespace, new Map([[mapKey, value]]));
    else map.set(mapKey, value);
  }

  putAll(entries: Iterable<readonly [K, V]>): void {
    for (const [key, value] of entries) this.put(key, value);
  }

  remove(key: K): void {
    const mapKey = toMapKey(key);
    if (this.#map()?.has(mapKey) !== true) return;
    const map = this.#table.getForUpdate(this.#namespace) as Map<MapKey, V>;
    map.delete(mapKey);
    if (map.size === 0) this.#table.delete(this.#namespace);
  }

  contains(key: K): boolean {
    return this.#map()?.has(toMapKey(key)) === true;
  }

  entries(): IterableIterator<[K, V]> {
    const map = this.#mutableMap();
    return map === undefined ? emptyIterator() : mapEntries(map);
  }

  keys(): IterableIterator<K> {
    const map = this.#map();
    return map === undefined ? emptyIterator() : mapKeys(map);
  }

  values(): IterableIterator<V> {
    const map = this.#mutableMap();
    return map === undefined ? emptyIterator() : map.values();
  }

  isEmpty(): boolean {
    return this.#map() === undefined;
  }

  clear(): void {
    this.#table.delete(this.#namespace);
  }
}

function* mapEntries<K, V>(map: Map<MapKey, V>): Generator<[K, V]> {
  for (const [mapKey, value] of map) yield [fromMapKey(mapKey) as K, value];
}

function* mapKeys<K>(map: Map<MapKey, unknown>): Generator<K> {
  for (const mapKey of map.keys()) yield fromMapKey(mapKey) as K;
}

/** An iterator that yields nothing. */
export function emptyIterator<T>(): IterableIterator<T> {
  return [][Symbol.iterator]() as IterableIterator<T>;
}
