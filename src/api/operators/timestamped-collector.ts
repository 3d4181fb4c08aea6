/** The one Collector an operator hands its user function: stamps records with the current timestamp. */
import { NO_TIMESTAMP } from '../../runtime/elements.ts';
import type { Output, OutputTag } from '../../runtime/output.ts';
import type { Collector } from '../functions.ts';

/**
 * Created once per operator; the operator sets `timestampMs` before each call into user code
 * (the input record's timestamp, a timer's, or NO_TIMESTAMP), so collecting allocates nothing.
 * User contexts read the same field for `timestamp()` and side outputs.
 *
 * @example
 * ```ts
 * this.#collector.timestampMs = timestamp;
 * this.#flatMap(value, this.#collector);
 * ```
 */
export class TimestampedCollector<T> implements Collector<T> {
  timestampMs = NO_TIMESTAMP;
  readonly #output: Output<T>;

  constructor(output: Output<T>) {
    this.#output = output;
  }

  collect(value: T): void {
    this.#output.collect(value, this.timestampMs);
  }

  /** Emits to a side output with the current timestamp. */
  collectSide<X>(tag: OutputTag<X>, value: X): void {
    this.#output.collectSide(tag, value, this.timestampMs);
  }

  /** The current timestamp as user contexts expose it: undefined when there is none. */
  timestamp(): number | undefined {
    return this.timestampMs === NO_TIMESTAMP ? undefined : this.timestampMs;
  }
}
