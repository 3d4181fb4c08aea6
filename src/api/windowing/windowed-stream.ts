/** WindowedStream: the DataStream API step between `keyBy(...).window(assigner)` and the window function. */
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import type { OutputTag } from '../../runtime/output.ts';
import type { AggregateFunction } from '../../state/descriptors.ts';
import type { ReduceFunctionLike } from '../functions.ts';
import type { Evictor } from './evictor.ts';
import { type ProcessWindowFunctionLike, toProcessWindowFunction } from './process-window-function.ts';
import type { Trigger } from './trigger.ts';
import type { Window } from './window.ts';
import type { WindowAssigner } from './window-assigner.ts';
import { createWindowOperator } from './window-operator.ts';
import {
  validateWindowOperatorSpec,
  type WindowFunctionSpec,
  type WindowOperatorSpec,
} from './window-operator-spec.ts';

/**
 * A type-level function from an element type to a stream type, so this module can name
 * "the caller's stream of OUT" without importing the DataStream classes (TypeScript has no
 * higher-kinded types; this is the usual encoding). The DataStream layer declares
 *
 * @example
 * interface SingleOutputStreamOf extends StreamTypeLambda {
 *   readonly stream: SingleOutputStreamOperator<this['out']>;
 * }
 */
export interface StreamTypeLambda {
  readonly out: unknown;
  readonly stream: unknown;
}

/** The stream type `F` yields for elements of type OUT. */
export type StreamOf<F extends StreamTypeLambda, OUT> = (F & { readonly out: OUT })['stream'];

/**
 * What a windowed stream needs from the keyed stream it came from: adding a keyed
 * one-input operator (the window operator) and getting the resulting stream back.
 * `KEY` is the key type the window functions receive.
 *
 * @example
 * class KeyedStream<T, K> implements WindowTransformTarget<T, K, SingleOutputStreamOf> {
 *   transformKeyed<R>(name: string, create: () => OneInputStreamOperator<T, R>): SingleOutputStreamOperator<R> { ... }
 * }
 */
export interface WindowTransformTarget<T, KEY, F extends StreamTypeLambda> {
  transformKeyed<OUT>(name: string, operatorFactory: () => OneInputStreamOperator<T, OUT>): StreamOf<F, OUT>;
  /** Never present: ties KEY to the target's type so window functions see the right key type. */
  readonly __keyType?: KEY;
}

interface WindowConfig<T, W extends Window> {
  readonly trigger?: Trigger<T, W>;
  readonly evictor?: Evictor<T, W>;
  readonly allowedLatenessMs?: number;
  readonly lateDataTag?: OutputTag<T>;
}

/**
 * A keyed stream divided into windows, waiting for its window function. Configuration
 * methods return a new WindowedStream (the original is unchanged); the function methods
 * (`reduce`, `aggregate`, `process`) add the window operator and return its output stream.
 * Problems (a trigger that cannot merge on session windows, an aggregate without `merge` on
 * session windows, negative lateness) are reported when the function method is called.
 *
 * @example
 * const totals = orders
 *   .keyBy((o) => o.customer)
 *   .window(TumblingEventTimeWindows.of(60_000))
 *   .allowedLateness(10_000)
 *   .sideOutputLateData(lateOrders)
 *   .reduce((a, b) => ({ ...a, amount: a.amount + b.amount }));
 */
export class WindowedStream<T, KEY, W extends Window, F extends StreamTypeLambda> {
  readonly #input: WindowTransformTarget<T, KEY, F>;
  readonly #assigner: WindowAssigner<T, W>;
  #config: WindowConfig<T, W> = {};

  constructor(input: WindowTransformTarget<T, KEY, F>, assigner: WindowAssigner<T, W>) {
    this.#input = input;
    this.#assigner = assigner;
  }

  /** Replaces the assigner's default trigger. */
  trigger(trigger: Trigger<T, W>): WindowedStream<T, KEY, W, F> {
    return this.#with({ trigger });
  }

