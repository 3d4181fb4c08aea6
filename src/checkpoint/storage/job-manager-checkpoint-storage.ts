/** Checkpoint storage in the job manager's memory, with a per-checkpoint size limit: for tests and small state. */
import { ConfigurationError, WeirError } from '../../core/errors.ts';
import type { CheckpointMetadata, StateFileHandle } from '../snapshot-handles.ts';
import { CheckpointSizeLimitError, withIOContext } from './checkpoint-errors.ts';
import {
  type ByteRange,
  type CheckpointFileSystem,
  NodeCheckpointFileSystem,
} from './checkpoint-file-system.ts';
import type { CheckpointLocation, CheckpointStorage, FileVerification } from './checkpoint-storage.ts';
import { DirectoryCheckpointLocation } from './directory-checkpoint-location.ts';
import {
  checkpointDirectoryOf,
  checkpointIdOfDirectoryName,
  listCheckpointDirectories,
  loadMetadataFile,
  type PathContext,
  readStateFileChunks,
  readVerifiedStateFile,
  verifyStateFile,
} from './directory-tree.ts';
import {
  createSavepointLocation,
  nodePathContext,
  requireCheckpointId,
} from './file-system-checkpoint-storage.ts';
import { InMemoryFileSystem } from './in-memory-file-system.ts';
import { jobIdProblem, sharedFileOfKey } from './state-file-names.ts';

/** Flink's default limit for state kept in the job manager: 5 MiB per checkpoint. */
export const JOB_MANAGER_STATE_SIZE_BYTES_DEFAULT = 5 * 1024 * 1024;
/** Every pointer of this storage starts with this. */
export const MEMORY_POINTER_PREFIX = 'memory://';

/** Options of {@link JobManagerCheckpointStorage}. */
export interface JobManagerCheckpointStorageOptions {
  /** Most state-file bytes one checkpoint may hold; default 5 MiB. */
  readonly maxStateSizeBytes?: number;
  /** Holds the checkpoints; default a fresh `InMemoryFileSystem`. Tests inject one to damage files. */
  readonly fileSystem?: CheckpointFileSystem;
  /** Savepoints always go to a real directory; default the real file system. */
  readonly savepointFileSystem?: CheckpointFileSystem;
  /** Where savepoints go when no target directory is given (Flink's `state.savepoints.dir`). */
  readonly defaultSavepointDirectory?: string;
}

/**
 * Keeps checkpoints in memory under pointers `memory://<job-id>/chk-<n>`, with exactly the
 * semantics of the file-system storage (same format, atomic commit, checksums), so both pass
 * one conformance suite. Gone when the process ends: after a crash, only a file-system
 * checkpoint or a savepoint can resume a job. A checkpoint whose state files would exceed
 * `maxStateSizeBytes` fails with {@link CheckpointSizeLimitError}. Savepoints are written to
 * the file system, as with Flink.
 *
 * @example
 * ```ts
 * const storage = new JobManagerCheckpointStorage({ maxStateSizeBytes: 10 * 1024 * 1024 });
 * (await storage.createCheckpointLocation('job-1', 3)).pointer; // 'memory://job-1/chk-3'
 * ```
 */
export class JobManagerCheckpointStorage implements CheckpointStorage {
  readonly description: string;
  readonly maxStateSizeBytes: number;
  readonly #memory: PathContext;
  readonly #savepoints: PathContext;
  readonly #bytesByPointer = new Map<string, number>();
  readonly #defaultSavepointDirectory: string | undefined;

