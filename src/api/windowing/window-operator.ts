/** WindowOperator: groups a keyed stream into windows and runs a window function when their triggers fire. */
import { WeirError } from '../../core/errors.ts';
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output, OutputTag } from '../../runtime/output.ts';
import type { FiredTimer, InternalTimerService, Triggerable } from '../../runtime/timer-service.ts';
import { assignToKeyGroup } from '../../state/key-groups.ts';
import {
  type InternalKvState,
  type MapState,
  type ValueState,
  VOID_NAMESPACE,
} from '../../state/keyed-state.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import { mapState, valueState } from '../../state/state-descriptors-factory.ts';
import type { Collector } from '../functions.ts';
import { createRuntimeContext } from '../operators/runtime-context.ts';
import type { Evictor, EvictorContext } from './evictor.ts';
import {
  MergingWindowSet,
  type PersistedMergingWindows,
  type WindowNamespace,
} from './merging-window-set.ts';
import type { ProcessWindowContext } from './process-window-function.ts';
import { isFire, isPurge, type Trigger } from './trigger.ts';
import type { Window, WindowCodec } from './window.ts';
import {
  isMergingAssigner,
  type MergingWindowAssigner,
  type WindowAssigner,
  type WindowAssignerContext,
} from './window-assigner.ts';
import { createWindowFunctionRuntime, type WindowFunctionRuntime } from './window-function-runtime.ts';
import { validateWindowOperatorSpec, type WindowOperatorSpec } from './window-operator-spec.ts';
import { WindowTriggerContext } from './window-trigger-context.ts';

/** Name of the timer service of window operators. */
export const WINDOW_TIMERS = 'window-timers';
/** Keyed state (VOID namespace) holding each key's merging window set (session windows). */
export const MERGING_WINDOWS_STATE = 'window-merging-set';
/** Keyed state (VOID namespace) of processing-time windows not yet cleaned up: namespace → cleanup time. */
export const OPEN_PROCESSING_WINDOWS_STATE = 'window-open-processing-windows';

/** A cleanup time meaning "never": global windows are not cleaned up by time. */
const NEVER = Number.POSITIVE_INFINITY;

/**
 * Builds a window operator from a spec (validated here, so call it when the job is built).
 *
 * @example
 * const operator = createWindowOperator<Order, string, TimeWindow, Order>({
 *   assigner: TumblingEventTimeWindows.of(60_000),
 *   allowedLatenessMs: 5_000,
 *   function: { kind: 'reduce', reduce: (a, b) => ({ ...a, amount: a.amount + b.amount }) },
 * });
 */
export function createWindowOperator<T, KEY, W extends Window, OUT>(
  spec: WindowOperatorSpec<T, KEY, W, OUT>,
): WindowOperator<T, KEY, W, OUT> {
  validateWindowOperatorSpec(spec);
  return new WindowOperator(spec);
}

/**
 * Flink's WindowOperator. For each record: set the key, assign windows, add the record to
 * each window's contents (merging session windows first), ask the trigger, emit on FIRE,
 * drop contents on PURGE, and register a cleanup timer at `maxTimestamp + allowedLateness`
 * (event time) or `maxTimestamp` (processing time) that clears the window's state.
 *
 * Lateness (event time only): a record whose every window is past cleanup
 * (`maxTimestamp + allowedLateness <= watermark`) is dropped, or emitted to the late-data
 * side output when one is set. Records late for a window's end but within the allowed
 * lateness update the window and make the event-time trigger fire it again.
 *
 * Results carry the timestamp `window.maxTimestamp()`.
 *
 * End of input: the runtime sends MAX_WATERMARK before `finish()`, which fires and cleans up
 * every event-time window. Processing-time windows still open at `finish()` are fired as if
 * the clock had reached their end (their trigger's onProcessingTime at `maxTimestamp`, then
 * cleanup). Flink drops them silently; we prefer not to lose data a bounded job has read.
 * Global windows are never cleaned up by time, so a count window's incomplete remainder is
 * not emitted (as in Flink).
 */
