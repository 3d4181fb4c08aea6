/** Runs a BroadcastProcessFunction: a non-keyed input (0) reads the broadcast state a broadcast input (1) writes. */
import type { OperatorContext, TwoInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Output, OutputTag } from '../../runtime/output.ts';
import type { MapStateDescriptor } from '../../state/descriptors.ts';
import type { BroadcastContext, BroadcastProcessFunction, ReadOnlyBroadcastContext } from '../functions.ts';
import { DeclaredBroadcastStates } from './declared-broadcast-states.ts';
import { closeFunction, instantiateFunction, openFunction } from './runtime-context.ts';
import { TimestampedCollector } from './timestamped-collector.ts';

/**
 * Flink's CoBroadcastWithNonKeyedOperator. Only the states declared with `broadcast(...)`
 * exist; the element side sees them read-only, so every subtask's copy stays identical
 * (each sees the same broadcast elements in the same order and is the only writer).
 *
 * @example
 * ```ts
 * const rules = mapState<string, number>('rules');
 * new BroadcastProcessOperator<Event, Rule, Alert>(fn, [rules as MapStateDescriptor<unknown, unknown>]);
 * ```
 */
export class BroadcastProcessOperator<IN, B, OUT>
  extends AbstractStreamOperator<OUT>
  implements TwoInputStreamOperator<IN, B, OUT>
{
  readonly #fn: BroadcastProcessFunction<IN, B, OUT>;
  readonly #states: DeclaredBroadcastStates;
  #collector!: TimestampedCollector<OUT>;
  #readOnlyCtx!: ReadOnlyBroadcastContext;
  #ctx!: BroadcastContext;

  constructor(
    fn: BroadcastProcessFunction<IN, B, OUT>,
    descriptors: readonly MapStateDescriptor<unknown, unknown>[],
  ) {
    super();
    this.#fn = instantiateFunction(fn);
    this.#states = new DeclaredBroadcastStates(descriptors);
    this.setInputCount(2);
  }

  override setup(context: OperatorContext, output: Output<OUT>): void {
    super.setup(context, output);
    const collector = new TimestampedCollector(output);
    const states = this.#states;
    const common = {
      timestamp: () => collector.timestamp(),
      output: <X>(tag: OutputTag<X>, value: X) => collector.collectSide(tag, value),
      currentWatermark: () => this.currentWatermark(),
      currentProcessingTime: () => context.processingTimeService.currentProcessingTime(),
    };
    this.#collector = collector;
    this.#readOnlyCtx = { ...common, getBroadcastState: (d) => states.readOnly(d) };
    this.#ctx = { ...common, getBroadcastState: (d) => states.writable(d) };
  }

  override open(): void | Promise<void> {
    this.#states.open(this.context.operatorStateStore, this.context.operatorName);
    return openFunction(this.#fn, this.context);
  }

  processElement1(value: IN, timestamp: number): void {
    this.#collector.timestampMs = timestamp;
    this.#fn.processElement(value, this.#readOnlyCtx, this.#collector);
  }

  processElement2(value: B, timestamp: number): void {
    this.#collector.timestampMs = timestamp;
    this.#fn.processBroadcastElement(value, this.#ctx, this.#collector);
  }

  override close(): void | Promise<void> {
    return closeFunction(this.#fn);
  }
}
