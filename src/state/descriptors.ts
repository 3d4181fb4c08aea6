/** State descriptors: name, kind, serializer and TTL of a state, as a user declares it. */
import type { TypeSerializer } from './serializers/type-serializer.ts';

/** When the TTL clock of an entry restarts. */
export type TtlUpdateType = 'OnCreateAndWrite' | 'OnReadAndWrite';
/** Whether a read may see an entry that has expired but was not yet removed. */
export type TtlVisibility = 'NeverReturnExpired' | 'ReturnExpiredIfNotCleanedUp';

export interface StateTtlConfig {
  readonly ttlMs: number;
  readonly updateType?: TtlUpdateType;
  readonly visibility?: TtlVisibility;
}

export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  /** Needed by merging (session) windows. */
  merge?(a: ACC, b: ACC): ACC;
}

export type ReduceFunction<T> = (a: T, b: T) => T;

interface DescriptorBase {
  readonly name: string;
  readonly ttl?: StateTtlConfig;
}

export interface ValueStateDescriptor<T> extends DescriptorBase {
  readonly kind: 'value';
  readonly serializer?: TypeSerializer<T>;
  readonly defaultValue?: T;
}
export interface ListStateDescriptor<T> extends DescriptorBase {
  readonly kind: 'list';
  readonly serializer?: TypeSerializer<T>;
}
export interface MapStateDescriptor<K, V> extends DescriptorBase {
  readonly kind: 'map';
  readonly keySerializer?: TypeSerializer<K>;
  readonly valueSerializer?: TypeSerializer<V>;
}
export interface ReducingStateDescriptor<T> extends DescriptorBase {
  readonly kind: 'reducing';
  readonly reduce: ReduceFunction<T>;
  readonly serializer?: TypeSerializer<T>;
}
export interface AggregatingStateDescriptor<IN, ACC, OUT> extends DescriptorBase {
  readonly kind: 'aggregating';
  readonly aggregate: AggregateFunction<IN, ACC, OUT>;
  readonly serializer?: TypeSerializer<ACC>;
}

export type StateDescriptor =
  | ValueStateDescriptor<unknown>
  | ListStateDescriptor<unknown>
  | MapStateDescriptor<unknown, unknown>
  | ReducingStateDescriptor<unknown>
  | AggregatingStateDescriptor<unknown, unknown, unknown>;
