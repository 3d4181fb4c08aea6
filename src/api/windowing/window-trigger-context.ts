/** The trigger context of a window operator: timers and per-window state for the window being handled. */
import { WeirError } from '../../core/errors.ts';
import type { InternalTimerService } from '../../runtime/timer-service.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from '../../state/descriptors.ts';
import type {
  AggregatingState,
  InternalKvState,
  ListState,
  MapState,
  ReducingState,
  State,
  ValueState,
} from '../../state/keyed-state.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { StateDescriptorLike } from '../../state/state-descriptors-factory.ts';
import type { WindowNamespace } from './merging-window-set.ts';
import type { OnMergeContext, Trigger, TriggerResult } from './trigger.ts';
import type { Window } from './window.ts';

type KvState = State & InternalKvState;

/**
 * One reusable context per operator (no allocation per record): the operator points it at
 * a window with `setWindow`, then calls the trigger through it. Trigger state handles are
 * created on first use and cached by name; each access re-targets the handle to the window.
 */
export class WindowTriggerContext<T, W extends Window> implements OnMergeContext {
  readonly #backend: KeyedStateBackend;
  readonly #timers: InternalTimerService;
  readonly #trigger: Trigger<T, W>;
  readonly #states = new Map<string, { readonly kind: StateDescriptor['kind']; readonly state: KvState }>();
  #window!: W;
  #namespace: WindowNamespace = 0;
  #mergedNamespaces: readonly WindowNamespace[] = [];

  constructor(backend: KeyedStateBackend, timers: InternalTimerService, trigger: Trigger<T, W>) {
    this.#backend = backend;
    this.#timers = timers;
    this.#trigger = trigger;
  }

  setWindow(window: W, namespace: WindowNamespace): void {
    this.#window = window;
    this.#namespace = namespace;
  }

  onElement(element: T, timestampMs: number): TriggerResult {
    return this.#trigger.onElement(element, timestampMs, this.#window, this);
  }

  onEventTime(timestampMs: number): TriggerResult {
    return this.#trigger.onEventTime(timestampMs, this.#window, this);
  }

  onProcessingTime(timestampMs: number): TriggerResult {
    return this.#trigger.onProcessingTime(timestampMs, this.#window, this);
  }

  /** The current window is the merge result; `mergedNamespaces` are the windows it replaced. */
  onMerge(mergedNamespaces: readonly WindowNamespace[]): void {
    this.#mergedNamespaces = mergedNamespaces;
    try {
      this.#trigger.onMerge?.(this.#window, this);
    } finally {
      this.#mergedNamespaces = [];
    }
  }

  clear(): void {
    this.#trigger.clear(this.#window, this);
  }

  currentProcessingTime(): number {
    return this.#timers.currentProcessingTime();
  }
  currentWatermark(): number {
    return this.#timers.currentWatermark();
  }
  registerEventTimeTimer(timestampMs: number): void {
    this.#timers.registerEventTimeTimer(this.#namespace, timestampMs);
  }
  deleteEventTimeTimer(timestampMs: number): void {
    this.#timers.deleteEventTimeTimer(this.#namespace, timestampMs);
  }
  registerProcessingTimeTimer(timestampMs: number): void {
    this.#timers.registerProcessingTimeTimer(this.#namespace, timestampMs);
  }
  deleteProcessingTimeTimer(timestampMs: number): void {
    this.#timers.deleteProcessingTimeTimer(this.#namespace, timestampMs);
  }

  getPartitionedState<S>(descriptor: ValueStateDescriptor<S>): ValueState<S>;
  getPartitionedState<S>(descriptor: ListStateDescriptor<S>): ListState<S>;
  getPartitionedState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getPartitionedState<S>(descriptor: ReducingStateDescriptor<S>): ReducingState<S>;
  getPartitionedState<I, A, O>(descriptor: AggregatingStateDescriptor<I, A, O>): AggregatingState<I, O>;
  getPartitionedState(descriptor: StateDescriptorLike): State {
    // Function-typed fields make typed descriptors no StateDescriptor; the kind tag is what matters.
    const state = this.#handle(descriptor as StateDescriptor);
    state.setCurrentNamespace(this.#namespace);
    return state;
  }

  mergePartitionedState<S>(descriptor: ReducingStateDescriptor<S> | ListStateDescriptor<S>): void {
    if (this.#mergedNamespaces.length === 0) return;
    const generic = descriptor as StateDescriptor;
    if (generic.kind === 'reducing') {
      const state = this.#handle(generic) as ReducingState<unknown> & InternalKvState;
      const values = this.#drain(state, () => state.get());
      state.setCurrentNamespace(this.#namespace);
      for (const value of values) state.add(value);
    } else if (generic.kind === 'list') {
      const state = this.#handle(generic) as ListState<unknown> & InternalKvState;
      const lists = this.#drain(state, () => state.get());
      state.setCurrentNamespace(this.#namespace);
      for (const list of lists) state.addAll(list);
    } else {
      throw new WeirError(
        `trigger state '${generic.name}' is ${generic.kind} state, which cannot be merged (use reducing or list state)`,
      );
    }
  }

  #drain<V>(state: KvState, read: () => V | undefined): V[] {
    const values: V[] = [];
    for (const namespace of this.#mergedNamespaces) {
      state.setCurrentNamespace(namespace);
      const value = read();
      if (value !== undefined) values.push(value);
      state.clear();
    }
    return values;
  }

  #handle(descriptor: StateDescriptor): KvState {
    const cached = this.#states.get(descriptor.name);
    if (cached !== undefined) {
      if (cached.kind !== descriptor.kind) {
        throw new WeirError(
          `trigger state '${descriptor.name}' was registered as ${cached.kind} state and is now asked for as ${descriptor.kind}`,
        );
      }
      return cached.state;
    }
    const state = this.#create(descriptor);
    this.#states.set(descriptor.name, { kind: descriptor.kind, state });
    return state;
  }

  #create(descriptor: StateDescriptor): KvState {
    switch (descriptor.kind) {
      case 'value':
        return this.#backend.getValueState(descriptor);
      case 'list':
        return this.#backend.getListState(descriptor);
      case 'map':
        return this.#backend.getMapState(descriptor);
      case 'reducing':
        return this.#backend.getReducingState(descriptor);
      case 'aggregating':
        return this.#backend.getAggregatingState(descriptor);
    }
  }
}
