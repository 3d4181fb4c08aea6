/**
 * The keyed state a user function sees. Every access is scoped to the current key (and
 * namespace, for window state) and synchronous: there is no `await` to read state.
 */

export interface State {
  /** Removes the value for the current key. */
  clear(): void;
}

export interface ValueState<T> extends State {
  /** The value for the current key, or undefined (or the descriptor's default) when unset. */
  value(): T | undefined;
  update(value: T): void;
}

export interface ListState<T> extends State {
  /** The elements for the current key; an empty array when unset. A copy: mutate via add/update. */
  get(): T[];
  add(value: T): void;
  addAll(values: readonly T[]): void;
  update(values: readonly T[]): void;
}

export interface MapState<K, V> extends State {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  remove(key: K): void;
  contains(key: K): boolean;
  entries(): IterableIterator<[K, V]>;
  keys(): IterableIterator<K>;
  values(): IterableIterator<V>;
  isEmpty(): boolean;
}

/** Folds every added value into one with a ReduceFunction. */
export interface ReducingState<T> extends State {
  get(): T | undefined;
  add(value: T): void;
}

/** Folds added inputs into an accumulator; `get` returns the aggregate's result. */
export interface AggregatingState<IN, OUT> extends State {
  get(): OUT | undefined;
  add(value: IN): void;
}

/** Window operators (and other namespaced users) scope a state to a namespace as well. */
export interface InternalKvState extends State {
  setCurrentNamespace(namespace: string | number): void;
}

/** The namespace of state that belongs to no window. */
export const VOID_NAMESPACE = 0;
