/** The contract between a subtask and the operators of its chain. */
import type { Clock } from '../core/clock.ts';
import type { RandomSource } from '../core/random.ts';
import type { KeyGroupRange } from '../state/key-group-range.ts';
import type { KeyedStateBackend } from '../state/keyed-state-backend.ts';
import type { OperatorStateStore } from '../state/operator-state.ts';
import type { Output } from './output.ts';
import type { InternalTimerService, ProcessingTimeService, Triggerable } from './timer-service.ts';

/** Everything the runtime gives an operator instance. */
export interface OperatorContext {
  /** The name the job was submitted with (`env.execute(name)`). */
  readonly jobName: string;
  readonly operatorName: string;
  /** Stable identity for state restore: the user's uid, else a hash of the graph position. */
  readonly operatorId: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** The key groups this subtask owns (meaningful for keyed operators). */
  readonly keyGroupRange: KeyGroupRange;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly processingTimeService: ProcessingTimeService;
  readonly operatorStateStore: OperatorStateStore;
  /** Present when the operator's input is keyed. */
  readonly keyedStateBackend: KeyedStateBackend | undefined;
  /** Keyed operators only: timers scoped to the current key, delivered to `target`. */
  getTimerService(name: string, target: Triggerable): InternalTimerService;
  /**
   * Keyed operators only: fires every event-time timer of this operator due at `watermarkMs`
   * (with the key context set to the timer's key). Call before forwarding the watermark.
   * Returns false when it stopped early because the state backend's writes are backed up:
   * call again with the same watermark after the task awaited the backend (see
   * `StreamOperator.finishWatermark`).
   */
  advanceWatermark(watermarkMs: number): boolean;
  /**
   * Keyed operators only: sets the state backend's current key to the key of `value`, read by
   * the key selector of input `input` (0, or 1 for the second input of a two-input operator).
   * Fails with a clear error when the selector returns undefined or an unusable key.
   */
  setKeyContextElement(value: unknown, input: 0 | 1): void;
  /** Keyed operators only: hands a batch's keys to the state backend (see KeyedStateBackend.prefetch). */
  prefetchKeys(values: readonly unknown[], input: 0 | 1): undefined | Promise<void>;
  /** Job-wide configuration as given to the environment. */
  readonly jobConfiguration: Readonly<Record<string, unknown>>;
  /** This operator's state was restored from a checkpoint or savepoint. */
  readonly isRestored: boolean;
  /**
   * The job's periodic checkpointing, when on: sinks check that their transactions outlive a
   * checkpoint interval plus timeout. Undefined without periodic checkpoints.
   */
  readonly checkpointing?: CheckpointTiming | undefined;
}

/** How often checkpoints start, and how long one may take before it is aborted. */
export interface CheckpointTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface StreamOperator<OUT> {
  /** Called once before `open`. */
  setup(context: OperatorContext, output: Output<OUT>): void;
  open(): void | Promise<void>;
  /** All input has ended: emit what is still buffered (remaining windows, timers). */
  finish(): void | Promise<void>;
  /** Releases resources; called after finish, and also after a failure. */
  close(): void | Promise<void>;
  /**
   * Called after each input batch has run through the chain; a returned promise is awaited
   * before the task takes more input (sinks flush here, which backpressures their input).
   */
  afterBatch?(): undefined | Promise<void>;
  /**
   * Goes on with a watermark whose event-time timers stopped firing early (the state
   * backend's writes were backed up); true once it has been forwarded, or when none is
   * pending. The task calls it after every watermark it hands the operator, awaiting the
   * backend between calls, and takes no input until it returns true.
   */
  finishWatermark?(): boolean;
  /**
   * At checkpoint barrier `checkpointId`, before the barrier goes downstream and before
   * `snapshotState`: a returned promise is awaited and the task takes no input and runs no
   * mail meanwhile (Flink's blocking `prepareSnapshotPreBarrier`). Sinks flush and pre-commit
   * here, so a checkpoint is acknowledged only after what precedes its barrier is durable.
   * Called head first along the chain; a failure declines the checkpoint and fails the task.
   */
  prepareSnapshotPreBarrier?(checkpointId: number): undefined | Promise<void>;
  /**
   * After `finish()` and the final snapshot (end of input): resolves once the operator is done
   * with the end of input. With `checkpointsFollow` a checkpoint covering the final state will
   * still be taken (periodic checkpointing is on): a two-phase-commit sink waits for its
   * completion before committing its last transaction (Flink's FLIP-147), and the task keeps
   * running its mailbox (checkpoint notifications) until the promise resolves. Without it no
   * checkpoint will come, and the operator settles at once (commits).
   */
  awaitFinalCheckpoint?(checkpointsFollow: boolean): undefined | Promise<void>;
  /**
   * Synchronous part of a checkpoint, before the state backends are snapshotted: put anything
   * kept outside the backends (a source's split positions, a sink's pending transactions)
   * into operator or keyed state now.
   */
  snapshotState?(checkpointId: number): void;
  /** Checkpoint `checkpointId` is complete and durable: commit what it pre-committed. */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void;
}

export interface OneInputStreamOperator<IN, OUT> extends StreamOperator<OUT> {
  /**
   * Called before a batch runs with its values; a keyed operator returns the state backend's
   * prefetch promise (if any) so that on-disk state is loaded in one batched read.
   */
  prepareBatch?(values: readonly IN[]): undefined | Promise<void>;
  processElement(value: IN, timestamp: number): void;
  processWatermark(timestamp: number): void;
  processWatermarkStatus(idle: boolean): void;
}

export interface TwoInputStreamOperator<IN1, IN2, OUT> extends StreamOperator<OUT> {
  prepareBatch1?(values: readonly IN1[]): undefined | Promise<void>;
  prepareBatch2?(values: readonly IN2[]): undefined | Promise<void>;
  processElement1(value: IN1, timestamp: number): void;
  processElement2(value: IN2, timestamp: number): void;
  processWatermark1(timestamp: number): void;
  processWatermark2(timestamp: number): void;
  processWatermarkStatus1(idle: boolean): void;
  processWatermarkStatus2(idle: boolean): void;
}

export type AnyStreamOperator =
  | OneInputStreamOperator<unknown, unknown>
  | TwoInputStreamOperator<unknown, unknown, unknown>;
