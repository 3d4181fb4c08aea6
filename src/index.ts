/** Weir's public API: everything a job needs, and nothing internal. */

export { BroadcastConnectedStream, BroadcastStream } from './api/broadcast-stream.ts';
export { ConnectedStreams, KeyedConnectedStreams } from './api/connected-streams.ts';
export {
  DataStream,
  DataStreamSink,
  KeyedStream,
  type NumericField,
  type SingleOutputStreamOf,
  SingleOutputStreamOperator,
} from './api/data-stream.ts';
// Environment, streams and execution
export {
  type EnvironmentOptions,
  type LocalRecoveryOptions,
  type StateBackendName,
  StreamExecutionEnvironment,
} from './api/environment.ts';
// User functions
export type * from './api/functions.ts';
export * from './api/sink.ts';
export * from './api/sinks/index.ts';
// Sources and sinks
export type * from './api/source.ts';
export * from './api/sources/index.ts';
// Event time
export {
  type TimestampAssigner,
  type WatermarkGenerator,
  type WatermarkOutput,
  WatermarkStrategy,
} from './api/watermark-strategy.ts';
export * from './api/windowing/index.ts';
// Checkpointing: configuration, storage, restart strategies
export type { CheckpointConfig } from './checkpoint/checkpoint-config.ts';
export type { CheckpointStats } from './checkpoint/checkpoint-coordinator.ts';
export { LOCAL_RECOVERY_DIRECTORY_DEFAULT } from './checkpoint/local-recovery/index.ts';
export {
  type CheckpointFileSystem,
  type CheckpointStorage,
  CorruptCheckpointError,
  FaultInjectingFileSystem,
  type FaultRule,
  FileSystemCheckpointStorage,
  type FileSystemOperation,
  InMemoryFileSystem,
  JobManagerCheckpointStorage,
  NodeCheckpointFileSystem,
  type RestoreRequest,
} from './checkpoint/storage/index.ts';
export type { JobClient, JobExecutionResult, JobStatus } from './cluster/job-client.ts';
export type { RestartStrategyConfig } from './cluster/restart-strategy.ts';
export { BinaryReader, BinaryWriter } from './core/binary.ts';
// Time, randomness, errors
export { type Cancellable, type Clock, ManualClock, SystemClock } from './core/clock.ts';
export {
  ConfigurationError,
  JobDefinitionError,
  JobExecutionError,
  TaskFailure,
  type TaskLocation,
  WeirError,
} from './core/errors.ts';
export { UnhashableKeyError } from './core/key-encoding.ts';
export type { Logger, LogLevel } from './core/logger.ts';
export { type RandomSource, SeededRandom } from './core/random.ts';
// Custom operators (DataStream.transform / KeyedStream.transformKeyed)
export type {
  OneInputStreamOperator,
  OperatorContext,
  StreamOperator,
  TwoInputStreamOperator,
} from './runtime/operator.ts';
export { AbstractStreamOperator } from './runtime/operators/abstract-stream-operator.ts';
export { type Output, OutputTag } from './runtime/output.ts';
export { type DiskStateBackendOptions, diskStateBackend } from './state/backends/disk/index.ts';
// State
export type {
  AggregateFunction,
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReduceFunction,
  ReducingStateDescriptor,
  StateTtlConfig,
  TtlUpdateType,
  TtlVisibility,
  ValueStateDescriptor,
} from './state/descriptors.ts';
export { DEFAULT_MAX_PARALLELISM } from './state/key-groups.ts';
export type {
  AggregatingState,
  ListState,
  MapState,
  ReducingState,
  State,
  ValueState,
} from './state/keyed-state.ts';
export type { KeyedStateBackendFactory } from './state/keyed-state-backend.ts';
export type { BroadcastState, ReadOnlyBroadcastState } from './state/operator-state.ts';
export {
  jsonSerializer,
  numberSerializer,
  stringSerializer,
  valueSerializer,
} from './state/serializers/index.ts';
export type { TypeSerializer } from './state/serializers/type-serializer.ts';
export {
  aggregatingState,
  listState,
  mapState,
  reducingState,
  valueState,
} from './state/state-descriptors-factory.ts';
