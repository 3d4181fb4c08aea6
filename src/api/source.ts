/**
 * The source contract, in the shape of Flink's FLIP-27: a split enumerator in the job manager
 * discovers splits and assigns them to readers; each source subtask runs a reader over the
 * splits it was given. Readers poll: they never block the task, and say when more data may be
 * available. See docs/connectors.md, "Sources: the split enumerator and readers".
 */
import type { Clock } from '../core/clock.ts';
import type { RandomSource } from '../core/random.ts';
import type { TypeSerializer } from '../state/serializers/type-serializer.ts';

export type Boundedness = 'bounded' | 'unbounded';

/** A piece of input a reader works on (a byte range of a file, a range of sequence numbers, a partition). */
export interface SourceSplit {
  /** Unique within the source. */
  readonly splitId: string;
}

// ---------------------------------------------------------------------------------------------
// The job-manager half: the split enumerator

/**
 * What an enumerator may use of the job manager. Every method must be called from the
 * enumerator's own callbacks (start, handleSplitRequest, addReader, addSplitsBack, a
 * `callAsync` handler): the job manager and the tasks share one event loop, so these calls
 * are never concurrent with a checkpoint's snapshot of the enumerator.
 */
export interface SplitEnumeratorContext<Split extends SourceSplit> {
  /** Number of reader subtasks of this source. */
  readonly parallelism: number;
  /** The job's clock (a ManualClock in tests): periodic work goes through `callAsync`. */
  readonly clock: Clock;
  /** The source operator's name, for messages. */
  readonly operatorName: string;
  /** Subtask indexes of the readers that are open and may be given splits. */
  registeredReaders(): ReadonlySet<number>;
  /**
   * Hands splits to readers. Each list reaches its reader through that subtask's mailbox, in
   * order, after everything already queued there (such as a checkpoint trigger). Throws if a
   * reader is not registered or was told there are no more splits.
   */
  assignSplits(assignment: ReadonlyMap<number, readonly Split[]>): void;
  /** Tells reader `subtaskIndex` it will get no more splits: a bounded reader ends once its splits are done. */
  signalNoMoreSplits(subtaskIndex: number): void;
  /**
   * Runs `callable` (I/O such as listing Kafka partitions) outside the enumerator's callbacks,
   * then `handler` with its result or error. With `periodMs` it repeats: the next run starts
   * `periodMs` after the previous handler ran (on the job's clock), until the enumerator closes.
   * A handler that throws fails the job.
   */
  callAsync<R>(
    callable: () => R | Promise<R>,
    handler: (result: R | undefined, error: unknown) => void,
    periodMs?: number,
  ): void;
  /** Fails the job (it restarts from its latest checkpoint if its restart strategy allows). */
  failJob(error: unknown): void;
}

/**
 * Discovers splits and assigns them. Its state is the set of splits it has not assigned yet:
 * an assigned split belongs to its reader (and that reader's checkpointed state) from then on.
 */
