/** Checkpoint storage in a directory: `DIR/<job-id>/chk-<n>/_metadata` plus state files, `shared/`, `taskowned/`. */
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ConfigurationError, WeirError } from '../../core/errors.ts';
import type { CheckpointMetadata, StateFileHandle } from '../snapshot-handles.ts';
import { CheckpointIOError, withIOContext } from './checkpoint-errors.ts';
import {
  type ByteRange,
  type CheckpointFileSystem,
  isNotFound,
  NodeCheckpointFileSystem,
} from './checkpoint-file-system.ts';
import type { CheckpointLocation, CheckpointStorage, FileVerification } from './checkpoint-storage.ts';
import { chooseSavepointDirectory, DirectoryCheckpointLocation } from './directory-checkpoint-location.ts';
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
import { jobIdProblem, sharedFileOfKey } from './state-file-names.ts';

/** Options of {@link FileSystemCheckpointStorage}. */
export interface FileSystemCheckpointStorageOptions {
  /** Default: the real file system. Tests inject `InMemoryFileSystem` or `FaultInjectingFileSystem`. */
  readonly fileSystem?: CheckpointFileSystem;
  /** Where savepoints go when no target directory is given (Flink's `state.savepoints.dir`). */
  readonly defaultSavepointDirectory?: string;
}

/** `node:path` over a file system: what every real directory (and every savepoint) uses. */
export function nodePathContext(fs: CheckpointFileSystem): PathContext {
  return { fs, join, dirname };
}

/**
 * Stores checkpoints in a directory on a local or shared file system (DESIGN §3): each
 * checkpoint owns `DIR/<job-id>/chk-<n>/`, which holds its state files and, once complete,
 * its `_metadata`. `DIR/<job-id>/shared/` is reserved for files shared by incremental
 * checkpoints (reference-counted by `SharedStateRegistry`), `DIR/<job-id>/taskowned/` for
 * files owned by tasks rather than by one checkpoint (Flink's layout).
 *
 * @example
 * ```ts
 * const storage = new FileSystemCheckpointStorage('/var/weir/checkpoints');
 * const location = await storage.createCheckpointLocation(jobId, 1);
 * location.pointer; // '/var/weir/checkpoints/<job-id>/chk-1'
 * ```
 */
export class FileSystemCheckpointStorage implements CheckpointStorage {
  /** The absolute checkpoint directory. */
  readonly directory: string;
  readonly description: string;
  readonly #paths: PathContext;
  readonly #defaultSavepointDirectory: string | undefined;

  constructor(directory: string, options: FileSystemCheckpointStorageOptions = {}) {
    if (typeof directory !== 'string' || directory.length === 0) {
      throw new ConfigurationError(
        'FileSystemCheckpointStorage needs a checkpoint directory (--checkpoint-dir DIR)',
      );
    }
    this.directory = resolve(directory);
    this.description = `filesystem ${this.directory}`;
    this.#paths = nodePathContext(options.fileSystem ?? new NodeCheckpointFileSystem());
    this.#defaultSavepointDirectory = options.defaultSavepointDirectory;
  }

  /** `DIR/<job-id>`. */
  jobDirectory(jobId: string): string {
    const problem = jobIdProblem(jobId);
    if (problem !== undefined) throw new RangeError(`job id '${jobId}' ${problem}`);
    return join(this.directory, jobId);
  }

  checkpointPointer(jobId: string, checkpointId: number): string {
    requireCheckpointId(checkpointId);
    return join(this.jobDirectory(jobId), `chk-${checkpointId}`);
  }

  async createCheckpointLocation(jobId: string, checkpointId: number): Promise<CheckpointLocation> {
    return DirectoryCheckpointLocation.create({
      paths: this.#paths,
      directory: this.checkpointPointer(jobId, checkpointId),
      kind: 'checkpoint',
      expected: { jobId, checkpointId },
    });
  }

  async createSavepointLocation(
    jobId: string,
    checkpointId: number,
    targetDirectory: string | undefined,
  ): Promise<CheckpointLocation> {
    return createSavepointLocation(
      this.#paths,
      jobId,
      checkpointId,
      targetDirectory ?? this.#defaultSavepointDirectory,
    );
  }

