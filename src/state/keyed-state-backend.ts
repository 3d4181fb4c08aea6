/** The contract between keyed operators and a state backend (heap now, on-disk later). */
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from './descriptors.ts';
import type { KeyGroupRange } from './key-group-range.ts';
import type {
  AggregatingState,
  InternalKvState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from './keyed-state.ts';

/**
 * Keyed state of one operator in one subtask. The operator sets the current key before it
 * calls user code; every state handle it gave out then reads and writes that key's entry.
 * Handles are created once (in `open`) and stay valid for the backend's lifetime.
 */
export interface KeyedStateBackend {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;

  /** `keyGroup` is the key's group, already computed by the caller (it lies in the range). */
  setCurrentKey(key: unknown, keyGroup: number): void;
  getCurrentKey(): unknown;
  getCurrentKeyGroup(): number;

  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> & InternalKvState;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> & InternalKvState;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> & InternalKvState;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> & InternalKvState;
  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT> & InternalKvState;

  /**
   * Called with the keys (and their groups) of an input batch before the batch runs, so a
   * backend whose storage is asynchronous can load them in one batched read. The heap
   * backend returns undefined at once; the caller awaits only a returned promise.
   */
  prefetch(keys: readonly unknown[], keyGroups: Int32Array | readonly number[]): undefined | Promise<void>;

  /** Every key that has a non-empty entry in the named state (any namespace), for `applyToKeyedState`. */
  keys(stateName: string, namespace?: string | number): IterableIterator<unknown>;

  /** Releases resources; the backend is unusable afterwards. */
  dispose(): void;
}

/** Builds a keyed backend for one operator in one subtask. */
export interface KeyedStateBackendFactory {
  readonly name: string;
  create(options: {
    readonly operatorId: string;
    readonly keyGroupRange: KeyGroupRange;
    readonly maxParallelism: number;
    readonly clock: import('../core/clock.ts').Clock;
  }): KeyedStateBackend;
}
