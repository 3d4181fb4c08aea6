/** Applies a MapFunction to every record; the result keeps the record's timestamp. */
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { MapFunction } from '../functions.ts';
import { closeFunction, instantiateFunction, openFunction, resolveFunction } from './runtime-context.ts';

/**
 * Flink's StreamMap.
 *
 * @example
 * ```ts
 * new MapOperator<string, number>((s) => s.length);
 * ```
 */
export class MapOperator<IN, OUT>
  extends AbstractStreamOperator<OUT>
  implements OneInputStreamOperator<IN, OUT>
{
  readonly #fn: MapFunction<IN, OUT>;
  readonly #map: (value: IN) => OUT;

  constructor(fn: MapFunction<IN, OUT>) {
    super();
    this.#fn = instantiateFunction(fn);
    this.#map = resolveFunction(this.#fn, 'map');
  }

  override open(): void | Promise<void> {
    return openFunction(this.#fn, this.context);
  }

  processElement(value: IN, timestamp: number): void {
    this.output.collect(this.#map(value), timestamp);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}
