/** Errors of reading and restoring state snapshots: a damaged file, or state the job can no longer read. */
import { WeirError } from '../../core/errors.ts';

/**
 * A snapshot file (or a byte range of one) failed a check: magic, format version, checksum,
 * truncation or a malformed field. Never loaded silently; the message names the file.
 */
export class CorruptSnapshotError extends WeirError {
  override name = 'CorruptSnapshotError';
  /** The file as the caller named it (a path relative to the checkpoint, or an absolute one). */
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(`corrupt snapshot file ${path}: ${problem}`, options);
    this.path = path;
  }
}

/**
 * Restored state does not fit the state the job registers: another kind, TTL switched on or
 * off, or a serializer that cannot read what the snapshot's serializer wrote.
 */
export class IncompatibleStateError extends WeirError {
  override name = 'IncompatibleStateError';
  readonly stateName: string;
  readonly path: string;

  constructor(stateName: string, path: string, problem: string, options?: { cause?: unknown }) {
    super(`state '${stateName}' restored from ${path} ${problem}`, options);
    this.stateName = stateName;
    this.path = path;
  }
}

/**
 * A state value could not be serialized into a snapshot (the default serializer met a
 * function or class instance, or a custom serializer threw). The checkpoint fails; the job
 * keeps running. The message names the state, where in it (`in key group 7`) and the
 * cause's own explanation.
 */
export class SnapshotWriteError extends WeirError {
  override name = 'SnapshotWriteError';
  readonly stateName: string;

  constructor(stateName: string, where: string, options: { cause: unknown }) {
    const cause = options.cause;
    super(
      `state '${stateName}' ${where} could not be written to a snapshot: ${cause instanceof Error ? cause.message : String(cause)}`,
      options,
    );
    this.stateName = stateName;
  }
}
