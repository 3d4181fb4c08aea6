/** Two streams connected for one two-input operator (CoProcessFunction, KeyedCoProcessFunction). */
import type { DataStream, KeyedStream, SingleOutputStreamOperator } from './data-stream.ts';
import { addTwoInputOperator } from './data-stream.ts';
import type { CoProcessFunction, KeyedCoProcessFunction } from './functions.ts';
import { CoProcessOperator } from './operators/co-process-operator.ts';
import { KeyedCoProcessOperator } from './operators/keyed-co-process-operator.ts';
import { perSubtaskFactory } from './operators/runtime-context.ts';

/**
 * @example
 * ```ts
 * orders.connect(payments).process<string>({
 *   processElement1: (order, ctx, out) => out.collect(`order ${order.id}`),
 *   processElement2: (payment, ctx, out) => out.collect(`payment ${payment.id}`),
 * });
 * ```
 */
export class ConnectedStreams<T1, T2> {
  readonly first: DataStream<T1>;
  readonly second: DataStream<T2>;

  constructor(first: DataStream<T1>, second: DataStream<T2>) {
    this.first = first;
    this.second = second;
  }

  /** `fn` is a function object, or a factory called once per subtask. */
  process<R>(
    fn: CoProcessFunction<T1, T2, R> | (() => CoProcessFunction<T1, T2, R>),
  ): SingleOutputStreamOperator<R> {
    const create = perSubtaskFactory(fn);
    return addTwoInputOperator<R>(
      this.first,
      this.second,
      'Co-Process',
      () => new CoProcessOperator<T1, T2, R>(create()) as never,
      [undefined, undefined],
    );
  }
}

/** Both sides keyed by keys of the same type: records of equal keys meet in the same subtask and state. */
export class KeyedConnectedStreams<T1, T2, K> {
  readonly first: KeyedStream<T1, K>;
  readonly second: KeyedStream<T2, unknown>;

  constructor(first: KeyedStream<T1, K>, second: KeyedStream<T2, unknown>) {
    this.first = first;
    this.second = second;
  }

  /** A function object, or a factory called once per subtask. */
  process<R>(fn: KeyedCoProcessFunction<K, T1, T2, R>): SingleOutputStreamOperator<R>;
  process<R>(factory: () => KeyedCoProcessFunction<K, T1, T2, R>): SingleOutputStreamOperator<R>;
  process<R>(
    fn: KeyedCoProcessFunction<K, T1, T2, R> | (() => KeyedCoProcessFunction<K, T1, T2, R>),
  ): SingleOutputStreamOperator<R> {
    const create = perSubtaskFactory(fn);
    return addTwoInputOperator<R>(
      this.first,
      this.second,
      'KeyedCo-Process',
      () => new KeyedCoProcessOperator<K, T1, T2, R>(create()) as never,
      [this.first.keySelector, this.second.keySelector],
    );
  }
}
