/** Operator (non-keyed) state on the heap: list, union list and broadcast state of one operator instance. */
import { ConfigurationError } from '../../../core/errors.ts';
import type { ListStateDescriptor, MapStateDescriptor } from '../../descriptors.ts';
import type { ListState } from '../../keyed-state.ts';
import type { BroadcastState, ListDistributionMode, OperatorStateStore } from '../../operator-state.ts';
import { fromBytes, toBytes } from '../../serializers/serialize-to-bytes.ts';
import type { TypeSerializer } from '../../serializers/type-serializer.ts';
import { valueSerializer } from '../../serializers/value-serializer.ts';
import type {
  BroadcastStateContents,
  OperatorListStateContents,
  OperatorStateContents,
} from '../../snapshot/operator-state-format.ts';
import { checkSerializerCompatible, serializerRef } from '../../snapshot/serializer-ref.ts';
import {
  CorruptSnapshotError,
  IncompatibleStateError,
  SnapshotWriteError,
} from '../../snapshot/snapshot-errors.ts';
import { type StateDescriptorLike, validateStateDescriptor } from '../../state-descriptors-factory.ts';
import { fromMapKey, type MapKey, toMapKey } from './map-key.ts';

export type { ListDistributionMode } from '../../operator-state.ts';

/** One operator list state as a snapshot reads it. */
export interface OperatorListStateData {
  readonly mode: ListDistributionMode;
  /** The elements in insertion order. Snapshots copy it; do not mutate. */
  readonly elements: readonly unknown[];
}

/** What a snapshot of a store not yet written to a file names as its path in messages. */
const IN_MEMORY_PATH = '(operator state snapshot in memory)';

interface ListRecord {
  readonly mode: ListDistributionMode;
  readonly elements: unknown[];
  readonly serializer: TypeSerializer<unknown>;
}

interface BroadcastRecord {
  readonly map: Map<MapKey, unknown>;
  readonly keySerializer: TypeSerializer<unknown>;
  readonly valueSerializer: TypeSerializer<unknown>;
}