export class WindowOperator<T, KEY, W extends Window, OUT>
  extends AbstractStreamOperator<OUT>
  implements OneInputStreamOperator<T, OUT>, Triggerable
{
  readonly #assigner: WindowAssigner<T, W>;
  readonly #merging: MergingWindowAssigner<T, W> | undefined;
  readonly #codec: WindowCodec<W>;
  readonly #trigger: Trigger<T, W>;
  readonly #evictor: Evictor<T, W> | undefined;
  readonly #isEventTime: boolean;
  readonly #allowedLatenessMs: number;
  readonly #lateDataTag: OutputTag<T> | undefined;
  readonly #spec: WindowOperatorSpec<T, KEY, W, OUT>;
  #lateRecordsDropped = 0;

  #backend!: KeyedStateBackend;
  #timers!: InternalTimerService;
  #runtime!: WindowFunctionRuntime<T, OUT, KEY, W>;
  #triggerContext!: WindowTriggerContext<T, W>;
  #mergingState: (ValueState<PersistedMergingWindows> & InternalKvState) | undefined;
  #openWindows: (MapState<WindowNamespace, number> & InternalKvState) | undefined;
  #assignerContext!: WindowAssignerContext;
  #processContext!: WindowProcessContext<W>;
  #collector!: TimestampedCollector<OUT>;

  constructor(spec: WindowOperatorSpec<T, KEY, W, OUT>) {
    super();
    this.#spec = spec;
    this.#assigner = spec.assigner;
    this.#merging = isMergingAssigner(spec.assigner) ? spec.assigner : undefined;
    this.#codec = spec.assigner.windowCodec;
    this.#trigger = spec.trigger ?? spec.assigner.defaultTrigger();
    this.#evictor = spec.evictor;
    this.#isEventTime = spec.assigner.isEventTime;
    this.#allowedLatenessMs = spec.allowedLatenessMs ?? 0;
    this.#lateDataTag = spec.lateDataTag;
  }

  /** Records dropped because they were late for all their windows (and no late-data tag was set). */
  get lateRecordsDropped(): number {
    return this.#lateRecordsDropped;
  }

  override open(): void | Promise<void> {
    const backend = this.context.keyedStateBackend;
    if (backend === undefined) {
      throw new WeirError(
        `window operator '${this.context.operatorName}' needs a keyed input (use keyBy before window)`,
      );
    }
    this.#backend = backend;
    this.#timers = this.context.getTimerService(WINDOW_TIMERS, this);
    const evictorContext: EvictorContext = {
      currentProcessingTime: () => this.#timers.currentProcessingTime(),
      currentWatermark: () => this.#timers.currentWatermark(),
    };
    this.#runtime = createWindowFunctionRuntime(
      this.#spec.function,
      backend,
      this.#merging !== undefined,
      this.#evictor,
      evictorContext,
    );
    this.#triggerContext = new WindowTriggerContext(backend, this.#timers, this.#trigger);
    this.#processContext = new WindowProcessContext(this.#timers, this.output);
    this.#collector = new TimestampedCollector(this.output);
    if (this.#merging !== undefined) {
      this.#mergingState = backend.getValueState(valueState<PersistedMergingWindows>(MERGING_WINDOWS_STATE));
    }
    if (!this.#isEventTime) {
      this.#openWindows = backend.getMapState(
        mapState<WindowNamespace, number>(OPEN_PROCESSING_WINDOWS_STATE),
      );
    }
    const { operatorName, subtaskIndex, parallelism } = this.context;
    this.#assignerContext = {
      currentProcessingTime: () => this.#timers.currentProcessingTime(),
      location: { operatorName, subtaskIndex, parallelism },
    };
    const runtimeContext = createRuntimeContext(this.context);
    return settle(this.#runtime.richFunctions.map((fn) => fn.open?.(runtimeContext)));
  }

  prepareBatch(values: readonly T[]): undefined | Promise<void> {
    return this.context.prefetchKeys(values, 0);
  }

  processElement(value: T, timestampMs: number): void {
    this.context.setKeyContextElement(value, 0);
    const windows = this.#assigner.assignWindows(value, timestampMs, this.#assignerContext);
    const skipped =
      this.#merging === undefined
        ? this.#addToWindows(value, timestampMs, windows)
        : this.#addToMergingWindows(this.#merging, value, timestampMs, windows);
    if (skipped && this.#isElementLate(timestampMs)) {
      if (this.#lateDataTag !== undefined) this.output.collectSide(this.#lateDataTag, value, timestampMs);
      else this.#lateRecordsDropped++;
    }
  }

  /** Returns true when every window was late (the record went nowhere). */
  #addToWindows(value: T, timestampMs: number, windows: readonly W[]): boolean {
    let skipped = true;
    for (const window of windows) {
      if (this.#isWindowLate(window)) continue;
      skipped = false;
      const namespace = this.#codec.toNamespace(window);
      this.#runtime.contents.setNamespace(namespace);
      this.#runtime.contents.add(value, timestampMs);
      this.#onElementInWindow(value, timestampMs, window, namespace);
    }
    return skipped;
  }

  #addToMergingWindows(
    assigner: MergingWindowAssigner<T, W>,
    value: T,
    timestampMs: number,
    windows: readonly W[],
  ): boolean {
    const set = this.#loadMergingSet(assigner);
    let skipped = true;
    for (const window of windows) {
      const actual = set.addWindow(
        window,
        (mergeResult, mergedWindows, stateWindowResult, mergedStateWindows) =>
          this.#onMerge(mergeResult, mergedWindows, stateWindowResult, mergedStateWindows),
      );
      if (this.#isWindowLate(actual)) {
        set.retireWindow(actual);
        continue;
      }
      skipped = false;
      const stateWindow = set.getStateWindow(actual);
      if (stateWindow === undefined)
        throw new WeirError(`merged window ${String(actual)} has no state window (a bug)`);
      this.#runtime.contents.setNamespace(stateWindow);
      this.#runtime.contents.add(value, timestampMs);
      this.#onElementInWindow(value, timestampMs, actual, this.#codec.toNamespace(actual));
    }
    this.#persistMergingSet(set);
    return skipped;
  }

  /** The record is in the window's contents (whose namespace is set): ask the trigger. */
  #onElementInWindow(value: T, timestampMs: number, window: W, namespace: WindowNamespace): void {
    this.#triggerContext.setWindow(window, namespace);
    const result = this.#triggerContext.onElement(value, timestampMs);
    if (isFire(result)) {
      const contents = this.#runtime.contents.get();
      if (contents !== undefined) this.#emit(window, contents);
    }
    if (isPurge(result)) this.#runtime.contents.clear();
    this.#registerCleanupTimer(window, namespace);
  }

  #onMerge(
    mergeResult: W,
    mergedWindows: readonly W[],
    stateWindowResult: WindowNamespace,
    mergedStateWindows: readonly WindowNamespace[],
  ): void {
    if (this.#isEventTime && this.#cleanupTime(mergeResult) <= this.#timers.currentWatermark()) {
      // Windows in the set are never past cleanup, and a merge only grows them.
      throw new WeirError(`merging produced window ${String(mergeResult)}, already past cleanup (a bug)`);
    }
    const context = this.#triggerContext;
    const mergedNamespaces = mergedWindows.map((w) => this.#codec.toNamespace(w));
    context.setWindow(mergeResult, this.#codec.toNamespace(mergeResult));
    context.onMerge(mergedNamespaces);
    for (let i = 0; i < mergedWindows.length; i++) {
      context.setWindow(mergedWindows[i], mergedNamespaces[i]);
      context.clear();
      this.#deleteCleanupTimer(mergedWindows[i], mergedNamespaces[i]);
    }
    this.#runtime.contents.mergeNamespaces(stateWindowResult, mergedStateWindows);
  }

  onEventTime(timer: FiredTimer): void {
    this.#onTimer(timer, true);
  }

  onProcessingTime(timer: FiredTimer): void {
    this.#onTimer(timer, false);
  }

  #onTimer(timer: FiredTimer, eventTime: boolean): void {
    const window = this.#codec.fromNamespace(timer.namespace);
    let set: MergingWindowSet<W> | undefined;
    if (this.#merging !== undefined) {
      set = this.#loadMergingSet(this.#merging);
      const stateWindow = set.getStateWindow(window);
      // A timer of a window that was merged away and whose trigger did not delete it.
      if (stateWindow === undefined) return;
      this.#runtime.contents.setNamespace(stateWindow);
    } else {
      this.#runtime.contents.setNamespace(timer.namespace);
    }
    const context = this.#triggerContext;
    context.setWindow(window, timer.namespace);
    const result = eventTime
      ? context.onEventTime(timer.timestampMs)
      : context.onProcessingTime(timer.timestampMs);
    if (isFire(result)) {
      const contents = this.#runtime.contents.get();
      if (contents !== undefined) this.#emit(window, contents);
    }
    if (isPurge(result)) this.#runtime.contents.clear();
    if (eventTime === this.#isEventTime && timer.timestampMs === this.#cleanupTime(window)) {
      this.#clearAllState(window, timer.namespace, set);
    }
    if (set !== undefined) this.#persistMergingSet(set);
  }

  /** Contents, trigger state and timers of the window go; the contents' namespace is set. */
  #clearAllState(window: W, namespace: WindowNamespace, set: MergingWindowSet<W> | undefined): void {
    this.#runtime.contents.clear();
    this.#triggerContext.setWindow(window, namespace);
    this.#triggerContext.clear();
    set?.retireWindow(window);
    if (this.#openWindows !== undefined) {
      this.#openWindows.setCurrentNamespace(VOID_NAMESPACE);
      this.#openWindows.remove(namespace);
    }
  }

  #emit(window: W, contents: unknown): void {
    this.#collector.timestampMs = window.maxTimestamp();
    this.#processContext.window = window;
    this.#runtime.emit(
      this.#backend.getCurrentKey() as KEY,
      window,
      contents,
      this.#processContext,
      this.#collector,
    );
  }

  /** When the window's state goes: after the allowed lateness for event time, at its end for processing time. */
  #cleanupTime(window: W): number {
    const maxTimestamp = window.maxTimestamp();
    if (maxTimestamp >= Number.MAX_SAFE_INTEGER) return NEVER;
    return this.#isEventTime ? maxTimestamp + this.#allowedLatenessMs : maxTimestamp;
  }

  #isWindowLate(window: W): boolean {
    return this.#isEventTime && this.#cleanupTime(window) <= this.#timers.currentWatermark();
  }

  #isElementLate(timestampMs: number): boolean {
    return this.#isEventTime && timestampMs + this.#allowedLatenessMs <= this.#timers.currentWatermark();
  }

  #registerCleanupTimer(window: W, namespace: WindowNamespace): void {
    const cleanupTime = this.#cleanupTime(window);
    if (cleanupTime === NEVER) return;
    if (this.#isEventTime) {
      this.#timers.registerEventTimeTimer(namespace, cleanupTime);
      return;
    }
    this.#timers.registerProcessingTimeTimer(namespace, cleanupTime);
    this.#openWindows!.setCurrentNamespace(VOID_NAMESPACE);
    this.#openWindows!.put(namespace, cleanupTime);
  }

  #deleteCleanupTimer(window: W, namespace: WindowNamespace): void {
    const cleanupTime = this.#cleanupTime(window);
    if (cleanupTime === NEVER) return;
    if (this.#isEventTime) {
      this.#timers.deleteEventTimeTimer(namespace, cleanupTime);
      return;
    }
    this.#timers.deleteProcessingTimeTimer(namespace, cleanupTime);
    this.#openWindows!.setCurrentNamespace(VOID_NAMESPACE);
    this.#openWindows!.remove(namespace);
  }

  #loadMergingSet(assigner: MergingWindowAssigner<T, W>): MergingWindowSet<W> {
    const state = this.#mergingState!;
    state.setCurrentNamespace(VOID_NAMESPACE);
    return new MergingWindowSet(assigner as MergingWindowAssigner<unknown, W>, state.value());
  }

  #persistMergingSet(set: MergingWindowSet<W>): void {
    if (!set.isChanged()) return;
    const state = this.#mergingState!;
    state.setCurrentNamespace(VOID_NAMESPACE);
    const persisted = set.toPersisted();
    if (persisted.length === 0) state.clear();
    else state.update(persisted);
  }

  /** Processing-time windows still open are fired as if the clock had reached their end (see class doc). */
  override finish(): void {
    const openWindows = this.#openWindows;
    if (openWindows === undefined) return;
    const backend = this.#backend;
    const keys = [...backend.keys(OPEN_PROCESSING_WINDOWS_STATE, VOID_NAMESPACE)];
    for (const key of keys) {
      const keyGroup = assignToKeyGroup(key, backend.maxParallelism);
      backend.setCurrentKey(key, keyGroup);
      openWindows.setCurrentNamespace(VOID_NAMESPACE);
      for (const [namespace, cleanupTimeMs] of [...openWindows.entries()]) {
        this.#timers.deleteProcessingTimeTimer(namespace, cleanupTimeMs);
        this.onProcessingTime({ key, namespace, timestampMs: cleanupTimeMs });
      }
    }
  }

  override close(): void | Promise<void> {
    // close may follow a failed open, before the runtime existed.
    const functions = this.#runtime?.richFunctions ?? [];
    return settle(functions.map((fn) => fn.close?.()));
  }
}

