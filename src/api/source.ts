/**
 * The source contract, in the shape of Flink's FLIP-27: the job manager divides the input
 * into splits; each source subtask runs a reader over the splits it was given. Readers poll:
 * they never block the task, and say when more data may be available.
 */
import type { Clock } from '../core/clock.ts';
import type { RandomSource } from '../core/random.ts';

export type Boundedness = 'bounded' | 'unbounded';

/** A piece of input a reader works on (a byte range of a file, a range of sequence numbers). */
export interface SourceSplit {
  /** Unique within the source. */
  readonly splitId: string;
}

/** What a reader may use from its subtask. */
export interface SourceReaderContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** The source operator's name, for error messages. */
  readonly operatorName: string;
}

/** Where a reader emits records; `timestampMs` is the record's event time, if it has one. */
export interface ReaderOutput<T> {
  collect(value: T, timestampMs?: number): void;
}

/**
 * Result of one poll: more records are ready now; nothing is ready (wait for `isAvailable`);
 * or every split is exhausted and no more splits will come (bounded sources only).
 */
export type InputStatus = 'more-available' | 'nothing-available' | 'end-of-input';

export interface SourceReader<T, Split extends SourceSplit> {
  /** Called once before the first poll, with this subtask's splits. */
  start(splits: readonly Split[]): void | Promise<void>;
  /** Emits at most `maxRecords` records synchronously and reports what follows. */
  pollNext(output: ReaderOutput<T>, maxRecords: number): InputStatus;
  /** Resolves when a poll may find records again (after `nothing-available`). */
  isAvailable(): Promise<void>;
  /** The current position of every split this reader still owns, for checkpoints. */
  snapshotSplits(): Split[];
  close(): void | Promise<void>;
}

export interface Source<T, Split extends SourceSplit = SourceSplit> {
  readonly boundedness: Boundedness;
  /** Divides the input; called once per job run in the job manager. */
  createSplits(parallelism: number): readonly Split[] | Promise<readonly Split[]>;
  createReader(context: SourceReaderContext): SourceReader<T, Split>;
  /** Sources that cannot run in parallel (a fixed collection) say 1. */
  readonly maxParallelism?: number;
}