/**
 * Operator state of one subtask, kept as plain data a snapshot can read directly: every list
 * state as a named array with its distribution mode, every broadcast state as a named Map.
 * Broadcast keys use the same primitive/composite key scheme as keyed state.
 * TTL is not supported on operator state (as in Flink): a descriptor with one is refused.
 *
 * Snapshots serialize everything synchronously (`snapshot()`): operator state is small by
 * design (source offsets, a few rules), so this costs little and needs no copy-on-write.
 * Restored state (`restore()`) stays serialized until the operator registers it, since only
 * the descriptor knows its serializer; the registration checks mode, kind and serializer.
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
  readonly #lists = new Map<string, ListRecord>();
  readonly #broadcast = new Map<string, BroadcastRecord>();
  /** Restored states not registered yet, still serialized. */
  readonly #restoredLists = new Map<string, OperatorListStateContents>();
  readonly #restoredBroadcasts = new Map<string, BroadcastStateContents>();

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return new OperatorListState<T>(this.#list(descriptor, 'split'));
  }

  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return new OperatorListState<T>(this.#list(descriptor, 'union'));
  }

  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V> {
    this.#check(descriptor, 'map');
    if (this.#lists.has(descriptor.name)) throw this.#clash(descriptor.name, 'list', 'broadcast');
    let record = this.#broadcast.get(descriptor.name);
    if (record === undefined) {
      record = {
        map: new Map(),
        keySerializer: (descriptor.keySerializer as TypeSerializer<unknown> | undefined) ?? valueSerializer,
        valueSerializer:
          (descriptor.valueSerializer as TypeSerializer<unknown> | undefined) ?? valueSerializer,
      };
      this.#restoreBroadcast(descriptor.name, record);
      this.#broadcast.set(descriptor.name, record);
    }
    return new HeapBroadcastState<K, V>(record.map);
  }

  /**
   * The synchronous part of a checkpoint: every state serialized now (a copy, so later
   * changes cannot reach it), plus restored states not registered yet as they were.
   * Throws SnapshotWriteError if a serializer fails.
   */
  snapshot(): OperatorStateContents {
    const lists: OperatorListStateContents[] = [];
    for (const [name, record] of this.#lists) {
      const elements = serializing(name, () =>
        record.elements.map((element) => toBytes(record.serializer, element)),
      );
      lists.push({
        name,
        mode: record.mode,
        serializer: serializerRef(record.serializer),
        elements,
        path: IN_MEMORY_PATH,
      });
    }
    for (const restored of this.#restoredLists.values()) lists.push(restored);
    const broadcasts: BroadcastStateContents[] = [];
    for (const [name, record] of this.#broadcast) {
      const entries = serializing(name, () =>
        [...record.map].map(
          ([mapKey, value]) =>
            [
              toBytes(record.keySerializer, fromMapKey(mapKey)),
              toBytes(record.valueSerializer, value),
            ] as const,
        ),
      );
      broadcasts.push({
        name,
        keySerializer: serializerRef(record.keySerializer),
        valueSerializer: serializerRef(record.valueSerializer),
        entries,
        path: IN_MEMORY_PATH,
      });
    }
    for (const restored of this.#restoredBroadcasts.values()) broadcasts.push(restored);
    return { lists, broadcasts };
  }

  /**
   * Takes this subtask's share of restored operator state (see `redistributeOperatorState`).
   * Call before the operator registers those states; it keeps references to the element bytes.
   */
  restore(contents: OperatorStateContents): void {
    for (const state of [...contents.lists, ...contents.broadcasts]) {
      const name = state.name;
      if (this.#lists.has(name) || this.#broadcast.has(name)) {
        throw new Error(`operator state '${name}' was restored after it was registered; restore first`);
      }
      if (this.#restoredLists.has(name) || this.#restoredBroadcasts.has(name)) {
        throw new Error(`operator state '${name}' was restored twice (again from ${state.path})`);
      }
    }
    for (const list of contents.lists) this.#restoredLists.set(list.name, list);
    for (const broadcast of contents.broadcasts) this.#restoredBroadcasts.set(broadcast.name, broadcast);
  }

  /** Every list state by name (registered ones; restored ones once registered). */
  listStates(): ReadonlyMap<string, OperatorListStateData> {
    const views = new Map<string, OperatorListStateData>();
    for (const [name, { mode, elements }] of this.#lists) views.set(name, { mode, elements });
    return views;
  }

  /** Every broadcast state by name, as decoded (key, value) pairs. */
  broadcastStates(): ReadonlyMap<string, ReadonlyMap<unknown, unknown>> {
    const decoded = new Map<string, ReadonlyMap<unknown, unknown>>();
    for (const [name, { map }] of this.#broadcast) {
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
    const serializer = (descriptor.serializer as TypeSerializer<unknown> | undefined) ?? valueSerializer;
    const elements = this.#restoreList(descriptor.name, mode, serializer);
    this.#lists.set(descriptor.name, { mode, elements, serializer });
    return elements;
  }

  /** The restored elements of a list state being registered (none if it was not restored). */
  #restoreList(name: string, mode: ListDistributionMode, serializer: TypeSerializer<unknown>): unknown[] {
    const restored = this.#restoredLists.get(name);
    if (restored === undefined) {
      const broadcast = this.#restoredBroadcasts.get(name);
      if (broadcast !== undefined) {
        throw new IncompatibleStateError(
          name,
          broadcast.path,
          `is broadcast state in the snapshot but is registered as ${mode} list state`,
        );
      }
      return [];
    }
    if (restored.mode !== mode) {
      throw new IncompatibleStateError(
        name,
        restored.path,
        `is ${restored.mode} list state in the snapshot but is registered as ${mode} list state; the distribution mode cannot change`,
      );
    }
    checkSerializerCompatible(name, restored.path, 'elements', restored.serializer, serializer);
    const elements = decoding(name, restored.path, serializer, () =>
      restored.elements.map((bytes) => fromBytes(serializer, bytes)),
    );
    this.#restoredLists.delete(name);
    return elements;
  }

  #restoreBroadcast(name: string, record: BroadcastRecord): void {
    const restored = this.#restoredBroadcasts.get(name);
    if (restored === undefined) {
      const list = this.#restoredLists.get(name);
      if (list !== undefined) {
        throw new IncompatibleStateError(
          name,
          list.path,
          `is ${list.mode} list state in the snapshot but is registered as broadcast state`,
        );
      }
      return;
    }
    checkSerializerCompatible(name, restored.path, 'keys', restored.keySerializer, record.keySerializer);
    checkSerializerCompatible(
      name,
      restored.path,
      'values',
      restored.valueSerializer,
      record.valueSerializer,
    );
    decoding(name, restored.path, record.valueSerializer, () => {
      for (const [key, value] of restored.entries) {
        const mapKey = toMapKey(fromBytes(record.keySerializer, key));
        if (record.map.has(mapKey)) throw new RangeError('a key appears twice');
        record.map.set(mapKey, fromBytes(record.valueSerializer, value));
      }
    });
    this.#restoredBroadcasts.delete(name);
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
function serializing<T>(stateName: string, serialize: () => T): T {
  try {
    return serialize();
  } catch (error) {
    throw new SnapshotWriteError(stateName, 'of operator state', { cause: error });
  }
}

function decoding<T>(
  stateName: string,
  path: string,
  serializer: TypeSerializer<unknown>,
  decode: () => T,
): T {
  try {
    return decode();
  } catch (error) {
    throw new CorruptSnapshotError(
      path,
      `operator state '${stateName}' could not be read with serializer ${serializer.id} v${serializer.version}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

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
