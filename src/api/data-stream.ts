/** DataStream, its keyed and single-output variants, and sinks: the typed surface of a dataflow. */
import { JobDefinitionError } from '../core/errors.ts';
import type { OperatorInit, StreamGraph, StreamNode } from '../graph/stream-graph.ts';
import type { KeySelector, PartitionerSpec } from '../runtime/network/partitioner.ts';
import type { OneInputStreamOperator, StreamOperator, TwoInputStreamOperator } from '../runtime/operator.ts';
import type { OutputTag } from '../runtime/output.ts';
import type { AggregateFunction, MapStateDescriptor } from '../state/descriptors.ts';
import {
  maxAggregation,
  maxByAggregation,
  minAggregation,
  minByAggregation,
  sumAggregation,
} from './aggregations.ts';
import { BroadcastStream } from './broadcast-stream.ts';
import { ConnectedStreams, KeyedConnectedStreams } from './connected-streams.ts';
import type {
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  MapFunction,
  ProcessFunction,
  ReduceFunctionLike,
} from './functions.ts';
import { CommittingSinkOperator } from './operators/committing-sink-operator.ts';
import { FilterOperator } from './operators/filter-operator.ts';
import { FlatMapOperator } from './operators/flat-map-operator.ts';
import { KeyedAggregateOperator } from './operators/keyed-aggregate-operator.ts';
import { KeyedContextOperator } from './operators/keyed-context-operator.ts';
import { KeyedProcessOperator } from './operators/keyed-process-operator.ts';
import { KeyedReduceOperator } from './operators/keyed-reduce-operator.ts';
import { MapOperator } from './operators/map-operator.ts';
import { ProcessOperator } from './operators/process-operator.ts';
import { perSubtaskFactory } from './operators/runtime-context.ts';
import { SinkOperator } from './operators/sink-operator.ts';
import { TimestampsAndWatermarksOperator } from './operators/timestamps-and-watermarks-operator.ts';
import { isTwoPhaseCommittingSink, type Sink, type TwoPhaseCommittingSink } from './sink.ts';
import { PrintSink } from './sinks/print-sink.ts';
import type { StreamInput } from './stream-input.ts';
import type { WatermarkStrategy } from './watermark-strategy.ts';
import { countWindow } from './windowing/count-window.ts';
import type { GlobalWindow } from './windowing/global-window.ts';
import type { Window } from './windowing/window.ts';
import type { WindowAssigner } from './windowing/window-assigner.ts';
import {
  type StreamTypeLambda,
  WindowedStream,
  type WindowTransformTarget,
} from './windowing/windowed-stream.ts';

/** What a stream needs of its environment while the graph is being built. */
export interface GraphBuilder {
  readonly graph: StreamGraph;
  readonly autoWatermarkIntervalMs: number;
}

/** Lets windowing name "a SingleOutputStreamOperator of OUT" without importing this module. */
export interface SingleOutputStreamOf extends StreamTypeLambda {
  readonly stream: SingleOutputStreamOperator<this['out']>;
}

/** Numeric fields of T, for sum/min/max by field. */
export type NumericField<T> = { [F in keyof T]: T[F] extends number | bigint ? F : never }[keyof T] & string;

/**
 * A stream of records of type T. Transformations return new streams; nothing runs until
 * the environment's `execute()`.
 *
 * @example
 * ```ts
 * env.fromElements('a b', 'b c')
 *   .flatMap((line: string, out) => line.split(' ').forEach((w) => out.collect(w)))
 *   .keyBy((word) => word)
 *   .map((word) => [word, 1] as const)
 *   .print();
 * ```
 */
export class DataStream<T> {
  readonly env: GraphBuilder;
  /** @internal The node(s) this stream reads; several after a union. */
  readonly inputs: readonly StreamInput[];

  constructor(env: GraphBuilder, inputs: readonly StreamInput[]) {
    this.env = env;
    this.inputs = inputs;
  }

  map<R>(fn: MapFunction<T, R>): SingleOutputStreamOperator<R> {
    requireFunction(fn, 'map', 'map');
    return this.transform('Map', () => new MapOperator<T, R>(fn));
  }

