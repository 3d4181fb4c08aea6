/** Runs a window's function on its contents when it fires: pass-through, single-value or iterable, with optional eviction. */
import type { AggregateFunction } from '../../state/descriptors.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { Collector, ReduceFunctionLike, RichFunction } from '../functions.ts';
import { instantiateFunction, resolveFunction } from '../operators/runtime-context.ts';
import type { Evictor, EvictorContext, TimestampedValue } from './evictor.ts';
import type { ProcessWindowContext, ProcessWindowFunction } from './process-window-function.ts';
import type { Window } from './window.ts';
import {
  AccumulatorContents,
  AggregatingContents,
  ListContents,
  ReducingContents,
  TimestampedListContents,
  type WindowContents,
} from './window-contents.ts';
import type { WindowFunctionSpec } from './window-operator-spec.ts';

/**
 * The state strategy and the emitting step of one window operator. `emit` receives what
 * `contents.get()` returned for the firing window (the contents' namespace is still set).
 */
export interface WindowFunctionRuntime<IN, OUT, KEY, W extends Window> {
  readonly contents: WindowContents<IN, unknown>;
  /** User function objects with an open/close lifecycle. */
  readonly richFunctions: readonly RichFunction[];
  emit(key: KEY, window: W, contents: unknown, context: ProcessWindowContext<W>, out: Collector<OUT>): void;
}

type Emit<OUT, KEY, W extends Window> = WindowFunctionRuntime<unknown, OUT, KEY, W>['emit'];

function toReduce<T>(fn: ReduceFunctionLike<T>): (a: T, b: T) => T {
  return resolveFunction(fn, 'reduce');
}

function isRich(fn: unknown): fn is RichFunction {
  return typeof fn === 'object' && fn !== null;
}

/** reduce/aggregate without a process function: the window's value is the result. */
function passThrough<OUT, KEY, W extends Window>(): Emit<OUT, KEY, W> {
  return (_key, _window, value, _context, out) => out.collect(value as OUT);
}

/** reduce/aggregate with a process function: it gets the one pre-aggregated value. */
function singleValue<V, OUT, KEY, W extends Window>(
  fn: ProcessWindowFunction<V, OUT, KEY, W>,
): Emit<OUT, KEY, W> {
  return (key, _window, value, context, out) => fn.process(key, context, [value as V], out);
}

/** process: it gets every element. */
function iterable<IN, OUT, KEY, W extends Window>(
  fn: ProcessWindowFunction<IN, OUT, KEY, W>,
): Emit<OUT, KEY, W> {
  return (key, _window, elements, context, out) => fn.process(key, context, elements as IN[], out);
}

/**
 * Builds the runtime of `spec` on `backend`. Merging windows keep aggregate accumulators in
 * value state (see AccumulatorContents); an evictor makes every kind buffer its elements.
 */
export function createWindowFunctionRuntime<IN, OUT, KEY, W extends Window>(
  sharedSpec: WindowFunctionSpec<IN, OUT, KEY, W>,
  backend: KeyedStateBackend,
  merging: boolean,
  evictor: Evictor<IN, W> | undefined,
  evictorContext: EvictorContext,
): WindowFunctionRuntime<IN, OUT, KEY, W> {
  const spec = instantiate(sharedSpec);
  const richFunctions: RichFunction[] = [];
  if (spec.kind === 'reduce' && isRich(spec.reduce)) richFunctions.push(spec.reduce);
  if (spec.process !== undefined) richFunctions.push(spec.process);

  let emit: Emit<OUT, KEY, W>;
  if (spec.kind === 'process') emit = iterable(spec.process);
  else if (spec.process !== undefined) emit = singleValue(spec.process);
  else emit = passThrough();

  if (evictor !== undefined) {
    const contents = new TimestampedListContents<IN>(backend);
    const fold = folder(spec);
    return {
      contents,
      richFunctions,
      emit(key, window, buffered, context, out) {
        const elements = buffered as TimestampedValue<IN>[];
        const kept = evictor.evictBefore(elements, window, evictorContext);
        if (kept.length !== elements.length) contents.replace(kept);
        if (kept.length === 0) return;
        emit(key, window, fold(kept), context, out);
      },
    };
  }

  let contents: WindowContents<IN, unknown>;
  if (spec.kind === 'reduce') contents = new ReducingContents(backend, toReduce(spec.reduce));
  else if (spec.kind === 'process') contents = new ListContents<IN>(backend);
  else if (merging) contents = new AccumulatorContents(backend, spec.aggregate);
  else contents = new AggregatingContents(backend, spec.aggregate);
  return { contents, richFunctions, emit };
}

/**
 * The spec is shared by every subtask of the job in this thread; each operator gets its own
 * `this` for plain-object user functions, as the other operators do (see instantiateFunction).
 */
function instantiate<IN, OUT, KEY, W extends Window>(
  spec: WindowFunctionSpec<IN, OUT, KEY, W>,
): WindowFunctionSpec<IN, OUT, KEY, W> {
  const process = spec.process === undefined ? undefined : instantiateFunction(spec.process);
  switch (spec.kind) {
    case 'reduce':
      return { kind: 'reduce', reduce: instantiateFunction(spec.reduce), process };
    case 'aggregate':
      return { kind: 'aggregate', aggregate: instantiateFunction(spec.aggregate), process };
    case 'process':
      return { kind: 'process', process: instantiateFunction(spec.process) };
  }
}

/** With an evictor, what the function receives is computed from the kept elements at firing time. */
function folder<IN, OUT, KEY, W extends Window>(
  spec: WindowFunctionSpec<IN, OUT, KEY, W>,
): (kept: readonly TimestampedValue<IN>[]) => unknown {
  switch (spec.kind) {
    case 'process':
      return (kept) => kept.map((element) => element.value);
    case 'reduce': {
      const reduce = toReduce(spec.reduce);
      return (kept) => {
        let result = kept[0].value;
        for (let i = 1; i < kept.length; i++) result = reduce(result, kept[i].value);
        return result;
      };
    }
    case 'aggregate': {
      const aggregate: AggregateFunction<IN, unknown, unknown> = spec.aggregate;
      return (kept) => {
        let accumulator = aggregate.createAccumulator();
        for (const element of kept) accumulator = aggregate.add(element.value, accumulator);
        return aggregate.getResult(accumulator);
      };
    }
  }
}
