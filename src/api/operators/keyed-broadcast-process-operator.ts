/** Runs a KeyedBroadcastProcessFunction: a keyed input (0) with state and timers, and a non-keyed broadcast input (1). */
import type { OperatorContext, TwoInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output, OutputTag } from '../../runtime/output.ts';
import type { FiredTimer, Triggerable } from '../../runtime/timer-service.ts';
import type { MapStateDescriptor, ValueStateDescriptor } from '../../state/descriptors.ts';
import { assignToKeyGroup } from '../../state/key-groups.ts';
import { type ValueState, VOID_NAMESPACE } from '../../state/keyed-state.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { BroadcastState, ReadOnlyBroadcastState } from '../../state/operator-state.ts';
import type {
  KeyedBroadcastContext,
  KeyedBroadcastProcessFunction,
  KeyedReadOnlyBroadcastContext,
} from '../functions.ts';
import { DeclaredBroadcastStates } from './declared-broadcast-states.ts';
import { KeyedProcessContext } from './keyed-process-context.ts';
import { USER_TIMERS } from './keyed-process-operator.ts';
import { closeFunction, instantiateFunction, openFunction, requireKeyedBackend } from './runtime-context.ts';
import { TimestampedCollector } from './timestamped-collector.ts';
import { UserTimerService } from './user-timer-service.ts';

/**
 * Flink's CoBroadcastWithKeyedOperator. Input 0 is keyed: the key context is set per record
 * and timers fire per key (timestamps as in KeyedProcessOperator). Input 1 is the broadcast
 * side and has no key: it writes broadcast state and reaches keyed state only through
 * `applyToKeyedState`, which visits every key of this subtask that has a value.
 *
 * @example
 * ```ts
 * new KeyedBroadcastProcessOperator<string, Event, Rule, Alert>(fn, [rules as MapStateDescriptor<unknown, unknown>]);
 * ```
 */
export class KeyedBroadcastProcessOperator<K, IN, B, OUT>
  extends AbstractStreamOperator<OUT>
  implements TwoInputStreamOperator<IN, B, OUT>, Triggerable
{
  readonly #fn: KeyedBroadcastProcessFunction<K, IN, B, OUT>;
  readonly #states: DeclaredBroadcastStates;
  #collector!: TimestampedCollector<OUT>;
  #keyedCtx!: KeyedSideContext<K>;
  #broadcastCtx!: BroadcastSideContext;

  constructor(
    fn: KeyedBroadcastProcessFunction<K, IN, B, OUT>,
    descriptors: readonly MapStateDescriptor<unknown, unknown>[],
  ) {
    super();
    this.#fn = instantiateFunction(fn);
    this.#states = new DeclaredBroadcastStates(descriptors);
    this.setInputCount(2);
  }

  override setup(context: OperatorContext, output: Output<OUT>): void {
    super.setup(context, output);
    this.#collector = new TimestampedCollector(output);
  }

  override open(): void | Promise<void> {
    const backend = requireKeyedBackend(this.context);
    const timers = new UserTimerService(this.context.getTimerService(USER_TIMERS, this));
    this.#states.open(this.context.operatorStateStore, this.context.operatorName);
    const watermark = () => this.currentWatermark();
    this.#keyedCtx = new KeyedSideContext<K>(this.#collector, backend, timers, this.#states, watermark);
    this.#broadcastCtx = new BroadcastSideContext(
      this.#collector,
      this.context,
      backend,
      this.#states,
      watermark,
    );
    return openFunction(this.#fn, this.context);
  }

  prepareBatch1(values: readonly IN[]): undefined | Promise<void> {
    return this.context.prefetchKeys(values, 0);
  }

  processElement1(value: IN, timestamp: number): void {
    this.context.setKeyContextElement(value, 0);
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement(value, this.#keyedCtx, this.#collector);
  }

  processElement2(value: B, timestamp: number): void {
    this.#collector.timestampMs = timestamp;
    this.#fn.processBroadcastElement(value, this.#broadcastCtx, this.#collector);
  }

  onEventTime(timer: FiredTimer): void {
    this.#keyedCtx.enterTimer('event-time', timer.timestampMs);
    this.#fn.onTimer?.(timer.timestampMs, this.#keyedCtx, this.#collector);
  }

  onProcessingTime(timer: FiredTimer): void {
    this.#keyedCtx.enterTimer('processing-time', timer.timestampMs);
    this.#fn.onTimer?.(timer.timestampMs, this.#keyedCtx, this.#collector);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}

/** The keyed side's context (elements and timers): key, timers, read-only broadcast state. */
class KeyedSideContext<K> extends KeyedProcessContext<K> implements KeyedReadOnlyBroadcastContext<K> {
  readonly #states: DeclaredBroadcastStates;
  readonly #watermark: () => number;

  constructor(
    collector: TimestampedCollector<unknown>,
    backend: KeyedStateBackend,
    timers: UserTimerService,
    states: DeclaredBroadcastStates,
    watermark: () => number,
  ) {
    super(collector, backend, timers);
    this.#states = states;
    this.#watermark = watermark;
  }

  getBroadcastState<KB, VB>(descriptor: MapStateDescriptor<KB, VB>): ReadOnlyBroadcastState<KB, VB> {
    return this.#states.readOnly(descriptor);
  }
  currentWatermark(): number {
    return this.#watermark();
  }
  currentProcessingTime(): number {
    return this.timerService().currentProcessingTime();
  }
}

/** The broadcast side's context: writable broadcast state, and every key's state via applyToKeyedState. */
class BroadcastSideContext implements KeyedBroadcastContext {
  readonly #collector: TimestampedCollector<unknown>;
  readonly #context: OperatorContext;
  readonly #backend: KeyedStateBackend;
  readonly #states: DeclaredBroadcastStates;
  readonly #watermark: () => number;
  readonly #handles = new Map<object, ValueState<unknown>>();

  constructor(
    collector: TimestampedCollector<unknown>,
    context: OperatorContext,
    backend: KeyedStateBackend,
    states: DeclaredBroadcastStates,
    watermark: () => number,
  ) {
    this.#collector = collector;
    this.#context = context;
    this.#backend = backend;
    this.#states = states;
    this.#watermark = watermark;
  }

  timestamp(): number | undefined {
    return this.#collector.timestamp();
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.#collector.collectSide(tag, value);
  }
  getBroadcastState<KB, VB>(descriptor: MapStateDescriptor<KB, VB>): BroadcastState<KB, VB> {
    return this.#states.writable(descriptor);
  }
  currentWatermark(): number {
    return this.#watermark();
  }
  currentProcessingTime(): number {
    return this.#context.processingTimeService.currentProcessingTime();
  }

  applyToKeyedState<S>(
    descriptor: ValueStateDescriptor<S>,
    fn: (key: unknown, state: ValueState<S>) => void,
  ): void {
    const backend = this.#backend;
    let state = this.#handles.get(descriptor) as ValueState<S> | undefined;
    if (state === undefined) {
      state = backend.getValueState(descriptor);
      this.#handles.set(descriptor, state as ValueState<unknown>);
    }
    // Keys are copied first: fn may clear or update state, which must not disturb the iteration.
    const keys = [...backend.keys(descriptor.name, VOID_NAMESPACE)];
    const previousKey = backend.getCurrentKey();
    const previousGroup = backend.getCurrentKeyGroup();
    try {
      for (const key of keys) {
        backend.setCurrentKey(key, assignToKeyGroup(key, this.#context.maxParallelism));
        fn(key, state);
      }
    } finally {
      if (previousKey !== undefined) backend.setCurrentKey(previousKey, previousGroup);
    }
  }
}