  flatMap<R>(fn: FlatMapFunction<T, R>): SingleOutputStreamOperator<R> {
    requireFunction(fn, 'flatMap', 'flatMap');
    return this.transform('Flat Map', () => new FlatMapOperator<T, R>(fn));
  }

  filter(fn: FilterFunction<T>): SingleOutputStreamOperator<T> {
    requireFunction(fn, 'filter', 'filter');
    return this.transform('Filter', () => new FilterOperator<T>(fn));
  }

  /** A function object; or a factory called once per subtask (needed for classes with #private fields). */
  process<R>(fn: ProcessFunction<T, R>): SingleOutputStreamOperator<R>;
  process<R>(factory: () => ProcessFunction<T, R>): SingleOutputStreamOperator<R>;
  process<R>(fn: ProcessFunction<T, R> | (() => ProcessFunction<T, R>)): SingleOutputStreamOperator<R> {
    requireFunctionObject(fn, 'process', 'processElement');
    const create = perSubtaskFactory(fn);
    return this.transform('Process', () => new ProcessOperator<T, R>(create()));
  }

  /** Partitions by key: records with the same key go to the same subtask and share keyed state. */
  keyBy<K>(keySelector: (value: T) => K): KeyedStream<T, K> {
    if (typeof keySelector !== 'function')
      throw new JobDefinitionError('keyBy needs a key selector function');
    const selector = keySelector as KeySelector;
    return new KeyedStream<T, K>(
      this.env,
      this.#withPartitioner({ kind: 'key-group', keySelector: selector }),
      selector,
    );
  }

  /** Merges streams of the same type; the result reads all of them. */
  union(...others: DataStream<T>[]): DataStream<T> {
    for (const other of others) {
      if (other.env !== this.env)
        throw new JobDefinitionError('union of streams from different environments');
    }
    return new DataStream<T>(this.env, [...this.inputs, ...others.flatMap((o) => o.inputs)]);
  }

  /** Two inputs processed by one CoProcessFunction (or a broadcast pattern with a BroadcastStream). */
  connect<T2>(other: DataStream<T2>): ConnectedStreams<T, T2>;
  connect<B>(other: BroadcastStream<B>): import('./broadcast-stream.ts').BroadcastConnectedStream<T, B>;
  connect<T2>(
    other: DataStream<T2> | BroadcastStream<T2>,
  ): ConnectedStreams<T, T2> | import('./broadcast-stream.ts').BroadcastConnectedStream<T, T2> {
    if (other instanceof BroadcastStream) return other.connectedTo(this);
    return new ConnectedStreams<T, T2>(this, other);
  }

  /** Without descriptors: every record goes to every downstream subtask. With: a BroadcastStream for broadcast state. */
  broadcast(): DataStream<T>;
  broadcast(...descriptors: MapStateDescriptor<unknown, unknown>[]): BroadcastStream<T>;
  broadcast(...descriptors: MapStateDescriptor<unknown, unknown>[]): DataStream<T> | BroadcastStream<T> {
    const stream = new DataStream<T>(this.env, this.#withPartitioner({ kind: 'broadcast' }));
    if (descriptors.length === 0) return stream;
    return new BroadcastStream<T>(stream, descriptors);
  }

  /** Round-robin over all downstream subtasks. */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.env, this.#withPartitioner({ kind: 'rebalance' }));
  }

