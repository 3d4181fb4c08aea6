/** Forwards the records a FilterFunction accepts, unchanged and with their timestamps. */
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { FilterFunction } from '../functions.ts';
import { closeFunction, instantiateFunction, openFunction, resolveFunction } from './runtime-context.ts';

/**
 * Flink's StreamFilter. Any truthy result keeps the record, as JavaScript users expect.
 *
 * @example
 * ```ts
 * new FilterOperator<number>((n) => n % 2 === 0);
 * ```
 */
export class FilterOperator<T> extends AbstractStreamOperator<T> implements OneInputStreamOperator<T, T> {
  readonly #fn: FilterFunction<T>;
  readonly #filter: (value: T) => boolean;

  constructor(fn: FilterFunction<T>) {
    super();
    this.#fn = instantiateFunction(fn);
    this.#filter = resolveFunction(this.#fn, 'filter');
  }

  override open(): void | Promise<void> {
    return openFunction(this.#fn, this.context);
  }

  processElement(value: T, timestamp: number): void {
    if (this.#filter(value)) this.output.collect(value, timestamp);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}
