/** The RuntimeContext user functions see, and the open/close/resolve plumbing for user functions. */
import { JobDefinitionError } from '../../core/errors.ts';
import type { OperatorContext } from '../../runtime/operator.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../state/descriptors.ts';
import type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from '../../state/keyed-state.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { OperatorStateStore } from '../../state/operator-state.ts';
import type { RichFunction, RuntimeContext } from '../functions.ts';

/**
 * A RuntimeContext backed by an operator's context. Keyed state handles are cached per
 * descriptor object, so a function that asks for its state on every record (legal, as in
 * Flink) gets the same handle back instead of a new one each time.
 */
class OperatorRuntimeContext implements RuntimeContext {
  readonly #context: OperatorContext;
  readonly #handles = new Map<object, unknown>();

  constructor(context: OperatorContext) {
    this.#context = context;
  }

  get operatorName(): string {
    return this.#context.operatorName;
  }
  get subtaskIndex(): number {
    return this.#context.subtaskIndex;
  }
  get parallelism(): number {
    return this.#context.parallelism;
  }
  get maxParallelism(): number {
    return this.#context.maxParallelism;
  }
  get jobConfiguration(): Readonly<Record<string, unknown>> {
    return this.#context.jobConfiguration;
  }
  get operatorState(): OperatorStateStore {
    return this.#context.operatorStateStore;
  }

  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> {
    return this.#handle(descriptor, (b) => b.getValueState(descriptor));
  }
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.#handle(descriptor, (b) => b.getListState(descriptor));
  }
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    return this.#handle(descriptor, (b) => b.getMapState(descriptor));
  }
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.#handle(descriptor, (b) => b.getReducingState(descriptor));
  }
  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT> {
    return this.#handle(descriptor, (b) => b.getAggregatingState(descriptor));
  }

  #handle<S>(descriptor: object, create: (backend: KeyedStateBackend) => S): S {
    const cached = this.#handles.get(descriptor);
    if (cached !== undefined) return cached as S;
    const handle = create(requireKeyedBackend(this.#context));
    this.#handles.set(descriptor, handle);
    return handle;
  }
}

/**
 * The operator's keyed state backend, or a clear error naming the operator when its input is
 * not keyed (the user forgot keyBy, or wired a keyed operator by hand).
 *
 * @example
 * ```ts
 * const backend = requireKeyedBackend(this.context);
 * ```
 */
export function requireKeyedBackend(context: OperatorContext): KeyedStateBackend {
  const backend = context.keyedStateBackend;
  if (backend === undefined) {
    throw new JobDefinitionError(
      `keyed state is only available on a keyed stream (call keyBy first) — operator '${context.operatorName}'`,
    );
  }
  return backend;
}

/**
 * Builds the RuntimeContext of a user function from its operator's context.
 *
 * @example
 * ```ts
 * const runtime = createRuntimeContext(this.context);
 * const count = runtime.getState(valueState<number>('count'));
 * ```
 */
export function createRuntimeContext(context: OperatorContext): RuntimeContext {
  return new OperatorRuntimeContext(context);
}

function asRich(fn: unknown): RichFunction | undefined {
  return typeof fn === 'object' && fn !== null ? (fn as RichFunction) : undefined;
}

/**
 * Calls a rich function's `open` (if it has one) with a RuntimeContext; plain functions have
 * no lifecycle. Operators return the result from their own `open`, so an async open is awaited.
 *
 * @example
 * ```ts
 * override open(): void | Promise<void> {
 *   return openFunction(this.#fn, this.context);
 * }
 * ```
 */
export function openFunction(fn: unknown, context: OperatorContext): void | Promise<void> {
  const rich = asRich(fn);
  if (typeof rich?.open === 'function') return rich.open(createRuntimeContext(context));
}

/**
 * Calls a rich function's `close` (if it has one).
 *
 * @example
 * ```ts
 * override close(): void | Promise<void> {
 *   return closeFunction(this.#fn);
 * }
 * ```
 */
export function closeFunction(fn: unknown): void | Promise<void> {
  const rich = asRich(fn);
  if (typeof rich?.close === 'function') return rich.close();
}

/**
 * Turns a user function given as a plain function or as an object with the method
 * `methodName` into one callable, bound to its object. Operators call this once, in their
 * constructor, so the record path is a direct call. The result has the type of the union's
 * plain-function member, and a method name the object type lacks does not typecheck.
 *
 * @example
 * ```ts
 * const map = resolveFunction(fn, 'map'); // fn: MapFunction<T, R>
 * map(value);
 * ```
 */
export function resolveFunction<FN extends Callable | { readonly [P in M]: Callable }, M extends string>(
  fn: FN,
  methodName: M,
): Extract<FN, Callable> {
  if (typeof fn === 'function') return fn as Extract<FN, Callable>;
  const method =
    typeof fn === 'object' && fn !== null ? (fn as Record<string, unknown>)[methodName] : undefined;
  if (typeof method !== 'function') {
    throw new TypeError(
      `expected a function or an object with a ${methodName}() method, got ${fn === null ? 'null' : typeof fn}`,
    );
  }
  return method.bind(fn) as Extract<FN, Callable>;
}

/** Any function; the plain-function member of a user-function union (MapFunction etc.). */
type Callable = (...args: never[]) => unknown;

/** Instances a factory made for one subtask: already private to it, never copied. */
const perSubtaskInstances = new WeakSet<object>();

/**
 * Turns "a function object or a factory of them" into a factory called once per subtask.
 * Used by the API for the process family, where a function argument can only be a factory.
 */
export function perSubtaskFactory<FN extends object>(fnOrFactory: FN | (() => FN)): () => FN {
  if (typeof fnOrFactory !== 'function') return () => fnOrFactory;
  const factory = fnOrFactory as () => FN;
  return () => {
    const instance = factory();
    if (typeof instance !== 'object' || instance === null) {
      throw new TypeError(`a function factory must return a function object, got ${String(instance)}`);
    }
    perSubtaskInstances.add(instance);
    return instance;
  };
}

/**
 * The user function one operator instance (one subtask) works with. Flink gives every subtask
 * its own deserialized copy, so `this.state = ctx.getState(...)` in `open` is per subtask;
 * here the job's factories close over ONE object, shared by every subtask in the thread. So
 * every object (plain or class instance) is replaced by a fresh object inheriting from it:
 * methods and initial fields are shared, whatever `open` or a method assigns to `this` is per
 * subtask. `#private` fields cannot follow such a copy; their use fails with a hint to pass a
 * factory (`() => new MyFunction()`), whose instances are used as they are.
 *
 * @example
 * ```ts
 * this.#fn = instantiateFunction(fn);
 * ```
 */
export function instantiateFunction<FN>(fn: FN): FN {
  if (typeof fn !== 'object' || fn === null || perSubtaskInstances.has(fn)) return fn;
  return Object.create(fn) as FN;
}