  constructor(options: JobManagerCheckpointStorageOptions = {}) {
    const { maxStateSizeBytes = JOB_MANAGER_STATE_SIZE_BYTES_DEFAULT } = options;
    if (!(Number.isSafeInteger(maxStateSizeBytes) && maxStateSizeBytes > 0)) {
      throw new ConfigurationError(
        `JobManagerCheckpointStorage maxStateSizeBytes must be a positive integer, got ${maxStateSizeBytes}`,
      );
    }
    this.maxStateSizeBytes = maxStateSizeBytes;
    this.description = `jobmanager (memory, at most ${maxStateSizeBytes} bytes per checkpoint)`;
    this.#memory = {
      fs: options.fileSystem ?? new InMemoryFileSystem(),
      join: (directory, name) => `${directory}/${name}`,
      dirname: (path) => path.slice(0, path.lastIndexOf('/')),
    };
    this.#savepoints = nodePathContext(options.savepointFileSystem ?? new NodeCheckpointFileSystem());
    this.#defaultSavepointDirectory = options.defaultSavepointDirectory;
  }

  #jobDirectory(jobId: string): string {
    const problem = jobIdProblem(jobId);
    if (problem !== undefined) throw new RangeError(`job id '${jobId}' ${problem}`);
    return `${MEMORY_POINTER_PREFIX}${jobId}`;
  }

  checkpointPointer(jobId: string, checkpointId: number): string {
    requireCheckpointId(checkpointId);
    return `${this.#jobDirectory(jobId)}/chk-${checkpointId}`;
  }

  async createCheckpointLocation(jobId: string, checkpointId: number): Promise<CheckpointLocation> {
    return DirectoryCheckpointLocation.create({
      paths: this.#memory,
      directory: this.checkpointPointer(jobId, checkpointId),
      kind: 'checkpoint',
      expected: { jobId, checkpointId },
      reserveBytes: (pointer, sizeBytes) => this.#reserve(pointer, sizeBytes),
      releaseBytes: (pointer) => this.#bytesByPointer.delete(pointer),
    });
  }

  async createSavepointLocation(
    jobId: string,
    checkpointId: number,
    targetDirectory: string | undefined,
  ): Promise<CheckpointLocation> {
    const parent = targetDirectory ?? this.#defaultSavepointDirectory;
    if (parent?.startsWith(MEMORY_POINTER_PREFIX)) {
      return Promise.reject(
        new ConfigurationError(`a savepoint needs a file-system directory, got ${parent}`),
      );
    }
    return createSavepointLocation(this.#savepoints, jobId, checkpointId, parent);
  }

  readFile(pointer: string, handle: StateFileHandle): Promise<Uint8Array> {
    const paths = this.#pathsOf(pointer);
    return readVerifiedStateFile(paths, checkpointDirectoryOf(paths, pointer), handle);
  }

  readFileChunks(pointer: string, handle: StateFileHandle, range?: ByteRange): AsyncIterable<Uint8Array> {
    const paths = this.#pathsOf(pointer);
    return readStateFileChunks(paths, checkpointDirectoryOf(paths, pointer), handle, range);
  }

  verifyFile(pointer: string, handle: StateFileHandle): Promise<FileVerification> {
    const paths = this.#pathsOf(pointer);
    return verifyStateFile(paths, checkpointDirectoryOf(paths, pointer), handle);
  }

  loadMetadata(pointer: string): Promise<CheckpointMetadata> {
    const paths = this.#pathsOf(pointer);
    return loadMetadataFile(paths, checkpointDirectoryOf(paths, pointer));
  }

  async listCompletedCheckpoints(jobId: string): Promise<number[]> {
    return (await listCheckpointDirectories(this.#memory, this.#jobDirectory(jobId))).completed;
  }

  async listJobIds(): Promise<string[]> {
    const root = MEMORY_POINTER_PREFIX.slice(0, -1);
    const entries = await this.#memory.fs.readdir(root).catch(() => []);
    return entries
      .filter((entry) => entry.isDirectory)
      .map((entry) => entry.name)
      .sort();
  }

  async discardCheckpoint(pointer: string): Promise<void> {
    const directory = checkpointDirectoryOf(this.#memory, pointer);
    const segments = directory.startsWith(MEMORY_POINTER_PREFIX)
      ? directory.slice(MEMORY_POINTER_PREFIX.length).split('/')
      : [];
    const isCheckpoint =
      segments.length === 2 &&
      jobIdProblem(segments[0]) === undefined &&
      checkpointIdOfDirectoryName(segments[1]) !== undefined;
    if (!isCheckpoint)
      throw new WeirError(`refusing to delete ${pointer}: not a checkpoint of ${this.description}`);
    this.#bytesByPointer.delete(directory);
    await withIOContext('delete checkpoint', directory, () => this.#memory.fs.remove(directory));
  }

  async discardAbortedCheckpoints(
    jobId: string,
    belowCheckpointId = Number.POSITIVE_INFINITY,
  ): Promise<number[]> {
    const { aborted } = await listCheckpointDirectories(this.#memory, this.#jobDirectory(jobId));
    const removed = aborted.filter((id) => id < belowCheckpointId);
    for (const id of removed) await this.discardCheckpoint(this.checkpointPointer(jobId, id));
    return removed;
  }

  async discardSharedFile(jobId: string, key: string): Promise<void> {
    const path = `${this.#jobDirectory(jobId)}/${sharedFileOfKey(key)}`;
    await withIOContext('delete shared state file', path, () => this.#memory.fs.remove(path));
  }

  async cleanupJob(jobId: string): Promise<void> {
    await this.discardAbortedCheckpoints(jobId);
    if ((await this.listCompletedCheckpoints(jobId)).length > 0) return;
    await this.#memory.fs.remove(this.#jobDirectory(jobId));
  }

  #pathsOf(pointer: string): PathContext {
    return pointer.startsWith(MEMORY_POINTER_PREFIX) ? this.#memory : this.#savepoints;
  }

  #reserve(pointer: string, sizeBytes: number): void {
    const total = (this.#bytesByPointer.get(pointer) ?? 0) + sizeBytes;
    if (total > this.maxStateSizeBytes)
      throw new CheckpointSizeLimitError(pointer, total, this.maxStateSizeBytes);
    this.#bytesByPointer.set(pointer, total);
  }
}