export interface SplitEnumerator<Split extends SourceSplit, EnumState> {
  /** Called once before any reader registers; a returned promise is awaited before the tasks start. */
  start(): void | Promise<void>;
  /** Reader `subtaskIndex` asked for a split (`SourceReaderContext.sendSplitRequest`). */
  handleSplitRequest(subtaskIndex: number): void;
  /** Reader `subtaskIndex` is open and may be given splits. */
  addReader(subtaskIndex: number): void;
  /**
   * Splits that were assigned to reader `subtaskIndex` but that it never took (it ended before
   * they arrived); they belong to the enumerator again. Recovery restarts the whole job from a
   * checkpoint, so this is not how splits come back after a failure.
   */
  addSplitsBack(splits: readonly Split[], subtaskIndex: number): void;
  /** The splits not yet assigned (and anything else needed to go on), for checkpoint `checkpointId`. */
  snapshotState(checkpointId: number): EnumState;
  notifyCheckpointComplete?(checkpointId: number): void;
  close(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The task half: the source reader

/** What a reader may use from its subtask. */
export interface SourceReaderContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** The source operator's name, for error messages. */
  readonly operatorName: string;
  /** Asks the enumerator for splits; any answer arrives later through `addSplits`. */
  sendSplitRequest(): void;
}

/** Where a reader emits records; `timestampMs` is the record's event time, if it has one. */
export interface SourceOutput<T> {
  collect(value: T, timestampMs?: number): void;
}

/**
 * The reader's output. Records of one split can go through that split's own output, so the
 * source's watermark is the minimum over its splits (a lagging partition holds it back)
 * instead of following whichever split was read last.
 */
export interface ReaderOutput<T> extends SourceOutput<T> {
  /** The output of split `splitId` (the same object until released). */
  createOutputForSplit(splitId: string): SourceOutput<T>;
  /** Split `splitId` is finished (or removed): it no longer holds the watermark back. */
  releaseOutputForSplit(splitId: string): void;
}

/**
 * Result of one poll: more records are ready now; nothing is ready (wait for `isAvailable`);
 * or this reader has no splits left and was told no more will come (bounded sources only).
 */
export type InputStatus = 'more-available' | 'nothing-available' | 'end-of-input';

/**
 * Reads the splits its subtask was given. Lifecycle: created; given its restored splits (if
 * any) through `addSplits`; registered with the enumerator; `start()`; then polled, with
 * `addSplits` / `notifyNoMoreSplits` arriving between polls; `close()`.
 */
export interface SourceReader<T, Split extends SourceSplit> {
  /** Called once before the first poll (request splits here if the source is pull-based). */
  start(): void | Promise<void>;
  /** Emits at most `maxRecords` records synchronously and reports what follows. */
  pollNext(output: ReaderOutput<T>, maxRecords: number): InputStatus;
  /** Resolves when a poll may find records again (after `nothing-available`). */
  isAvailable(): Promise<void>;
  /** New splits from the enumerator, or restored ones before `start()`. */
  addSplits(splits: readonly Split[]): void;
  /** The enumerator will send no more splits: end with `end-of-input` once the owned ones are done. */
  notifyNoMoreSplits(): void;
  /** The current position of every split this reader still owns, for checkpoint `checkpointId`. */
  snapshotSplits(checkpointId: number): Split[];
  notifyCheckpointComplete?(checkpointId: number): void;
  close(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The source: a factory of both halves

/**
 * A source: it creates the enumerator (fresh, or from a checkpoint's enumerator state) and one
 * reader per subtask. Split positions are checkpointed by the readers (operator list state,
 * redistributed on rescale); the enumerator's state (splits not yet assigned) by the job manager.
 *
 * @example
 * ```ts
 * import { StaticSplitEnumerator } from './sources/static-split-enumerator.ts';
 * // The built-in sources use the static helper: a fixed list of splits, dealt round-robin.
 * const enumerator = (ctx: SplitEnumeratorContext<SourceSplit>) =>
 *   new StaticSplitEnumerator(ctx, [{ splitId: 'a' }, { splitId: 'b' }]);
 * ```
 */
export interface Source<T, Split extends SourceSplit = SourceSplit, EnumState = unknown> {
  readonly boundedness: Boundedness;
  /** Sources that cannot run in parallel (a fixed collection) say 1. */
  readonly maxParallelism?: number;
  /** A fresh enumerator (the job starts without a checkpoint). */
  createEnumerator(context: SplitEnumeratorContext<Split>): SplitEnumerator<Split, EnumState>;
  /** An enumerator resuming from `state`, the `snapshotState` of a completed checkpoint or savepoint. */
  restoreEnumerator(
    context: SplitEnumeratorContext<Split>,
    state: EnumState,
  ): SplitEnumerator<Split, EnumState>;
  /**
   * Restore from a checkpoint written before split enumerators existed (it has reader state
   * but no enumerator state). Then every split had been handed out at start and lives in the
   * readers' state, so the enumerator must assign nothing it would assign fresh. Without this
   * method such a restore fails with a message saying so. The static helper provides it.
   */
  restoreEnumeratorWithoutState?(context: SplitEnumeratorContext<Split>): SplitEnumerator<Split, EnumState>;
  createReader(context: SourceReaderContext): SourceReader<T, Split>;
  /** How reader split positions are checkpointed; default: the value serializer (JSON-like data). */
  readonly splitSerializer?: TypeSerializer<Split>;
  /** How enumerator state is checkpointed; default: the value serializer (JSON-like data, Map, Set). */
  readonly enumeratorStateSerializer?: TypeSerializer<EnumState>;
}
