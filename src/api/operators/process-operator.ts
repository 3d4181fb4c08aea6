/** Runs a (non-keyed) ProcessFunction: records, side outputs, and the current times, but no timers or keyed state. */
import type { OneInputStreamOperator, OperatorContext } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output, OutputTag } from '../../runtime/output.ts';
import type { ProcessContext, ProcessFunction, TimerService } from '../functions.ts';
import { closeFunction, instantiateFunction, openFunction } from './runtime-context.ts';
import { TimestampedCollector } from './timestamped-collector.ts';

/**
 * Flink's ProcessOperator. Records keep their input timestamp. Registering a timer fails with
 * a clear error instead of `is not a function`: timers need a keyed stream.
 *
 * @example
 * ```ts
 * new ProcessOperator<number, number>({
 *   processElement(n, ctx, out) { if (n < 0) ctx.output(negatives, n); else out.collect(n); },
 * });
 * ```
 */
export class ProcessOperator<IN, OUT>
  extends AbstractStreamOperator<OUT>
  implements OneInputStreamOperator<IN, OUT>
{
  readonly #fn: ProcessFunction<IN, OUT>;
  #collector!: TimestampedCollector<OUT>;
  #ctx!: ProcessContext;

  constructor(fn: ProcessFunction<IN, OUT>) {
    super();
    this.#fn = instantiateFunction(fn);
  }

  override setup(context: OperatorContext, output: Output<OUT>): void {
    super.setup(context, output);
    this.#collector = new TimestampedCollector(output);
    this.#ctx = createProcessContext(this.#collector, context, () => this.currentWatermark());
  }

  override open(): void | Promise<void> {
    return openFunction(this.#fn, this.context);
  }

  processElement(value: IN, timestamp: number): void {
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement(value, this.#ctx, this.#collector);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}

/** The ProcessContext of non-keyed process functions (also used by CoProcessOperator). */
export function createProcessContext(
  collector: TimestampedCollector<unknown>,
  context: OperatorContext,
  currentWatermark: () => number,
): ProcessContext {
  const noTimers = (): never => {
    throw new Error(
      `timers are only available on a keyed stream (call keyBy first) — operator '${context.operatorName}'`,
    );
  };
  const timers: TimerService = {
    currentProcessingTime: () => context.processingTimeService.currentProcessingTime(),
    currentWatermark,
    registerEventTimeTimer: noTimers,
    deleteEventTimeTimer: noTimers,
    registerProcessingTimeTimer: noTimers,
    deleteProcessingTimeTimer: noTimers,
  };
  return {
    timestamp: () => collector.timestamp(),
    output: <X>(tag: OutputTag<X>, value: X) => collector.collectSide(tag, value),
    timerService: () => timers,
  };
}
