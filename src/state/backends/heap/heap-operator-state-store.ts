/** Operator (non-keyed) state on the heap: list, union list and broadcast state of one operator instance. */
import { ConfigurationError } from '../../../core/errors.ts';
import type { ListStateDescriptor, MapStateDescriptor } from '../../descriptors.ts';
import type { ListState } from '../../keyed-state.ts';
import type { BroadcastState, OperatorStateStore } from '../../operator-state.ts';
import { type StateDescriptorLike, validateStateDescriptor } from '../../state-descriptors-factory.ts';
import { fromMapKey, type MapKey, toMapKey } from './map-key.ts';

/** How a list state's elements are redistributed when a job is restored with another parallelism. */
export type ListDistributionMode = 'split' | 'union';

/** One operator list state as a snapshot reads it. */
export interface OperatorListStateData {
  readonly mode: ListDistributionMode;
  /** The elements in insertion order. Snapshots copy it; do not mutate. */
  readonly elements: readonly unknown[];
}

/**
 * Operator state of one subtask, kept as plain data a snapshot can read directly: every list
 * state as a named array with its distribution mode, every broadcast state as a named Map.
 * Broadcast keys use the same primitive/composite key scheme as keyed state.
 * TTL is not supported on operator state (as in Flink): a descriptor with one is refused.
 *
 * @example
 * ```ts
 * const store = new HeapOperatorStateStore();
 * const offsets = store.getListState(listState<number>('offsets'));
 * offsets.update([42]);
 * const rules = store.getBroadcastState(mapState<string, string>('rules'));
 * rules.put('max-amount', '1000');
 * ```
 */
export class HeapOperatorStateStore implements OperatorStateStore {
  readonly #lists = new Map<string, { mode: ListDistributionMode; elements: unknown[] }>();
  readonly #broadcast = new Map<string, Map<MapKey, unknown>>();

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return new OperatorListState<T>(this.#list(descriptor, 'split'));
  }

  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return new OperatorListState<T>(this.#list(descriptor, 'union'));
  }

  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    this.#check(descriptor, 'map');
    if (this.#lists.has(descriptor.name)) throw this.#clash(descriptor.name, 'list', 'broadcast');
    let map = this.#broadcast.get(descriptor.name);
    if (map === undefined) {
      map = new Map();
      this.#broadcast.set(descriptor.name, map);
    }
    return new HeapBroadcastState<K, V>(map);
  }

  /** Every list state by name, for snapshots. */
  listStates(): ReadonlyMap<string, OperatorListStateData> {
    return this.#lists;
  }

  /** Every broadcast state by name, as decoded (key, value) pairs, for snapshots. */
  broadcastStates(): ReadonlyMap<string, ReadonlyMap<unknown, unknown>> {
    const decoded = new Map<string, ReadonlyMap<unknown, unknown>>();
    for (const [name, map] of this.#broadcast) {
      decoded.set(name, new Map([...map].map(([mapKey, value]) => [fromMapKey(mapKey), value])));
    }
    return decoded;
  }

  #list(descriptor: ListStateDescriptor<unknown>, mode: ListDistributionMode): unknown[] {
    this.#check(descriptor, 'list');
    if (this.#broadcast.has(descriptor.name)) throw this.#clash(descriptor.name, 'broadcast', `${mode} list`);
    const existing = this.#lists.get(descriptor.name);
    if (existing !== undefined) {
      if (existing.mode !== mode) throw this.#clash(descriptor.name, `${existing.mode} list`, `${mode} list`);
      return existing.elements;
    }
    const elements: unknown[] = [];
    this.#lists.set(descriptor.name, { mode, elements });
    return elements;
  }

  #check(descriptor: StateDescriptorLike, kind: 'list' | 'map'): void {
    validateStateDescriptor(descriptor);
    if (descriptor.kind !== kind) {
      throw new ConfigurationError(
        `operator state '${descriptor.name}' needs a ${kind} state descriptor, got ${descriptor.kind}`,
      );
    }
    if (descriptor.ttl !== undefined) {
      throw new ConfigurationError(
        `operator state '${descriptor.name}' has a TTL; TTL applies to keyed state only`,
      );
    }
  }

  #clash(name: string, registered: string, requested: string): ConfigurationError {
    return new ConfigurationError(
      `operator state '${name}' is already registered as ${registered} state, not ${requested} state`,
    );
  }
}

/** A list state over an array the store owns; it mutates that array in place so the store always sees it. */
class OperatorListState<T> implements ListState<T> {
  readonly #elements: T[];

  constructor(elements: unknown[]) {
    this.#elements = elements as T[];
  }

  get(): T[] {
    return this.#elements.slice();
  }

  add(value: T): void {
    this.#elements.push(value);
  }

  addAll(values: readonly T[]): void {
    for (const value of values) this.#elements.push(value);
  }

  update(values: readonly T[]): void {
    const copy = values.slice();
    this.#elements.length = 0;
    for (const value of copy) this.#elements.push(value);
  }

  clear(): void {
    this.#elements.length = 0;
  }
}

class HeapBroadcastState<K, V> implements BroadcastState<K, V> {
  readonly #map: Map<MapKey, V>;

  constructor(map: Map<MapKey, unknown>) {
    this.#map = map as Map<MapKey, V>;
  }

  get(key: K): V | undefined {
    return this.#map.get(toMapKey(key));
  }

  contains(key: K): boolean {
    return this.#map.has(toMapKey(key));
  }

  entries(): IterableIterator<[K, V]> {
    return broadcastEntries<K, V>(this.#map);
  }

  put(key: K, value: V): void {
    this.#map.set(toMapKey(key), value);
  }

  remove(key: K): void {
    this.#map.delete(toMapKey(key));
  }

  clear(): void {
    this.#map.clear();
  }
}

function* broadcastEntries<K, V>(map: Map<MapKey, V>): Generator<[K, V]> {
  for (const [mapKey, value] of map) yield [fromMapKey(mapKey) as K, value];
}
