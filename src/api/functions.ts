/** The user-function types of the DataStream API: plain functions, or objects with an open/close lifecycle. */

import type { OutputTag } from '../runtime/output.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../state/descriptors.ts';
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from '../state/keyed-state.ts';
import type { BroadcastState, OperatorStateStore, ReadOnlyBroadcastState } from '../state/operator-state.ts';

/** Receives a function's results. */
export interface Collector<T> {
  collect(value: T): void;
}

/** What a rich function sees of its subtask. Keyed state getters work only on keyed streams. */
export interface RuntimeContext {
  readonly operatorName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** Job arguments and configuration, as given to the environment. */
  readonly jobConfiguration: Readonly<Record<string, unknown>>;
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT>;
  /** Operator (non-keyed) state: list, union list and broadcast state. */
  readonly operatorState: OperatorStateStore;
}

/** Optional lifecycle of any user function object. */
export interface RichFunction {
  /** Called once per subtask before the first record; may be async (connect, load a model). */
  open?(context: RuntimeContext): void | Promise<void>;
  /** Called once at the end, also after a failure. */
  close?(): void | Promise<void>;
}

export interface MapFunctionObject<T, R> extends RichFunction {
  map(value: T): R;
}
export type MapFunction<T, R> = ((value: T) => R) | MapFunctionObject<T, R>;

export interface FlatMapFunctionObject<T, R> extends RichFunction {
  flatMap(value: T, out: Collector<R>): void;
}
export type FlatMapFunction<T, R> = ((value: T, out: Collector<R>) => void) | FlatMapFunctionObject<T, R>;

export interface FilterFunctionObject<T> extends RichFunction {
  filter(value: T): boolean;
}
export type FilterFunction<T> = ((value: T) => boolean) | FilterFunctionObject<T>;

export interface ReduceFunctionObject<T> extends RichFunction {
  reduce(a: T, b: T): T;
}
export type ReduceFunctionLike<T> = ((a: T, b: T) => T) | ReduceFunctionObject<T>;

/** Timers of the current key: event time fires on watermarks, processing time on the clock. */
export interface TimerService {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerEventTimeTimer(timestampMs: number): void;
  deleteEventTimeTimer(timestampMs: number): void;
  registerProcessingTimeTimer(timestampMs: number): void;
  deleteProcessingTimeTimer(timestampMs: number): void;
}

interface ElementContext {
  /** The record's event time, or undefined when it has none. */
  timestamp(): number | undefined;
  /** Emits to a side output. */
  output<X>(tag: OutputTag<X>, value: X): void;
}

export interface ProcessContext extends ElementContext {
  /** Timers need a keyed stream; on a non-keyed stream only the current times can be read. */
  timerService(): Pick<TimerService, 'currentProcessingTime' | 'currentWatermark'>;
}

export interface ProcessFunction<I, O> extends RichFunction {
  processElement(value: I, ctx: ProcessContext, out: Collector<O>): void;
}

export interface KeyedContext<K> extends ElementContext {
  getCurrentKey(): K;
  timerService(): TimerService;
}

export interface OnTimerContext<K> extends KeyedContext<K> {
  timeDomain(): 'event-time' | 'processing-time';
}

export interface KeyedProcessFunction<K, I, O> extends RichFunction {
  processElement(value: I, ctx: KeyedContext<K>, out: Collector<O>): void;
  onTimer?(timestampMs: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

export interface CoProcessFunction<I1, I2, O> extends RichFunction {
  processElement1(value: I1, ctx: ProcessContext, out: Collector<O>): void;
  processElement2(value: I2, ctx: ProcessContext, out: Collector<O>): void;
}

export interface KeyedCoProcessFunction<K, I1, I2, O> extends RichFunction {
  processElement1(value: I1, ctx: KeyedContext<K>, out: Collector<O>): void;
  processElement2(value: I2, ctx: KeyedContext<K>, out: Collector<O>): void;
  onTimer?(timestampMs: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/** Broadcast state is read-only on the non-broadcast side, writable on the broadcast side. */
export interface ReadOnlyBroadcastContext extends ElementContext {
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V>;
  currentWatermark(): number;
  currentProcessingTime(): number;
}

export interface BroadcastContext extends ElementContext {
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V>;
  currentWatermark(): number;
  currentProcessingTime(): number;
}

export interface BroadcastProcessFunction<I, B, O> extends RichFunction {
  processElement(value: I, ctx: ReadOnlyBroadcastContext, out: Collector<O>): void;
  processBroadcastElement(value: B, ctx: BroadcastContext, out: Collector<O>): void;
}

export interface KeyedReadOnlyBroadcastContext<K> extends ReadOnlyBroadcastContext {
  getCurrentKey(): K;
  timerService(): TimerService;
}

export interface KeyedBroadcastContext extends BroadcastContext {
  /** Runs `fn` for every key that has a value in the given keyed state of this subtask. */
  applyToKeyedState<S>(
    descriptor: ValueStateDescriptor<S>,
    fn: (key: unknown, state: ValueState<S>) => void,
  ): void;
}

export interface KeyedBroadcastProcessFunction<K, I, B, O> extends RichFunction {
  processElement(value: I, ctx: KeyedReadOnlyBroadcastContext<K>, out: Collector<O>): void;
  processBroadcastElement(value: B, ctx: KeyedBroadcastContext, out: Collector<O>): void;
  onTimer?(
    timestampMs: number,
    ctx: OnTimerContext<K> & KeyedReadOnlyBroadcastContext<K>,
    out: Collector<O>,
  ): void;
}
