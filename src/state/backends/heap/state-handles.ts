/** The state handles user code gets for a registered table, with or without TTL: what the heap and disk backends both hand out. */
import type { Clock } from '../../../core/clock.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../descriptors.ts';
import type {
  AggregatingState,
  InternalKvState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from '../../keyed-state.ts';
import { HeapAggregatingState } from './heap-aggregating-state.ts';
import { HeapListState } from './heap-list-state.ts';
import { HeapMapState } from './heap-map-state.ts';
import { HeapReducingState } from './heap-reducing-state.ts';
import { HeapValueState } from './heap-value-state.ts';
import type { StateTable } from './state-table.ts';
import { TtlPolicy } from './ttl.ts';
import { TtlAggregatingState } from './ttl-aggregating-state.ts';
import { TtlListState } from './ttl-list-state.ts';
import { TtlMapState } from './ttl-map-state.ts';
import { TtlReducingState } from './ttl-reducing-state.ts';
import { TtlValueState } from './ttl-value-state.ts';

/**
 * The value state handle over `table`: the TTL variant when the descriptor has a TTL.
 *
 * @example
 * ```ts
 * const count = valueStateHandle(table, valueState<number>('count', { defaultValue: 0 }), clock);
 * ```
 */
export function valueStateHandle<T>(
  table: StateTable,
  descriptor: ValueStateDescriptor<T>,
  clock: Clock,
): ValueState<T> & InternalKvState {
  return descriptor.ttl === undefined
    ? new HeapValueState<T>(table, descriptor.defaultValue)
    : new TtlValueState<T>(table, new TtlPolicy(descriptor.ttl, clock), descriptor.defaultValue);
}

/** The list state handle over `table`; see valueStateHandle. */
export function listStateHandle<T>(
  table: StateTable,
  descriptor: ListStateDescriptor<T>,
  clock: Clock,
): ListState<T> & InternalKvState {
  return descriptor.ttl === undefined
    ? new HeapListState<T>(table)
    : new TtlListState<T>(table, new TtlPolicy(descriptor.ttl, clock));
}

/** The map state handle over `table`; see valueStateHandle. */
export function mapStateHandle<K, V>(
  table: StateTable,
  descriptor: MapStateDescriptor<K, V>,
  clock: Clock,
): MapState<K, V> & InternalKvState {
  return descriptor.ttl === undefined
    ? new HeapMapState<K, V>(table)
    : new TtlMapState<K, V>(table, new TtlPolicy(descriptor.ttl, clock));
}

/** The reducing state handle over `table`; see valueStateHandle. */
export function reducingStateHandle<T>(
  table: StateTable,
  descriptor: ReducingStateDescriptor<T>,
  clock: Clock,
): ReducingState<T> & InternalKvState {
  return descriptor.ttl === undefined
    ? new HeapReducingState<T>(table, descriptor.reduce)
    : new TtlReducingState<T>(table, new TtlPolicy(descriptor.ttl, clock), descriptor.reduce);
}

/** The aggregating state handle over `table`; see valueStateHandle. */
export function aggregatingStateHandle<IN, ACC, OUT>(
  table: StateTable,
  descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  clock: Clock,
): AggregatingState<IN, OUT> & InternalKvState {
  return descriptor.ttl === undefined
    ? new HeapAggregatingState<IN, ACC, OUT>(table, descriptor.aggregate)
    : new TtlAggregatingState<IN, ACC, OUT>(
        table,
        new TtlPolicy(descriptor.ttl, clock),
        descriptor.aggregate,
      );
}
