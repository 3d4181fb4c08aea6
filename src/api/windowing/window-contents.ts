/** How a window keeps its contents in keyed state: one strategy per window function kind. */
import { WeirError } from '../../core/errors.ts';
import type { AggregateFunction, ReduceFunction } from '../../state/descriptors.ts';
import type {
  AggregatingState,
  InternalKvState,
  ListState,
  ReducingState,
  ValueState,
} from '../../state/keyed-state.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import {
  aggregatingState,
  listState,
  reducingState,
  valueState,
} from '../../state/state-descriptors-factory.ts';
import type { TimestampedValue } from './evictor.ts';
import type { WindowNamespace } from './merging-window-set.ts';

/** Name of the keyed state holding window contents (part of the savepoint format). */
export const WINDOW_CONTENTS_STATE = 'window-contents';

/**
 * The contents of the current key's windows. `get` returns what the window function
 * receives (`R`), or undefined for an empty window. `mergeNamespaces` folds the contents of
 * `sources` into `target` and empties the sources (session windows).
 */
export interface WindowContents<IN, R> {
  setNamespace(namespace: WindowNamespace): void;
  add(value: IN, timestampMs: number): void;
  get(): R | undefined;
  clear(): void;
  mergeNamespaces(target: WindowNamespace, sources: readonly WindowNamespace[]): void;
}

/** Reads and empties each source; used by the strategies whose state can be read back as values. */
function drain<V>(
  state: InternalKvState,
  sources: readonly WindowNamespace[],
  read: () => V | undefined,
): V[] {
  const values: V[] = [];
  for (const source of sources) {
    state.setCurrentNamespace(source);
    const value = read();
    if (value !== undefined) values.push(value);
    state.clear();
  }
  return values;
}

/** reduce: one reduced value per window (incremental, constant state per window). */
export class ReducingContents<T> implements WindowContents<T, T> {
  readonly #state: ReducingState<T> & InternalKvState;

  constructor(backend: KeyedStateBackend, reduce: ReduceFunction<T>) {
    this.#state = backend.getReducingState(reducingState(WINDOW_CONTENTS_STATE, reduce));
  }

  setNamespace(namespace: WindowNamespace): void {
    this.#state.setCurrentNamespace(namespace);
  }
  add(value: T): void {
    this.#state.add(value);
  }
  get(): T | undefined {
    return this.#state.get();
  }
  clear(): void {
    this.#state.clear();
  }
  mergeNamespaces(target: WindowNamespace, sources: readonly WindowNamespace[]): void {
    const values = drain(this.#state, sources, () => this.#state.get());
    this.#state.setCurrentNamespace(target);
    for (const value of values) this.#state.add(value);
  }
}

/** aggregate on non-merging windows: the backend's aggregating state, one accumulator per window. */
export class AggregatingContents<IN, ACC, OUT> implements WindowContents<IN, OUT> {
  readonly #state: AggregatingState<IN, OUT> & InternalKvState;

  constructor(backend: KeyedStateBackend, aggregate: AggregateFunction<IN, ACC, OUT>) {
    this.#state = backend.getAggregatingState(aggregatingState(WINDOW_CONTENTS_STATE, aggregate));
  }

  setNamespace(namespace: WindowNamespace): void {
    this.#state.setCurrentNamespace(namespace);
  }
  add(value: IN): void {
    this.#state.add(value);
  }
  get(): OUT | undefined {
    return this.#state.get();
  }
  clear(): void {
    this.#state.clear();
  }
  mergeNamespaces(): void {
    throw new WeirError(
      'aggregating window contents cannot merge (a bug: merging windows use AccumulatorContents)',
    );
  }
}

/**
 * aggregate on merging windows: the accumulator itself in value state, because merging needs
 * the accumulators (`AggregateFunction.merge`) and AggregatingState only exposes the result.
 */
export class AccumulatorContents<IN, ACC, OUT> implements WindowContents<IN, OUT> {
  readonly #state: ValueState<ACC> & InternalKvState;
  readonly #aggregate: AggregateFunction<IN, ACC, OUT>;
  readonly #merge: (a: ACC, b: ACC) => ACC;