/** Awaits only what returned a promise, so an operator without async user code stays synchronous. */
function settle(results: ReadonlyArray<void | Promise<void>>): undefined | Promise<void> {
  const pending = results.filter((r): r is Promise<void> => r instanceof Promise);
  return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined);
}

/** The context a process window function sees; one per operator, re-pointed at each firing. */
class WindowProcessContext<W extends Window> implements ProcessWindowContext<W> {
  readonly #timers: InternalTimerService;
  readonly #output: Output<unknown>;
  window!: W;

  constructor(timers: InternalTimerService, output: Output<unknown>) {
    this.#timers = timers;
    this.#output = output;
  }

  currentProcessingTime(): number {
    return this.#timers.currentProcessingTime();
  }

  currentWatermark(): number {
    return this.#timers.currentWatermark();
  }

  output<X>(tag: OutputTag<X>, value: X): void {
    this.#output.collectSide(tag, value, this.window.maxTimestamp());
  }
}

/** Stamps every result of a firing with the window's timestamp. */
class TimestampedCollector<OUT> implements Collector<OUT> {
  readonly #output: Output<OUT>;
  timestampMs = 0;

  constructor(output: Output<OUT>) {
    this.#output = output;
  }

  collect(value: OUT): void {
    this.#output.collect(value, this.timestampMs);
  }
}
