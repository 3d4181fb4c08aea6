/** The checkpoint storage contract: where checkpoint and savepoint files go, and how they are read back verified. */
import type { CheckpointMetadata, SnapshotKind, StateFileHandle } from '../snapshot-handles.ts';
import type { ByteRange } from './checkpoint-file-system.ts';

/**
 * A state file written in parts, so a large snapshot is never whole in memory: `write` each
 * part in order, then `close` (or `abort` to give the file up). The handle's size and CRC-32C
 * cover everything written.
 *
 * @example
 * ```ts
 * const file = await location.openFile(stateFileName('counts', 0, 'keyed'));
 * try {
 *   for (const part of parts) await file.write(part);
 * } catch (error) {
 *   await file.abort();
 *   throw error;
 * }
 * const handle = await file.close();
 * ```
 */
export interface StateFileSink {
  /**
   * Appends `chunk`, which must stay unchanged only until the returned promise settles (the
   * sink copies what it keeps, so a writer can reuse one buffer). A failure deletes the file.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Writes the file durably (closed and fsynced) and returns its handle. */
  close(): Promise<StateFileHandle>;
  /** Gives the file up and deletes what was written. Idempotent; fine after a failed write. */
  abort(): Promise<void>;
}

/**
 * Where one checkpoint or savepoint writes its files. Lifecycle: `writeFile` any number of
 * times (concurrently is fine), then either `commitMetadata` (the checkpoint now exists) or
 * `discard` (it never will). Its directory exists once the location was created.
 *
 * @example
 * ```ts
 * const location = await storage.createCheckpointLocation(jobId, 7);
 * const file = await location.writeFile(stateFileName('counts', 0, 'keyed'), bytes);
 * await location.commitMetadata({ ...metadata, checkpointId: 7 }); // handles include `file`
 * ```
 */
export interface CheckpointLocation {
  /**
   * Identifies the checkpoint for `loadMetadata`, `readFile` and logs: the directory path, or
   * `memory://<job-id>/chk-<n>` for in-memory storage.
   */
  readonly pointer: string;
  readonly kind: SnapshotKind;
  /**
   * Writes a state file durably (written and fsynced) and returns its handle with size and
   * CRC-32C. `name` is one path segment (see `stateFileNameProblem`); a bad or repeated name
   * rejects with a RangeError. I/O failures (ENOSPC, EIO) reject with a `CheckpointIOError`
   * naming the path; JobManagerCheckpointStorage rejects with `CheckpointSizeLimitError` past
   * its limit.
   */
  writeFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  /**
   * Checkpoints only: writes an immutable file into the job's `shared/` directory (incremental
   * state that later checkpoints reference too) and returns its handle, relative path
   * `../shared/<name>`. Names must be unique within the job (callers add a random suffix). A
   * file written here belongs to this checkpoint until its acknowledgement registers it with
   * the `SharedStateRegistry`; `discard()` deletes it along with the checkpoint. Savepoints
   * reject: they are self-contained.
   */
  writeSharedFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  /** `writeFile` in parts: the same name rules, errors and size limit (checked part by part). */
  openFile(name: string): Promise<StateFileSink>;
  /** `writeSharedFile` in parts. */
  openSharedFile(name: string): Promise<StateFileSink>;
  /**
   * Makes the checkpoint exist: encodes `_metadata`, writes it to a temp name, fsyncs, renames
   * it into place and fsyncs the directory. Checks first that the metadata belongs to this
   * location (job id, checkpoint id, kind) and that every file it references is present with
   * its size, throwing a `WeirError` otherwise (a bug in the caller). If this rejects, the
   * checkpoint does not exist; call `discard()`.
   */
  commitMetadata(metadata: CheckpointMetadata): Promise<void>;
  /**
   * Deletes what this location wrote, after waiting for writes in flight; later writes reject.
   * A checkpoint location removes its whole `chk-<n>` directory; a savepoint location removes
   * only its own files (and its directory if it created it and it is then empty), so pointing
   * a savepoint at a directory holding other files never loses them. Idempotent.
   */
  discard(): Promise<void>;
}

/** The outcome of checking one state file against its handle. */
export type FileVerification =
  | { readonly status: 'ok'; readonly path: string; readonly sizeBytes: number; readonly crc32c: number }
  | { readonly status: 'missing'; readonly path: string }
  | {
      readonly status: 'size-mismatch';
      readonly path: string;
      readonly expectedSizeBytes: number;
      readonly actualSizeBytes: number;
    }
  | {
      readonly status: 'checksum-mismatch';
      readonly path: string;
      readonly expectedCrc32c: number;
      readonly actualCrc32c: number;
    }
  | { readonly status: 'unreadable'; readonly path: string; readonly reason: string };