  constructor(backend: KeyedStateBackend, aggregate: AggregateFunction<IN, ACC, OUT>) {
    if (aggregate.merge === undefined) {
      throw new WeirError(
        'an aggregate function on merging windows needs merge() (checked when the job is built)',
      );
    }
    this.#state = backend.getValueState(valueState<ACC>(WINDOW_CONTENTS_STATE));
    this.#aggregate = aggregate;
    this.#merge = aggregate.merge.bind(aggregate);
  }

  setNamespace(namespace: WindowNamespace): void {
    this.#state.setCurrentNamespace(namespace);
  }
  add(value: IN): void {
    const accumulator = this.#state.value() ?? this.#aggregate.createAccumulator();
    this.#state.update(this.#aggregate.add(value, accumulator));
  }
  get(): OUT | undefined {
    const accumulator = this.#state.value();
    return accumulator === undefined ? undefined : this.#aggregate.getResult(accumulator);
  }
  clear(): void {
    this.#state.clear();
  }
  mergeNamespaces(target: WindowNamespace, sources: readonly WindowNamespace[]): void {
    const accumulators = drain(this.#state, sources, () => this.#state.value());
    if (accumulators.length === 0) return;
    this.#state.setCurrentNamespace(target);
    let merged = this.#state.value();
    for (const accumulator of accumulators)
      merged = merged === undefined ? accumulator : this.#merge(merged, accumulator);
    this.#state.update(merged as ACC);
  }
}

/** process: every element, in arrival order. */
export class ListContents<T> implements WindowContents<T, T[]> {
  readonly #state: ListState<T> & InternalKvState;

  constructor(backend: KeyedStateBackend) {
    this.#state = backend.getListState(listState<T>(WINDOW_CONTENTS_STATE));
  }

  setNamespace(namespace: WindowNamespace): void {
    this.#state.setCurrentNamespace(namespace);
  }
  add(value: T): void {
    this.#state.add(value);
  }
  get(): T[] | undefined {
    const elements = this.#state.get();
    return elements.length === 0 ? undefined : elements;
  }
  clear(): void {
    this.#state.clear();
  }
  mergeNamespaces(target: WindowNamespace, sources: readonly WindowNamespace[]): void {
    const lists = drain(this.#state, sources, () => this.#state.get());
    this.#state.setCurrentNamespace(target);
    for (const list of lists) this.#state.addAll(list);
  }
}

/** Windows with an evictor: every element with its timestamp, so the evictor can choose. */
export class TimestampedListContents<T> implements WindowContents<T, TimestampedValue<T>[]> {
  readonly #state: ListState<TimestampedValue<T>> & InternalKvState;

  constructor(backend: KeyedStateBackend) {
    this.#state = backend.getListState(listState<TimestampedValue<T>>(WINDOW_CONTENTS_STATE));
  }

  setNamespace(namespace: WindowNamespace): void {
    this.#state.setCurrentNamespace(namespace);
  }
  add(value: T, timestampMs: number): void {
    this.#state.add({ value, timestampMs });
  }
  get(): TimestampedValue<T>[] | undefined {
    const elements = this.#state.get();
    return elements.length === 0 ? undefined : elements;
  }
  /** Keeps only `elements` (what the evictor kept) in the current window. */
  replace(elements: readonly TimestampedValue<T>[]): void {
    this.#state.update(elements);
  }
  clear(): void {
    this.#state.clear();
  }
  mergeNamespaces(target: WindowNamespace, sources: readonly WindowNamespace[]): void {
    const lists = drain(this.#state, sources, () => this.#state.get());
    this.#state.setCurrentNamespace(target);
    for (const list of lists) this.#state.addAll(list);
  }
}
