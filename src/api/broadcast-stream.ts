/** A stream broadcast to every subtask of the operator it connects to, with broadcast state. */
import type { MapStateDescriptor } from '../state/descriptors.ts';
import type { DataStream, SingleOutputStreamOperator } from './data-stream.ts';
import { addTwoInputOperator, KeyedStream } from './data-stream.ts';
import type { BroadcastProcessFunction, KeyedBroadcastProcessFunction } from './functions.ts';
import { BroadcastProcessOperator } from './operators/broadcast-process-operator.ts';
import { KeyedBroadcastProcessOperator } from './operators/keyed-broadcast-process-operator.ts';
import { perSubtaskFactory } from './operators/runtime-context.ts';

export class BroadcastStream<T> {
  /** @internal The broadcast-partitioned stream. */
  readonly stream: DataStream<T>;
  readonly descriptors: readonly MapStateDescriptor<unknown, unknown>[];

  constructor(stream: DataStream<T>, descriptors: readonly MapStateDescriptor<unknown, unknown>[]) {
    this.stream = stream;
    this.descriptors = descriptors;
  }

  /** @internal */
  connectedTo<I>(nonBroadcast: DataStream<I>): BroadcastConnectedStream<I, T> {
    return new BroadcastConnectedStream<I, T>(nonBroadcast, this);
  }
}

/**
 * @example
 * ```ts
 * const rules = mapState<string, Rule>('rules');
 * events.keyBy((e) => e.user).connect(ruleStream.broadcast(rules)).process<Alert>({
 *   processElement(e, ctx, out) { const rule = ctx.getBroadcastState(rules).get(e.kind); ... },
 *   processBroadcastElement(rule, ctx) { ctx.getBroadcastState(rules).put(rule.kind, rule); },
 * });
 * ```
 */
export class BroadcastConnectedStream<I, B> {
  readonly nonBroadcast: DataStream<I>;
  readonly broadcast: BroadcastStream<B>;

  constructor(nonBroadcast: DataStream<I>, broadcast: BroadcastStream<B>) {
    this.nonBroadcast = nonBroadcast;
    this.broadcast = broadcast;
  }

  /** `fn` is a function object, or a factory called once per subtask. */
  process<R, K = unknown>(
    fn:
      | BroadcastProcessFunction<I, B, R>
      | KeyedBroadcastProcessFunction<K, I, B, R>
      | (() => BroadcastProcessFunction<I, B, R> | KeyedBroadcastProcessFunction<K, I, B, R>),
  ): SingleOutputStreamOperator<R> {
    const create = perSubtaskFactory(fn);
    const descriptors = this.broadcast.descriptors;
    const first = this.nonBroadcast;
    const second = this.broadcast.stream;
    if (this.nonBroadcast instanceof KeyedStream) {
      return addTwoInputOperator<R>(
        first,
        second,
        'Co-Process-Broadcast-Keyed',
        () =>
          new KeyedBroadcastProcessOperator<K, I, B, R>(
            create() as KeyedBroadcastProcessFunction<K, I, B, R>,
            descriptors,
          ) as never,
        [this.nonBroadcast.keySelector, undefined],
      );
    }
    return addTwoInputOperator<R>(
      first,
      second,
      'Co-Process-Broadcast',
      () =>
        new BroadcastProcessOperator<I, B, R>(
          create() as BroadcastProcessFunction<I, B, R>,
          descriptors,
        ) as never,
      [undefined, undefined],
    );
  }
}