/**
 * Where checkpoints go and how they come back. Two implementations pass the same conformance
 * suite: `JobManagerCheckpointStorage` (memory) and `FileSystemCheckpointStorage` (a directory
 * laid out as `DIR/<job-id>/chk-<n>/_metadata`, `DIR/<job-id>/shared/`, `DIR/<job-id>/taskowned/`).
 * Savepoints always go to a file-system directory, whatever the storage.
 *
 * Pointers given to `readFile`, `verifyFile` and `loadMetadata` may be a checkpoint pointer of
 * this storage, a savepoint directory, or the path of a `_metadata` file.
 *
 * @example
 * ```ts
 * const storage: CheckpointStorage = new FileSystemCheckpointStorage('/var/weir/checkpoints');
 * const [latest] = (await storage.listCompletedCheckpoints(jobId)).slice(-1);
 * const metadata = await storage.loadMetadata(storage.checkpointPointer(jobId, latest));
 * ```
 */
export interface CheckpointStorage {
  /** For logs: `filesystem /var/weir/checkpoints` or `jobmanager (memory, at most 5242880 bytes per checkpoint)`. */
  readonly description: string;
  /**
   * Creates the directory of checkpoint `checkpointId` of `jobId` (and the job's `shared/` and
   * `taskowned/`). Rejects if that checkpoint was already completed: ids must increase, also
   * across restarts.
   */
  createCheckpointLocation(jobId: string, checkpointId: number): Promise<CheckpointLocation>;
  /**
   * Creates a fresh directory for a self-contained savepoint inside `targetDirectory` (or the
   * storage's `defaultSavepointDirectory` when undefined), named like Flink's:
   * `savepoint-<first 6 chars of job id>-<checkpoint id>`, with `-2`, `-3`… appended if taken.
   * The location's `pointer` is that directory: what `--from-savepoint` takes.
   */
  createSavepointLocation(
    jobId: string,
    checkpointId: number,
    targetDirectory: string | undefined,
  ): Promise<CheckpointLocation>;
  /** The pointer of checkpoint `checkpointId` of `jobId`, whether or not it exists. */
  checkpointPointer(jobId: string, checkpointId: number): string;
  /**
   * A state file's bytes, verified against the handle's size and CRC-32C. A missing, truncated
   * or altered file throws `CorruptCheckpointError` naming the path and expected vs actual.
   */
  readFile(pointer: string, handle: StateFileHandle): Promise<Uint8Array>;
  /**
   * A state file as a stream of chunks, for restores that must not hold it whole: checked
   * against the handle's size and CRC-32C as it goes and at its end (`CorruptCheckpointError`
   * naming the path, thrown by the iteration). With `range`, those bytes only, checked for
   * their count (what they hold must carry checksums of its own).
   */
  readFileChunks(pointer: string, handle: StateFileHandle, range?: ByteRange): AsyncIterable<Uint8Array>;
  /** Checks a state file against its handle without keeping its bytes (reads in bounded chunks). */
  verifyFile(pointer: string, handle: StateFileHandle): Promise<FileVerification>;
  /**
   * Reads and verifies `_metadata`: `CheckpointNotFoundError` when it was never committed,
   * `CorruptCheckpointError` (naming the path) when it is truncated or damaged.
   */
  loadMetadata(pointer: string): Promise<CheckpointMetadata>;
  /** Ids of the job's checkpoints that have a committed `_metadata`, ascending. */
  listCompletedCheckpoints(jobId: string): Promise<number[]>;
  /** Job ids that have a directory in this storage, sorted. */
  listJobIds(): Promise<string[]>;
  /**
   * Deletes a checkpoint of this storage by pointer (after a restart there is no location
   * object). Refuses (throws) anything that is not a `chk-<n>` pointer of this storage, so it
   * can never delete a savepoint or a user's directory.
   */
  discardCheckpoint(pointer: string): Promise<void>;
  /**
   * Deletes the job's checkpoint directories without `_metadata` (aborted, or left by a crash)
   * whose id is below `belowCheckpointId` (default: all; only safe when no checkpoint is in
   * flight). Returns the ids removed.
   */
  discardAbortedCheckpoints(jobId: string, belowCheckpointId?: number): Promise<number[]>;
  /**
   * Deletes one file of the job's `shared/` directory; `key` is `shared/<name>` (the
   * `SharedStateRegistry` key), anything else throws. A missing file is not an error.
   */
  discardSharedFile(jobId: string, key: string): Promise<void>;
  /**
   * Once a job is over: deletes its aborted checkpoint directories and, if no completed
   * checkpoint is left, the whole job directory (`shared/` and `taskowned/` included).
   */
  cleanupJob(jobId: string): Promise<void>;
}
