/** The exactly-once file writer: hidden in-progress parts, made durable and pending at each barrier. */
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../../core/clock.ts';
import { describeError, WeirError } from '../../../core/errors.ts';
import type { CommittingSinkWriter } from '../../sink.ts';
import type { BucketAssigner } from './bucket-assigners.ts';
import { type FileCommittable, inProgressName, partName } from './part-files.ts';

export interface ExactlyOnceFileWriterOptions<T> {
  readonly directory: string;
  readonly subtaskIndex: number;
  readonly lineageId: string;
  /** The first transaction number (see `firstTransactionNumber`). */
  readonly firstK: number;
  readonly suffix: string;
  readonly rollSizeBytes: number;
  readonly rolloverIntervalMs: number | undefined;
  readonly format: (value: T) => string;
  readonly bucketAssigner: BucketAssigner<T>;
  readonly clock: Clock;
}

/** A part being written: lines buffered since the last flush, then appended to its hidden file. */
interface OpenPart {
  readonly bucket: string;
  readonly j: number;
  readonly openedAtMs: number;
  handle: FileHandle | undefined;
  lines: string[];
  /** Bytes written to the file plus bytes buffered. */
  bytes: number;
}

/**
 * Transaction `k` of a subtask is every part it wrote between two barriers: part `j` of bucket
 * `b` is `b/.part-<lineage>-<subtask>-<k>-<j><suffix>.inprogress`. A part rolls (is fsynced,
 * closed and becomes pending) at every barrier, and also when it reaches `rollSizeBytes` or
 * is older than `rolloverIntervalMs`; `prepareCommit` returns the pending parts with their
 * lengths. Parts never span a barrier, so a committed part is never written again.
 */
export class ExactlyOnceFileWriter<T> implements CommittingSinkWriter<T, FileCommittable> {
  readonly #options: ExactlyOnceFileWriterOptions<T>;
  #k: number;
  /** The open part of each bucket of the current transaction. */
  readonly #open = new Map<string, OpenPart>();
  /** Next part number per bucket in the current transaction. */
  readonly #nextJ = new Map<string, number>();
  /** Parts rolled by size while buffering: written, synced and closed in the next flush. */
  #rolled: OpenPart[] = [];
  #pending: FileCommittable[] = [];

  constructor(options: ExactlyOnceFileWriterOptions<T>) {
    this.#options = options;
    this.#k = options.firstK;
  }

  write(value: T, timestampMs: number | undefined): void {
    const options = this.#options;
    const bucket = options.bucketAssigner(value, { timestampMs, processingTimeMs: options.clock.now() });
    const line = `${options.format(value)}\n`;
    let part = this.#open.get(bucket);
    // Roll before the record that would start past the limit, as Flink's rolling policy does.
    if (part !== undefined && part.bytes >= options.rollSizeBytes) {
      this.#rolled.push(part);
      part = undefined;
    }
    if (part === undefined) {
      const j = this.#nextJ.get(bucket) ?? 0;
      this.#nextJ.set(bucket, j + 1);
      part = { bucket, j, openedAtMs: options.clock.now(), handle: undefined, lines: [], bytes: 0 };
      this.#open.set(bucket, part);
    }
    part.lines.push(line);
    part.bytes += Buffer.byteLength(line);
  }

  async flush(): Promise<void> {
    const rolled = this.#rolled;
    this.#rolled = [];
    for (const part of rolled) await this.#seal(part);
    const interval = this.#options.rolloverIntervalMs;
    const now = this.#options.clock.now();
    for (const [bucket, part] of this.#open) {
      await this.#append(part);
      if (interval !== undefined && now - part.openedAtMs >= interval) {
        this.#open.delete(bucket);
        await this.#seal(part);
      }
    }
  }

  async prepareCommit(checkpointId: number): Promise<readonly FileCommittable[]> {
    await this.flush();
    for (const part of this.#open.values()) await this.#seal(part);
    this.#open.clear();
    this.#nextJ.clear();
    const pending = this.#pending;
    this.#pending = [];
    this.#k = checkpointId + 1;
    return pending;
  }

  async close(): Promise<void> {
    // Parts still open stay in progress: the next start aborts them (or a restore commits them).
    for (const part of [...this.#rolled, ...this.#open.values()]) await part.handle?.close().catch(() => {});
    this.#rolled = [];
    this.#open.clear();
  }

  #names(part: OpenPart): { readonly inProgress: string; readonly final: string } {
    const { subtaskIndex, lineageId, suffix } = this.#options;
    const name = partName(lineageId, subtaskIndex, this.#k, part.j, suffix);
    return { inProgress: join(part.bucket, inProgressName(name)), final: join(part.bucket, name) };
  }

  async #append(part: OpenPart): Promise<void> {
    if (part.lines.length === 0) return;
    const path = join(this.#options.directory, this.#names(part).inProgress);
    try {
      if (part.handle === undefined) {
        await mkdir(join(this.#options.directory, part.bucket), { recursive: true });
        // 'wx': a part name is never reused within a lineage, so an existing file is a bug.
        part.handle = await open(path, 'wx');
      }
      await part.handle.appendFile(part.lines.join(''));
      part.lines = [];
    } catch (error) {
      throw new WeirError(`cannot write part file ${path}: ${describeError(error)}`, { cause: error });
    }
  }

  /** Makes a part durable and pending: written, fsynced, closed, recorded with its length. */
  async #seal(part: OpenPart): Promise<void> {
    await this.#append(part);
    const handle = part.handle;
    if (handle === undefined) return;
    part.handle = undefined;
    const names = this.#names(part);
    try {
      await handle.sync();
      await handle.close();
    } catch (error) {
      throw new WeirError(`cannot sync part file ${names.inProgress}: ${describeError(error)}`, {
        cause: error,
      });
    }
    this.#pending.push({ inProgressPath: names.inProgress, finalPath: names.final, lengthBytes: part.bytes });
  }
}