  /** Removes buffered elements before the function runs; the window then buffers every element. */
  evictor(evictor: Evictor<T, W>): WindowedStream<T, KEY, W, F> {
    return this.#with({ evictor });
  }

  /** Event time: keep windows `lateness` ms after their end; late elements re-fire them. Default 0. */
  allowedLateness(latenessMs: number): WindowedStream<T, KEY, W, F> {
    return this.#with({ allowedLatenessMs: latenessMs });
  }

  /** Elements too late for all their windows go to side output `tag` (read it with `getSideOutput(tag)`). */
  sideOutputLateData(tag: OutputTag<T>): WindowedStream<T, KEY, W, F> {
    return this.#with({ lateDataTag: tag });
  }

  /** Reduces each window incrementally; emits the reduced value when the window fires. */
  reduce(fn: ReduceFunctionLike<T>): StreamOf<F, T>;
  /** Reduces incrementally, then hands the one reduced value to `windowFn` with key and window. */
  reduce<OUT>(
    fn: ReduceFunctionLike<T>,
    windowFn: ProcessWindowFunctionLike<T, OUT, KEY, W>,
  ): StreamOf<F, OUT>;
  reduce<OUT>(
    fn: ReduceFunctionLike<T>,
    windowFn?: ProcessWindowFunctionLike<T, OUT, KEY, W>,
  ): StreamOf<F, OUT> {
    const process = windowFn === undefined ? undefined : toProcessWindowFunction(windowFn);
    const label = process === undefined ? 'reduce' : 'reduce, process';
    return this.#build<OUT>({ kind: 'reduce', reduce: fn, process }, label);
  }

  /** Aggregates each window incrementally; emits `getResult` when the window fires. */
  aggregate<ACC, R>(aggregate: AggregateFunction<T, ACC, R>): StreamOf<F, R>;
  /** Aggregates incrementally, then hands the one result to `windowFn` with key and window. */
  aggregate<ACC, V, OUT>(
    aggregate: AggregateFunction<T, ACC, V>,
    windowFn: ProcessWindowFunctionLike<V, OUT, KEY, W>,
  ): StreamOf<F, OUT>;
  aggregate<ACC, V, OUT>(
    aggregate: AggregateFunction<T, ACC, V>,
    windowFn?: ProcessWindowFunctionLike<V, OUT, KEY, W>,
  ): StreamOf<F, OUT> {
    const process = windowFn === undefined ? undefined : toProcessWindowFunction(windowFn);
    const label = process === undefined ? 'aggregate' : 'aggregate, process';
    return this.#build<OUT>({ kind: 'aggregate', aggregate, process }, label);
  }

  /** Buffers every element of a window and hands them all to `windowFn` when it fires. */
  process<OUT>(windowFn: ProcessWindowFunctionLike<T, OUT, KEY, W>): StreamOf<F, OUT> {
    return this.#build<OUT>({ kind: 'process', process: toProcessWindowFunction(windowFn) }, 'process');
  }

  #with(patch: WindowConfig<T, W>): WindowedStream<T, KEY, W, F> {
    const next = new WindowedStream<T, KEY, W, F>(this.#input, this.#assigner);
    next.#config = { ...this.#config, ...patch };
    return next;
  }

  #build<OUT>(fn: WindowFunctionSpec<T, OUT, KEY, W>, label: string): StreamOf<F, OUT> {
    const spec: WindowOperatorSpec<T, KEY, W, OUT> = {
      assigner: this.#assigner,
      ...this.#config,
      function: fn,
    };
    validateWindowOperatorSpec(spec);
    const trigger = spec.trigger ?? spec.assigner.defaultTrigger();
    const parts = [spec.assigner.toString(), trigger.toString()];
    if (spec.evictor !== undefined) parts.push(spec.evictor.toString());
    parts.push(label);
    return this.#input.transformKeyed<OUT>(`Window(${parts.join(', ')})`, () => createWindowOperator(spec));
  }
}
