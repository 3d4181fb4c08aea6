/** Non-keyed state of one operator instance: list, union list and broadcast state. */

import type { ListStateDescriptor, MapStateDescriptor } from './descriptors.ts';
import type { ListState } from './keyed-state.ts';

/** How a list state's elements are redistributed when a job is restored with another parallelism. */
export type ListDistributionMode = 'split' | 'union';

/**
 * Operator list state: on restore with a different parallelism, a list state's elements are
 * split evenly over the new subtasks and a union list state's are given whole to every one.
 */
export interface OperatorStateStore {
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V>;
}

/** Read-only view of broadcast state, as the keyed (non-broadcast) side sees it. */
export interface ReadOnlyBroadcastState<K, V> {
  get(key: K): V | undefined;
  contains(key: K): boolean;
  entries(): IterableIterator<[K, V]>;
}

/** Broadcast state: the same map in every subtask, written only from the broadcast side. */
export interface BroadcastState<K, V> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V): void;
  remove(key: K): void;
  clear(): void;
}