  readFile(pointer: string, handle: StateFileHandle): Promise<Uint8Array> {
    return readVerifiedStateFile(this.#paths, this.#directoryOf(pointer), handle);
  }

  readFileChunks(pointer: string, handle: StateFileHandle, range?: ByteRange): AsyncIterable<Uint8Array> {
    return readStateFileChunks(this.#paths, this.#directoryOf(pointer), handle, range);
  }

  verifyFile(pointer: string, handle: StateFileHandle): Promise<FileVerification> {
    return verifyStateFile(this.#paths, this.#directoryOf(pointer), handle);
  }

  loadMetadata(pointer: string): Promise<CheckpointMetadata> {
    return loadMetadataFile(this.#paths, this.#directoryOf(pointer));
  }

  async listCompletedCheckpoints(jobId: string): Promise<number[]> {
    return (await listCheckpointDirectories(this.#paths, this.jobDirectory(jobId))).completed;
  }

  async listJobIds(): Promise<string[]> {
    let entries: Awaited<ReturnType<CheckpointFileSystem['readdir']>>;
    try {
      entries = await this.#paths.fs.readdir(this.directory);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw new CheckpointIOError('list', this.directory, error);
    }
    return entries
      .filter((entry) => entry.isDirectory && jobIdProblem(entry.name) === undefined)
      .map((entry) => entry.name)
      .sort();
  }

  async discardCheckpoint(pointer: string): Promise<void> {
    const directory = this.#directoryOf(pointer);
    const segments = relative(this.directory, directory).split(sep);
    const isCheckpointDirectory =
      segments.length === 2 &&
      jobIdProblem(segments[0]) === undefined &&
      checkpointIdOfDirectoryName(segments[1]) !== undefined;
    if (!isCheckpointDirectory) {
      throw new WeirError(`refusing to delete ${pointer}: not a checkpoint directory of ${this.description}`);
    }
    await withIOContext('delete checkpoint directory', directory, () => this.#paths.fs.remove(directory));
  }

  async discardAbortedCheckpoints(
    jobId: string,
    belowCheckpointId = Number.POSITIVE_INFINITY,
  ): Promise<number[]> {
    const { aborted } = await listCheckpointDirectories(this.#paths, this.jobDirectory(jobId));
    const removed = aborted.filter((id) => id < belowCheckpointId);
    for (const id of removed) {
      const directory = this.checkpointPointer(jobId, id);
      await withIOContext('delete aborted checkpoint directory', directory, () =>
        this.#paths.fs.remove(directory),
      );
    }
    return removed;
  }

  async discardSharedFile(jobId: string, key: string): Promise<void> {
    const path = join(this.jobDirectory(jobId), sharedFileOfKey(key));
    await withIOContext('delete shared state file', path, () => this.#paths.fs.remove(path));
  }

  async cleanupJob(jobId: string): Promise<void> {
    await this.discardAbortedCheckpoints(jobId);
    const { completed } = await listCheckpointDirectories(this.#paths, this.jobDirectory(jobId));
    if (completed.length > 0) return;
    const jobDirectory = this.jobDirectory(jobId);
    await withIOContext('delete job directory', jobDirectory, () => this.#paths.fs.remove(jobDirectory));
  }

  #directoryOf(pointer: string): string {
    return resolve(checkpointDirectoryOf(this.#paths, pointer));
  }
}

/** Checkpoint ids are non-negative safe integers; anything else is a bug in the caller. */
export function requireCheckpointId(checkpointId: number): void {
  if (!(Number.isSafeInteger(checkpointId) && checkpointId >= 0)) {
    throw new RangeError(`checkpoint id must be a non-negative integer, got ${checkpointId}`);
  }
}

/** A savepoint location in a fresh directory under `parent` (shared by both storages). */
export async function createSavepointLocation(
  paths: PathContext,
  jobId: string,
  checkpointId: number,
  parent: string | undefined,
): Promise<CheckpointLocation> {
  requireCheckpointId(checkpointId);
  const problem = jobIdProblem(jobId);
  if (problem !== undefined) throw new RangeError(`job id '${jobId}' ${problem}`);
  if (parent === undefined || parent.length === 0) {
    throw new ConfigurationError(
      'no savepoint directory: pass a target directory (weir savepoint JOB DIR) or configure a default savepoint directory',
    );
  }
  const directory = await chooseSavepointDirectory(paths, resolve(parent), jobId, checkpointId);
  return DirectoryCheckpointLocation.create({ paths, directory, kind: 'savepoint' });
}
