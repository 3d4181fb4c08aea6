/** Errors of checkpoint storage: corrupt files, failed I/O, a missing checkpoint, a size limit. */
import { describeError, WeirError } from '../../core/errors.ts';

/** What a {@link CorruptCheckpointError} found, beyond its message. */
export interface CorruptionDetail {
  readonly expected?: string | number;
  readonly actual?: string | number;
  readonly cause?: unknown;
}

/**
 * A persisted checkpoint file is missing, truncated, or fails its magic, version, size or
 * checksum check. Never loaded silently: the message names the file by path.
 *
 * @example
 * ```ts
 * try {
 *   await storage.readFile(pointer, handle);
 * } catch (error) {
 *   if (error instanceof CorruptCheckpointError) console.error(error.path, error.reason);
 * }
 * ```
 */
export class CorruptCheckpointError extends WeirError {
  override name = 'CorruptCheckpointError';
  /** The damaged file (or `memory://…` path). */
  readonly path: string;
  /** What is wrong, without the path: `checksum mismatch`, `truncated: …`, `file is missing`. */
  readonly reason: string;
  readonly expected: string | number | undefined;
  readonly actual: string | number | undefined;
  /** `path: reason (expected …, found …)`: the message without its prefix, for lists of problems. */
  readonly summary: string;

  constructor(path: string, reason: string, detail: CorruptionDetail = {}) {
    const comparison =
      detail.expected !== undefined || detail.actual !== undefined
        ? ` (expected ${detail.expected}, found ${detail.actual})`
        : '';
    super(`corrupt checkpoint file ${path}: ${reason}${comparison}`, { cause: detail.cause });
    this.summary = `${path}: ${reason}${comparison}`;
    this.path = path;
    this.reason = reason;
    this.expected = detail.expected;
    this.actual = detail.actual;
  }
}

/** There is no completed checkpoint or savepoint at a path: no `_metadata` was ever committed there. */
export class CheckpointNotFoundError extends WeirError {
  override name = 'CheckpointNotFoundError';
  readonly path: string;

  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(`no checkpoint or savepoint at ${path}: ${detail}`, options);
    this.path = path;
  }
}

/**
 * A file-system call failed for a reason other than damage (ENOSPC, EIO, EACCES). The `cause`
 * is the original error; the message names the operation and the path.
 */
export class CheckpointIOError extends WeirError {
  override name = 'CheckpointIOError';
  readonly path: string;
  readonly operation: string;

  constructor(operation: string, path: string, cause: unknown) {
    super(`checkpoint storage could not ${operation} ${path}: ${describeError(cause)}`, { cause });
    this.path = path;
    this.operation = operation;
  }
}

/** A checkpoint grew past the per-checkpoint limit of `JobManagerCheckpointStorage`. */
export class CheckpointSizeLimitError extends WeirError {
  override name = 'CheckpointSizeLimitError';
  readonly pointer: string;
  readonly sizeBytes: number;
  readonly limitBytes: number;

  constructor(pointer: string, sizeBytes: number, limitBytes: number) {
    super(
      `checkpoint ${pointer} would hold ${sizeBytes} bytes of state, above the JobManagerCheckpointStorage ` +
        `limit of ${limitBytes} bytes (maxStateSizeBytes); keep state smaller, raise the limit, or use ` +
        `FileSystemCheckpointStorage (weir run --checkpoint-dir DIR)`,
    );
    this.pointer = pointer;
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/** Runs an I/O call and wraps a rejection in a {@link CheckpointIOError} naming `path`. */
export async function withIOContext<T>(operation: string, path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof WeirError) throw error;
    throw new CheckpointIOError(operation, path, error);
  }
}
