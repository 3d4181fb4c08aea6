/** A sink writing one line per record into part files: exactly-once by default, or at-least-once. */
import { type Clock, SystemClock } from '../../core/clock.ts';
import { ConfigurationError } from '../../core/errors.ts';
import {
  type CommittingSinkWriter,
  type DeliveryGuarantee,
  firstTransactionNumber,
  type SinkWriterContext,
  type TwoPhaseCommittingSink,
} from '../sink.ts';
import { createAtLeastOnceFileWriter } from './file/at-least-once-file-writer.ts';
import { type BucketAssigner, basePathBucketAssigner } from './file/bucket-assigners.ts';
import { ExactlyOnceFileWriter } from './file/exactly-once-file-writer.ts';
import { type FileCommittable, FileCommitter } from './file/part-files.ts';
import { formatValue } from './format-value.ts';

/** How a {@link FileSink} names, rolls, buckets and formats its part files. */
export interface FileSinkOptions<T> {
  /** Default `'exactly-once'`; `'at-least-once'` (or `'none'`) is the plain rolling writer. */
  readonly deliveryGuarantee?: DeliveryGuarantee;
  /** Appended to each part file's name, such as `'.txt'`; default none. */
  readonly suffix?: string;
  /** A part file is closed and a new one started once it holds this much; default 128 MiB. */
  readonly rollSizeBytes?: number;
  /** Exactly-once only: a part older than this rolls at the next batch; default none (barriers roll parts anyway). */
  readonly rolloverIntervalMs?: number;
  /** Formats a record as one line (without the newline); default `textLines` (strings as they are, objects as JSON). */
  readonly format?: (value: T) => string;
  /** Exactly-once only: the sub-directory per record; default the directory itself. */
  readonly bucketAssigner?: BucketAssigner<T>;
  /** Processing time for bucket assigners and rollover; default the system clock. */
  readonly clock?: Clock;
}

const ROLL_SIZE_BYTES_DEFAULT = 128 * 1024 * 1024;

/**
 * Writes each subtask's records as lines into part files under `directory`.
 *
 * Exactly-once (default): records go into hidden in-progress parts
 * (`.part-<lineage>-<subtask>-<k>-<j><suffix>.inprogress`, per bucket); at every checkpoint
 * barrier the parts are fsynced, closed and recorded in the checkpoint with their lengths;
 * when the checkpoint completes they are renamed atomically to
 * `part-<lineage>-<subtask>-<k>-<j><suffix>`. A restore commits what the restored checkpoint
 * recorded (truncating to the recorded length) and deletes in-progress parts no checkpoint
 * covers. With periodic checkpointing off, parts become visible at end of input only.
 *
 * At-least-once: the plain rolling writer, `part-<subtask>-<counter><suffix>` renamed on roll
 * and at end of input; records replayed after a restore are written again.
 *
 * @example
 * ```ts
 * const sink = new FileSink<{ user: string }>('out/events', {
 *   format: jsonLines,
 *   suffix: '.jsonl',
 *   bucketAssigner: dateTimeBucketAssigner({ time: 'event' }),
 * });
 * ```
 */
export class FileSink<T> implements TwoPhaseCommittingSink<T, FileCommittable> {
  readonly deliveryGuarantee: DeliveryGuarantee;
  readonly #directory: string;
  readonly #suffix: string;
  readonly #rollSizeBytes: number;
  readonly #rolloverIntervalMs: number | undefined;
  readonly #format: (value: T) => string;
  readonly #bucketAssigner: BucketAssigner<T>;
  readonly #clock: Clock;

  constructor(directory: string, options: FileSinkOptions<T> = {}) {
    const {
      suffix = '',
      rollSizeBytes = ROLL_SIZE_BYTES_DEFAULT,
      rolloverIntervalMs,
      format = formatValue,
    } = options;
    if (!(Number.isSafeInteger(rollSizeBytes) && rollSizeBytes >= 1)) {
      throw new ConfigurationError(`FileSink rollSizeBytes must be a positive integer, got ${rollSizeBytes}`);
    }
    if (rolloverIntervalMs !== undefined && !(rolloverIntervalMs > 0)) {
      throw new ConfigurationError(`FileSink rolloverIntervalMs must be positive, got ${rolloverIntervalMs}`);
    }
    if (suffix.includes('/') || suffix.includes('\\')) {
      throw new ConfigurationError(`FileSink suffix must not contain a path separator, got '${suffix}'`);
    }
    this.deliveryGuarantee = options.deliveryGuarantee ?? 'exactly-once';
    this.#directory = directory;
    this.#suffix = suffix;
    this.#rollSizeBytes = rollSizeBytes;
    this.#rolloverIntervalMs = rolloverIntervalMs;
    this.#format = format;
    this.#bucketAssigner = options.bucketAssigner ?? basePathBucketAssigner;
    this.#clock = options.clock ?? new SystemClock();
  }

  async createWriter(context: SinkWriterContext): Promise<CommittingSinkWriter<T, FileCommittable>> {
    if (this.deliveryGuarantee !== 'exactly-once') {
      return createAtLeastOnceFileWriter(
        this.#directory,
        context.subtaskIndex,
        this.#suffix,
        this.#rollSizeBytes,
        this.#format,
      );
    }
    return new ExactlyOnceFileWriter<T>({
      directory: this.#directory,
      subtaskIndex: context.subtaskIndex,
      lineageId: context.lineageId,
      firstK: firstTransactionNumber(context),
      suffix: this.#suffix,
      rollSizeBytes: this.#rollSizeBytes,
      rolloverIntervalMs: this.#rolloverIntervalMs,
      format: this.#format,
      bucketAssigner: this.#bucketAssigner,
      clock: this.#clock,
    });
  }

  createCommitter(): FileCommitter {
    return new FileCommitter(this.#directory);
  }
}
