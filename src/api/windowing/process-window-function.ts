/** ProcessWindowFunction: user code that sees a whole window (its elements, or its pre-aggregate) at once. */
import type { OutputTag } from '../../runtime/output.ts';
import type { Collector, RichFunction } from '../functions.ts';
import type { Window } from './window.ts';

/**
 * What a process window function may use while it handles one firing. The operator reuses
 * one context object: do not keep it beyond the `process` call.
 */
export interface ProcessWindowContext<W extends Window> {
  /** The window that fired. */
  readonly window: W;
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** Emits to a side output, with the window's timestamp (`window.maxTimestamp()`). */
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Handles a window when it fires. Used alone (`process`), it receives every buffered element;
 * after `reduce` or `aggregate`, it receives the one pre-aggregated value, so the window keeps
 * only the aggregate in state while the function still sees the key and the window.
 *
 * @example
 * const countPerWindow: ProcessWindowFunction<Click, string, string, TimeWindow> = {
 *   process(user, ctx, clicks, out) {
 *     out.collect(`${user}: ${clicks.length} clicks in ${ctx.window}`);
 *   },
 * };
 */
export interface ProcessWindowFunction<IN, OUT, KEY, W extends Window> extends RichFunction {
  process(key: KEY, context: ProcessWindowContext<W>, elements: IN[], out: Collector<OUT>): void;
}

/** The function form of a ProcessWindowFunction, accepted wherever one is. */
export type ProcessWindowFn<IN, OUT, KEY, W extends Window> = (
  key: KEY,
  context: ProcessWindowContext<W>,
  elements: IN[],
  out: Collector<OUT>,
) => void;

/** A ProcessWindowFunction object or a bare function. */
export type ProcessWindowFunctionLike<IN, OUT, KEY, W extends Window> =
  | ProcessWindowFunction<IN, OUT, KEY, W>
  | ProcessWindowFn<IN, OUT, KEY, W>;

/** Normalizes the function form to the object form. */
export function toProcessWindowFunction<IN, OUT, KEY, W extends Window>(
  fn: ProcessWindowFunctionLike<IN, OUT, KEY, W>,
): ProcessWindowFunction<IN, OUT, KEY, W> {
  if (typeof fn === 'function') return { process: fn };
  if (fn === null || typeof fn !== 'object' || typeof fn.process !== 'function') {
    throw new TypeError('a process window function must be a function or an object with a process method');
  }
  return fn;
}