  /** Round-robin over a local subset of downstream subtasks. */
  rescale(): DataStream<T> {
    return new DataStream<T>(this.env, this.#withPartitioner({ kind: 'rescale' }));
  }

  /** One-to-one to the downstream subtask of the same index (needs equal parallelism). */
  forward(): DataStream<T> {
    return new DataStream<T>(this.env, this.#withPartitioner({ kind: 'forward' }));
  }

  /** Uniformly random downstream subtask (seeded by the environment). */
  shuffle(): DataStream<T> {
    return new DataStream<T>(this.env, this.#withPartitioner({ kind: 'shuffle' }));
  }

  /** Everything to the first downstream subtask. */
  global(): DataStream<T> {
    return new DataStream<T>(this.env, this.#withPartitioner({ kind: 'global' }));
  }

  assignTimestampsAndWatermarks(strategy: WatermarkStrategy<T>): SingleOutputStreamOperator<T> {
    const interval = this.env.autoWatermarkIntervalMs;
    return this.transform(
      'Timestamps/Watermarks',
      () => new TimestampsAndWatermarksOperator<T>(strategy, interval),
    );
  }

  /**
   * Writes the stream into `sink`. A {@link TwoPhaseCommittingSink} with delivery guarantee
   * exactly-once runs with two-phase commit (output visible per completed checkpoint); any
   * other sink gets plain writes, flushed at every barrier unless it asks for `'none'`.
   */
  sinkTo(sink: Sink<T>, name = 'Sink'): DataStreamSink<T> {
    const create = isTwoPhaseCommittingSink(sink)
      ? () => new CommittingSinkOperator<T, unknown>(sink)
      : () => new SinkOperator<T>(sink);
    const node = this.addOneInputNode(name, create, undefined);
    return new DataStreamSink<T>(node);
  }

  /** Prints every record to standard output (prefixed with the subtask number when parallel). */
  print(prefix?: string): DataStreamSink<T> {
    return this.sinkTo(new PrintSink<T>({ prefix }), 'Sink: Print to Std. Out');
  }

  /**
   * Adds a one-input operator; the building block every transformation above uses, public
   * for custom operators.
   */
  transform<R>(
    name: string,
    createOperator: () => OneInputStreamOperator<T, R>,
  ): SingleOutputStreamOperator<R> {
    const node = this.addOneInputNode(name, createOperator, undefined);
    return new SingleOutputStreamOperator<R>(this.env, node);
  }

  /** @internal */
  addOneInputNode(
    name: string,
    createOperator: () => OneInputStreamOperator<T, unknown>,
    keySelector: KeySelector | undefined,
  ): StreamNode {
    return addNode(this.env, name, 'one-input', createOperator, [keySelector], [[this, 0]]);
  }

  #withPartitioner(partitioner: PartitionerSpec): StreamInput[] {
    return this.inputs.map((input) => ({ ...input, partitioner }));
  }
}

/** @internal Adds a node with edges from each (stream, input index) pair. */
export function addNode(
  env: GraphBuilder,
  name: string,
  kind: 'one-input' | 'two-input',
  createOperator: (init: OperatorInit) => StreamOperator<unknown>,
  keySelectors: (KeySelector | undefined)[],
  inputs: [{ readonly inputs: readonly StreamInput[] }, 0 | 1][],
): StreamNode {
  const node = env.graph.addNode({
    name,
    uid: undefined,
    parallelism: undefined,
    parallelismMax: undefined,
    kind,
    createOperator,
    keySelectors,
    chaining: 'always',
  });
  for (const [stream, inputIndex] of inputs) {
    for (const input of stream.inputs) {
      env.graph.addEdge({
        sourceId: input.nodeId,
        targetId: node.id,
        partitioner: input.partitioner ?? { kind: 'forward' },
        inputIndex,
        sideOutputTag: input.sideOutputTag,
        defaultPartitioner: input.partitioner === undefined,
      });
    }
  }
  return node;
}

/** A stream produced by one operator, whose name, uid and parallelism can be set. */
export class SingleOutputStreamOperator<T> extends DataStream<T> {
  /** @internal */
  readonly node: StreamNode;

  constructor(env: GraphBuilder, node: StreamNode) {
    super(env, [{ nodeId: node.id, sideOutputTag: undefined, partitioner: undefined }]);
    this.node = node;
  }

  name(name: string): this {
    this.node.name = name;
    return this;
  }

  /** Stable identity for state restore; set it on every stateful operator. */
  uid(uid: string): this {
    if (typeof uid !== 'string' || uid.length === 0)
      throw new JobDefinitionError('uid must be a non-empty string');
    this.node.uid = uid;
    return this;
  }

  setParallelism(parallelism: number): this {
    this.node.parallelism = validateParallelism(parallelism, `parallelism of '${this.node.name}'`);
    return this;
  }

  disableChaining(): this {
    this.node.chaining = 'never';
    return this;
  }

  startNewChain(): this {
    this.node.chaining = 'head';
    return this;
  }

  /** Records the operator emitted to side output `tag`. */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    return new DataStream<X>(this.env, [
      { nodeId: this.node.id, sideOutputTag: tag.id, partitioner: undefined },
    ]);
  }
}

/** A stream partitioned by key; keyed state and timers are available downstream. */
export class KeyedStream<T, K>
  extends DataStream<T>
  implements WindowTransformTarget<T, K, SingleOutputStreamOf>
{
  readonly keySelector: KeySelector;

  constructor(env: GraphBuilder, inputs: readonly StreamInput[], keySelector: KeySelector) {
    super(env, inputs);
    this.keySelector = keySelector;
  }

  override map<R>(fn: MapFunction<T, R>): SingleOutputStreamOperator<R> {
    requireFunction(fn, 'map', 'map');
    return this.transformKeyed('Map', () => new KeyedContextOperator<T, R>(new MapOperator<T, R>(fn)));
  }

  override flatMap<R>(fn: FlatMapFunction<T, R>): SingleOutputStreamOperator<R> {
    requireFunction(fn, 'flatMap', 'flatMap');
    return this.transformKeyed(
      'Flat Map',
      () => new KeyedContextOperator<T, R>(new FlatMapOperator<T, R>(fn)),
    );
  }

  override filter(fn: FilterFunction<T>): SingleOutputStreamOperator<T> {
    requireFunction(fn, 'filter', 'filter');
    return this.transformKeyed('Filter', () => new KeyedContextOperator<T, T>(new FilterOperator<T>(fn)));
  }

  /** A function object; or a factory called once per subtask (needed for classes with #private fields). */
  override process<R>(fn: KeyedProcessFunction<K, T, R>): SingleOutputStreamOperator<R>;
  override process<R>(factory: () => KeyedProcessFunction<K, T, R>): SingleOutputStreamOperator<R>;
  override process<R>(
    fn: KeyedProcessFunction<K, T, R> | (() => KeyedProcessFunction<K, T, R>),
  ): SingleOutputStreamOperator<R> {
    requireFunctionObject(fn, 'process', 'processElement');
    const create = perSubtaskFactory(fn);
    return this.transformKeyed('KeyedProcess', () => new KeyedProcessOperator<K, T, R>(create()));
  }

  /** Emits, for every record, the running reduction of all records of its key so far. */
  reduce(fn: ReduceFunctionLike<T>): SingleOutputStreamOperator<T> {
    requireFunction(fn, 'reduce', 'reduce');
    return this.transformKeyed('Keyed Reduce', () => new KeyedReduceOperator<T>(fn));
  }

  /** Emits, for every record, the aggregate's result over all records of its key so far. */
  aggregate<ACC, R>(fn: AggregateFunction<T, ACC, R>): SingleOutputStreamOperator<R> {
    return this.transformKeyed('Keyed Aggregation', () => new KeyedAggregateOperator<T, ACC, R>(fn));
  }

  sum(field?: NumericField<T>): SingleOutputStreamOperator<T> {
    return this.reduce(sumAggregation<T>(field)).name('Keyed Aggregation: sum');
  }

  min(field?: NumericField<T>): SingleOutputStreamOperator<T> {
    return this.reduce(minAggregation<T>(field)).name('Keyed Aggregation: min');
  }

  max(field?: NumericField<T>): SingleOutputStreamOperator<T> {
    return this.reduce(maxAggregation<T>(field)).name('Keyed Aggregation: max');
  }

  minBy(field?: NumericField<T>): SingleOutputStreamOperator<T> {
    return this.reduce(minByAggregation<T>(field)).name('Keyed Aggregation: minBy');
  }

  maxBy(field?: NumericField<T>): SingleOutputStreamOperator<T> {
    return this.reduce(maxByAggregation<T>(field)).name('Keyed Aggregation: maxBy');
  }

  window<W extends Window>(assigner: WindowAssigner<T, W>): WindowedStream<T, K, W, SingleOutputStreamOf> {
    return new WindowedStream<T, K, W, SingleOutputStreamOf>(this, assigner);
  }

  /** Windows of `size` records per key, sliding by `slide` when given. */
  countWindow(size: number, slide?: number): WindowedStream<T, K, GlobalWindow, SingleOutputStreamOf> {
    return countWindow<T, K, SingleOutputStreamOf>(this, size, slide);
  }

  /** Both inputs keyed: a KeyedCoProcessFunction sees the state of the key both sides share. */
  override connect<T2, K2>(other: KeyedStream<T2, K2>): KeyedConnectedStreams<T, T2, K>;
  override connect<T2>(other: DataStream<T2>): ConnectedStreams<T, T2>;
  override connect<B>(
    other: BroadcastStream<B>,
  ): import('./broadcast-stream.ts').BroadcastConnectedStream<T, B>;
  override connect<T2>(other: DataStream<T2> | BroadcastStream<T2>) {
    if (other instanceof BroadcastStream) return other.connectedTo(this);
    if (other instanceof KeyedStream) return new KeyedConnectedStreams<T, T2, K>(this, other);
    return new ConnectedStreams<T, T2>(this, other);
  }

  /** Adds a keyed one-input operator (key context and keyed state available). */
  transformKeyed<R>(
    name: string,
    createOperator: () => OneInputStreamOperator<T, R>,
  ): SingleOutputStreamOperator<R> {
    const node = this.addOneInputNode(name, createOperator, this.keySelector);
    return new SingleOutputStreamOperator<R>(this.env, node);
  }
}

/** @internal Adds a two-input operator reading `first` as input 0 and `second` as input 1. */
export function addTwoInputOperator<R>(
  first: { readonly env: GraphBuilder; readonly inputs: readonly StreamInput[] },
  second: { readonly env: GraphBuilder; readonly inputs: readonly StreamInput[] },
  name: string,
  createOperator: () => TwoInputStreamOperator<unknown, unknown, R>,
  keySelectors: [KeySelector | undefined, KeySelector | undefined],
): SingleOutputStreamOperator<R> {
  if (first.env !== second.env)
    throw new JobDefinitionError('connect of streams from different environments');
  const node = addNode(first.env, name, 'two-input', createOperator, keySelectors, [
    [first, 0],
    [second, 1],
  ]);
  return new SingleOutputStreamOperator<R>(first.env, node);
}

/** The end of a pipeline; name, uid and parallelism can be set. */
export class DataStreamSink<T> {
  readonly #node: StreamNode;
  /** Phantom field so that sinks of different types are distinct types. */
  declare readonly __type?: T;

  constructor(node: StreamNode) {
    this.#node = node;
  }

  name(name: string): this {
    this.#node.name = name;
    return this;
  }

  uid(uid: string): this {
    this.#node.uid = uid;
    return this;
  }

  setParallelism(parallelism: number): this {
    this.#node.parallelism = validateParallelism(parallelism, `parallelism of '${this.#node.name}'`);
    return this;
  }

  disableChaining(): this {
    this.#node.chaining = 'never';
    return this;
  }
}

export function validateParallelism(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new JobDefinitionError(`${what} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** `map(42)` fails when the graph is built, naming the call, not later inside a running task. */
function requireFunction(fn: unknown, call: string, method: string): void {
  if (typeof fn === 'function') return;
  if (typeof fn === 'object' && fn !== null && typeof (fn as Record<string, unknown>)[method] === 'function')
    return;
  throw new JobDefinitionError(
    `${call}() needs a function or an object with a ${method}() method, got ${describeArgument(fn)}`,
  );
}

/** The process family takes a function object, or a factory of them. */
function requireFunctionObject(fn: unknown, call: string, method: string): void {
  if (typeof fn === 'function') return; // A factory: what it returns is checked per subtask.
  if (typeof fn === 'object' && fn !== null && typeof (fn as Record<string, unknown>)[method] === 'function')
    return;
  throw new JobDefinitionError(
    `${call}() needs an object with a ${method}() method, or a factory returning one, got ${describeArgument(fn)}`,
  );
}

function describeArgument(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object')
    return `an object without that method (${Object.keys(value).join(', ') || 'no keys'})`;
  return `${typeof value} ${String(value)}`;
}
