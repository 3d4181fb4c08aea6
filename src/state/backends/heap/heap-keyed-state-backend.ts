/** The heap keyed state backend: working state in JS Maps, one table per state, one map per key group. */
import type { Clock } from '../../../core/clock.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../descriptors.ts';
import type { KeyGroupRange } from '../../key-group-range.ts';
import { keyGroupRangeSize } from '../../key-groups.ts';
import type {
  AggregatingState,
  InternalKvState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from '../../keyed-state.ts';
import type { KeyedStateBackend, KeyedStateBackendFactory } from '../../keyed-state-backend.ts';
import {
  checkKeyedBackendOptions,
  checkSameRegistration,
  RestoredChunks,
  serializersOf,
  wrongKeyGroupError,
} from '../../keyed-state-registration.ts';
import {
  decodeAllTimers,
  type KeyedStateFileContents,
  type KeyedStateSnapshot,
} from '../../snapshot/keyed-state-format.ts';
import type { TimerSnapshotEntry } from '../../snapshot/timer-snapshot.ts';
import { type StateDescriptorLike, validateStateDescriptor } from '../../state-descriptors-factory.ts';
import { CurrentKey } from './current-key.ts';
import { restoreStateTable } from './heap-keyed-state-restore.ts';
import { HeapKeyedStateSnapshot, type TableView, tableMeta } from './heap-keyed-state-snapshot.ts';
import { emptyIterator } from './heap-map-state.ts';
import { toMapKey } from './map-key.ts';
import {
  aggregatingStateHandle,
  listStateHandle,
  mapStateHandle,
  reducingStateHandle,
  valueStateHandle,
} from './state-handles.ts';
import { type Namespace, StateTable } from './state-table.ts';
import { listCellOps, mapCellOps, type TtlCellOps, valueCellOps } from './ttl.ts';

/** What a heap backend is built from; the same options every KeyedStateBackendFactory receives. */
export interface HeapKeyedStateBackendOptions {
  readonly operatorId: string;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly clock: Clock;
}

/**
 * Keyed state in JS Maps (Flink's HashMapStateBackend). Primitive keys are Map keys as they
 * are; arrays and plain objects go through a canonical string that cannot collide with a
 * primitive key (see map-key.ts). `setCurrentKey` computes that once, so a state access on
 * the void namespace is an array index and one `Map.get`/`Map.set`, allocation-free.
 *
 * TTL: entries carry their expiry time; an expired entry is removed when it is accessed, and
 * every access of a TTL state also checks TTL_CLEANUP_ENTRIES_PER_ACCESS further entries of
 * that state from a rolling cursor (incremental cleanup), so state of keys that never come
 * back is removed too. States without TTL pay nothing for it. See docs/state.md.
 *
 * @example
 * ```ts
 * const backend = hashMapStateBackend.create({
 *   operatorId: 'counter', keyGroupRange: { start: 0, end: 127 }, maxParallelism: 128, clock: new SystemClock(),
 * });
 * const count = backend.getValueState(valueState<number>('count', { defaultValue: 0 }));
 * backend.setCurrentKey('alice', assignToKeyGroup('alice', 128));
 * count.update(count.value()! + 1);
 * ```
 */
export class HeapKeyedStateBackend implements KeyedStateBackend {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly operatorId: string;
  readonly #clock: Clock;
  readonly #current = new CurrentKey();
  readonly #tables = new Map<string, StateTable>();
  /** Restored states not registered yet: their undecoded chunks by group index. */
  readonly #restored: RestoredChunks;
  /** Snapshots taken and not released: while > 0 the tables copy on write. */
  #snapshotsPending = 0;
  #groupCount: number;
  #disposed = false;

  constructor(options: HeapKeyedStateBackendOptions) {
    const { keyGroupRange: range, maxParallelism } = options;
    checkKeyedBackendOptions(options);
    this.keyGroupRange = { start: range.start, end: range.end };
    this.maxParallelism = maxParallelism;
    this.operatorId = options.operatorId;
    this.#clock = options.clock;
    this.#groupCount = keyGroupRangeSize(range);
    this.#restored = new RestoredChunks({
      operatorId: this.operatorId,
      keyGroupRange: this.keyGroupRange,
      maxParallelism,
    });
  }

  setCurrentKey(key: unknown, keyGroup: number): void {
    const groupIndex = keyGroup - this.keyGroupRange.start;
    if (!(groupIndex >= 0 && groupIndex < this.#groupCount) || (keyGroup | 0) !== keyGroup) {
      this.#rejectKeyGroup(key, keyGroup);
    }
    const current = this.#current;
    // Map key first: if the key is unusable, the previous key stays current.
    current.mapKey = typeof key === 'string' && key.charCodeAt(0) !== 1 ? key : toMapKey(key);
    current.key = key;
    current.keyGroup = keyGroup;
    current.groupIndex = groupIndex;
  }

  getCurrentKey(): unknown {
    return this.#current.key;
  }

  getCurrentKeyGroup(): number {
    return this.#current.keyGroup;
  }

  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> & InternalKvState {
    return valueStateHandle(this.#register(descriptor, valueCellOps), descriptor, this.#clock);
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> & InternalKvState {
    return listStateHandle(this.#register(descriptor, listCellOps), descriptor, this.#clock);
  }

  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> & InternalKvState {
    return mapStateHandle(this.#register(descriptor, mapCellOps), descriptor, this.#clock);
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> & InternalKvState {
    return reducingStateHandle(this.#register(descriptor, valueCellOps), descriptor, this.#clock);
  }

  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT> & InternalKvState {
    return aggregatingStateHandle(this.#register(descriptor, valueCellOps), descriptor, this.#clock);
  }

  /** The heap needs no loading: always undefined, so the caller never awaits. */
  prefetch(_keys: readonly unknown[], _keyGroups: Int32Array | readonly number[]): undefined {
    return undefined;
  }

  keys(stateName: string, namespace?: Namespace): IterableIterator<unknown> {
    const table = this.#tables.get(stateName);
    if (table === undefined) return emptyIterator();
    return table.keys(namespace, table.ttl === undefined ? 0 : this.#clock.now());
  }

  snapshot(): KeyedStateSnapshot {
    if (this.#disposed) throw new Error(`snapshot of the disposed backend of operator '${this.operatorId}'`);
    const tables: TableView[] = [];
    for (const table of this.#tables.values()) {
      tables.push({
        meta: tableMeta(table),
        groups: table.shareGroups(),
        ttlOps: table.ttlOps,
        format: {
          kind: table.kind,
          hasTtl: table.ttl !== undefined,
          valueSerializer: table.valueSerializer,
          mapKeySerializer: table.mapKeySerializer,
        },
      });
    }
    this.#snapshotsPending++;
    return new HeapKeyedStateSnapshot({
      keyGroupRange: this.keyGroupRange,
      maxParallelism: this.maxParallelism,
      tables,
      pending: this.#restored.pendingCopies(),
      nowMs: this.#clock.now(),
      onRelease: () => this.#releaseSnapshot(),
    });
  }

  restore(parts: readonly KeyedStateFileContents[]): TimerSnapshotEntry[] {
    if (this.#disposed) throw new Error(`restore into the disposed backend of operator '${this.operatorId}'`);
    return decodeAllTimers(this.#restored.add(parts, this.#tables));
  }

  /**
   * The tables of every registered state, by name: what a snapshot reads (through
   * `StateTable.shareGroups`). Internal to state backends and their snapshot strategies.
   */
  stateTables(): ReadonlyMap<string, StateTable> {
    return this.#tables;
  }

  dispose(): void {
    this.#disposed = true;
    this.#restored.clear();
    for (const table of this.#tables.values()) table.dispose();
    this.#tables.clear();
    this.#groupCount = 0;
    this.#current.groupIndex = -1;
    this.#current.keyGroup = -1;
    this.#current.key = undefined;
  }

  #register(descriptor: StateDescriptorLike, ttlOps: TtlCellOps): StateTable {
    if (this.#disposed)
      throw new Error(`state '${descriptor.name}' was requested after the backend was disposed`);
    validateStateDescriptor(descriptor);
    const existing = this.#tables.get(descriptor.name);
    if (existing !== undefined) {
      checkSameRegistration(existing, descriptor, this.operatorId);
      return existing;
    }
    const table = new StateTable({
      name: descriptor.name,
      kind: descriptor.kind,
      ttl: descriptor.ttl === undefined ? undefined : { ...descriptor.ttl },
      ttlOps: descriptor.ttl === undefined ? undefined : ttlOps,
      current: this.#current,
      groupCount: this.#groupCount,
      ...serializersOf(descriptor),
    });
    const restored = this.#restored.get(descriptor.name);
    if (restored !== undefined) {
      // Throws on an incompatible or undecodable state; the state stays unregistered then.
      restoreStateTable(table, restored, this.maxParallelism, this.keyGroupRange.start);
      this.#restored.delete(descriptor.name);
    }
    this.#tables.set(descriptor.name, table);
    return table;
  }

  #releaseSnapshot(): void {
    this.#snapshotsPending--;
    if (this.#snapshotsPending > 0 || this.#disposed) return;
    for (const table of this.#tables.values()) table.releaseShares();
  }

  #rejectKeyGroup(key: unknown, keyGroup: number): never {
    throw wrongKeyGroupError(key, keyGroup, this.keyGroupRange, this.operatorId, this.#disposed);
  }
}

/**
 * The factory for `--state-backend hashmap`: working state on the JS heap.
 *
 * @example
 * ```ts
 * const backend = hashMapStateBackend.create({
 *   operatorId: 'op', keyGroupRange: computeKeyGroupRange(128, 4, 0), maxParallelism: 128, clock: new SystemClock(),
 * });
 * ```
 */
export const hashMapStateBackend: KeyedStateBackendFactory = {
  name: 'hashmap',
  create: (options) => new HeapKeyedStateBackend(options),
};
