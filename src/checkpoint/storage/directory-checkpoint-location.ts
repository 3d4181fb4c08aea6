/** A checkpoint or savepoint location in a directory of a CheckpointFileSystem: durable writes, atomic commit, safe discard. */
import { crc32c } from '../../core/binary.ts';
import { WeirError } from '../../core/errors.ts';
import { encodeCheckpointMetadata } from '../metadata/checkpoint-metadata-format.ts';
import {
  type CheckpointMetadata,
  referencedStateFiles,
  type SnapshotKind,
  type StateFileHandle,
} from '../snapshot-handles.ts';
import { withIOContext } from './checkpoint-errors.ts';
import type { CheckpointFileSystem, FileWriteHandle } from './checkpoint-file-system.ts';
import type { CheckpointLocation, StateFileSink } from './checkpoint-storage.ts';
import type { PathContext } from './directory-tree.ts';
import {
  METADATA_FILE_NAME,
  METADATA_TEMP_FILE_NAME,
  SHARED_STATE_PATH_PREFIX,
  stateFileNameProblem,
} from './state-file-names.ts';

/** A savepoint directory name is tried with this many suffixes before giving up. */
export const SAVEPOINT_NAME_ATTEMPTS_MAX = 100;
/** Characters of the job id in a savepoint directory name (Flink uses 6). */
const SAVEPOINT_JOB_ID_CHARS = 6;

/** Names of the per-job directories next to the `chk-<n>` directories (DESIGN §3). */
export const SHARED_DIRECTORY_NAME = 'shared';
export const TASK_OWNED_DIRECTORY_NAME = 'taskowned';

/** Accounts bytes written to one checkpoint; throws when a limit would be exceeded. */
export type ReserveBytes = (pointer: string, sizeBytes: number) => void;

/** What a location needs to know about where it lives. */
export interface DirectoryLocationOptions {
  readonly paths: PathContext;
  readonly directory: string;
  readonly kind: SnapshotKind;
  /** For checkpoints: the metadata committed here must carry this job and checkpoint id. */
  readonly expected?: { readonly jobId: string; readonly checkpointId: number };
  readonly reserveBytes?: ReserveBytes;
  /** Ends the accounting of `reserveBytes` (called on commit and on discard). */
  readonly releaseBytes?: (pointer: string) => void;
}

type LocationState = 'open' | 'committing' | 'committed' | 'discarded';

/**
 * Implements {@link CheckpointLocation} over a directory. Writes go straight to their final
 * names: nothing is visible as a checkpoint until `_metadata` is renamed into place, and an
 * abandoned directory (no `_metadata`) is removed by `discardAbortedCheckpoints`.
 */
export class DirectoryCheckpointLocation implements CheckpointLocation {
  readonly pointer: string;
  readonly kind: SnapshotKind;
  readonly #options: DirectoryLocationOptions;
  readonly #fs: CheckpointFileSystem;
  readonly #written = new Set<string>();
  /** Files this location put into `shared/`: deleted by `discard()` (nothing else can reference them yet). */
  readonly #writtenShared = new Set<string>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #state: LocationState = 'open';
  #directoryReady: Promise<void> | undefined;
  #createdDirectory = false;

  private constructor(options: DirectoryLocationOptions) {
    this.#options = options;
    this.#fs = options.paths.fs;
    this.pointer = options.directory;
    this.kind = options.kind;
  }

  /** Creates the location and its directory, so a storage problem fails the trigger, not a subtask. */
  static async create(options: DirectoryLocationOptions): Promise<DirectoryCheckpointLocation> {
    const location = new DirectoryCheckpointLocation(options);
    await location.#ensureDirectory();
    return location;
  }

  writeFile(name: string, bytes: Uint8Array): Promise<StateFileHandle> {
    const relativePath = this.#claim(name);
    if (relativePath instanceof Error) return Promise.reject(relativePath);
    return this.#track(this.#write(relativePath, bytes));
  }

  writeSharedFile(name: string, bytes: Uint8Array): Promise<StateFileHandle> {
    const relativePath = this.#claimShared(name);
    if (relativePath instanceof Error) return Promise.reject(relativePath);
    return this.#track(this.#write(relativePath, bytes));
  }

  openFile(name: string): Promise<StateFileSink> {
    const relativePath = this.#claim(name);
    if (relativePath instanceof Error) return Promise.reject(relativePath);
    return this.#open(relativePath);
  }

  openSharedFile(name: string): Promise<StateFileSink> {
    const relativePath = this.#claimShared(name);
    if (relativePath instanceof Error) return Promise.reject(relativePath);
    return this.#open(relativePath);
  }

  /** Checks a state file's name and takes it: its relative path, or the error to reject with. */
  #claim(name: string): string | Error {
    const problem = stateFileNameProblem(name);
    if (problem !== undefined)
      return new RangeError(`state file name '${name}' ${problem} (location ${this.pointer})`);
    if (this.#state !== 'open')
      return new WeirError(`cannot write ${name}: location ${this.pointer} is ${this.#state}`);
    if (this.#written.has(name))
      return new RangeError(`state file '${name}' was already written to ${this.pointer}`);
    this.#written.add(name);
    return name;
  }

  #claimShared(name: string): string | Error {
    const problem = stateFileNameProblem(name);
    if (problem !== undefined) {
      return new RangeError(`shared state file name '${name}' ${problem} (location ${this.pointer})`);
    }
    if (this.kind !== 'checkpoint') {
      return new WeirError(
        `a savepoint is self-contained: it cannot write shared file ${name} (${this.pointer})`,
      );
    }
    if (this.#state !== 'open')
      return new WeirError(`cannot write ${name}: location ${this.pointer} is ${this.#state}`);
    if (this.#writtenShared.has(name)) {
      return new RangeError(`shared file '${name}' was already written by ${this.pointer}`);
    }
    this.#writtenShared.add(name);
    return `${SHARED_STATE_PATH_PREFIX}${name}`;
  }

  /** Commit and discard wait for what is in flight. */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    work.then(
      () => this.#inFlight.delete(work),
      () => this.#inFlight.delete(work),
    );
    return work;
  }

  /** The path of a handle's file: in this directory, or in the job's `shared/` directory. */
  #pathOf(relativePath: string): string {
    const { join, dirname } = this.#options.paths;
    if (relativePath.startsWith(SHARED_STATE_PATH_PREFIX)) {
      const name = relativePath.slice(SHARED_STATE_PATH_PREFIX.length);
      return join(join(dirname(this.#options.directory), SHARED_DIRECTORY_NAME), name);
    }
    return join(this.#options.directory, relativePath);
  }

  async #write(relativePath: string, bytes: Uint8Array): Promise<StateFileHandle> {
    // Reserve first, so a checkpoint over its limit fails before it writes anything.
    this.#options.reserveBytes?.(this.pointer, bytes.length);
    const handle: StateFileHandle = { relativePath, sizeBytes: bytes.length, crc32c: crc32c(bytes) };
    await this.#ensureDirectory();
    const path = this.#pathOf(relativePath);
    try {
      await withIOContext('write state file', path, () => this.#fs.writeFile(path, bytes));
      await withIOContext('fsync state file', path, () => this.#fs.fsync(path));
    } catch (error) {
      // A partial file would only waste space: the checkpoint cannot complete without it anyway.
      await this.#fs.remove(path).catch(() => undefined);
      throw error;
    }
    return handle;
  }

  /**
   * A file written in parts: size and CRC-32C are taken as the parts go by, and the limit of
   * `reserveBytes` is checked for each part. Tracked as in flight from open to close or abort.
   */
  async #open(relativePath: string): Promise<StateFileSink> {
    const path = this.#pathOf(relativePath);
    const done = Promise.withResolvers<void>();
    this.#track(done.promise);
    let file: FileWriteHandle;
    try {
      await this.#ensureDirectory();
      file = await withIOContext('write state file', path, () => this.#fs.openForWriting(path));
    } catch (error) {
      done.resolve();
      throw error;
    }
    let sizeBytes = 0;
    let checksum = 0;
    let ended = false;
    const end = async (): Promise<void> => {
      ended = true;
      await file.close().catch(() => undefined);
      await this.#fs.remove(path).catch(() => undefined);
    };
    return {
      write: async (chunk: Uint8Array): Promise<void> => {
        if (ended) throw new WeirError(`cannot write ${relativePath}: it was closed or aborted`);
        try {
          if (this.#state === 'discarded') {
            throw new WeirError(`cannot write ${relativePath}: location ${this.pointer} is discarded`);
          }
          this.#options.reserveBytes?.(this.pointer, chunk.length);
          checksum = crc32c(chunk, 0, chunk.length, checksum);
          sizeBytes += chunk.length;
          await withIOContext('write state file', path, () => file.write(chunk));
        } catch (error) {
          // A partial file would only waste space: the checkpoint cannot complete without it anyway.
          await end();
          done.resolve();
          throw error;
        }
      },
      close: async (): Promise<StateFileHandle> => {
        if (ended) throw new WeirError(`cannot close ${relativePath}: it was closed or aborted`);
        ended = true;
        try {
          await withIOContext('write state file', path, () => file.close());
          await withIOContext('fsync state file', path, () => this.#fs.fsync(path));
          return { relativePath, sizeBytes, crc32c: checksum };
        } catch (error) {
          await this.#fs.remove(path).catch(() => undefined);
          throw error;
        } finally {
          done.resolve();
        }
      },
      abort: async (): Promise<void> => {
        if (!ended) await end();
        done.resolve();
      },
    };
  }

  commitMetadata(metadata: CheckpointMetadata): Promise<void> {
    if (this.#state !== 'open') {
      return Promise.reject(new WeirError(`cannot commit ${this.pointer}: location is ${this.#state}`));
    }
    this.#state = 'committing';
    const commit = this.#commit(metadata);
    // A discard racing with the commit waits for it, then deletes what it committed.
    this.#inFlight.add(commit);
    commit.then(
      () => this.#inFlight.delete(commit),
      () => this.#inFlight.delete(commit),
    );
    return commit;
  }

  async #commit(metadata: CheckpointMetadata): Promise<void> {
    try {
      // Snapshot the writes in flight now: this commit is added to the set only after this line.
      await Promise.allSettled([...this.#inFlight]);
      this.#checkBelongsHere(metadata);
      const bytes = encodeCheckpointMetadata(metadata);
      await this.#ensureDirectory();
      await this.#checkReferencedFiles(metadata);
      await this.#writeMetadataAtomically(bytes);
      if (this.#state === 'committing') this.#state = 'committed';
      this.#options.releaseBytes?.(this.pointer);
    } catch (error) {
      if (this.#state === 'committing') this.#state = 'open';
      throw error;
    }
  }

  #checkBelongsHere(metadata: CheckpointMetadata): void {
    const expected = this.#options.expected;
    if (metadata.kind !== this.kind) {
      throw new WeirError(
        `metadata of a ${metadata.kind} cannot be committed to ${this.kind} location ${this.pointer}`,
      );
    }
    if (
      expected !== undefined &&
      (metadata.jobId !== expected.jobId || metadata.checkpointId !== expected.checkpointId)
    ) {
      throw new WeirError(
        `metadata of checkpoint ${metadata.checkpointId} of job ${metadata.jobId} cannot be committed to ${this.pointer} ` +
          `(checkpoint ${expected.checkpointId} of job ${expected.jobId})`,
      );
    }
  }

  /** The invariant pair of "write then reference": every referenced file is there with its size. */
  async #checkReferencedFiles(metadata: CheckpointMetadata): Promise<void> {
    for (const file of referencedStateFiles(metadata)) {
      const path = this.#pathOf(file.relativePath);
      const info = await withIOContext('stat state file', path, () => this.#fs.stat(path));
      if (info === undefined || info.isDirectory || info.sizeBytes !== file.sizeBytes) {
        const found =
          info === undefined ? 'nothing' : info.isDirectory ? 'a directory' : `${info.sizeBytes} bytes`;
        throw new WeirError(
          `metadata of ${this.pointer} references ${file.relativePath} (${file.sizeBytes} bytes) but found ${found} at ${path}`,
        );
      }
    }
  }

  async #writeMetadataAtomically(bytes: Uint8Array): Promise<void> {
    const { join } = this.#options.paths;
    const directory = this.#options.directory;
    const tempPath = join(directory, METADATA_TEMP_FILE_NAME);
    const finalPath = join(directory, METADATA_FILE_NAME);
    let renamed = false;
    try {
      await withIOContext('write metadata', tempPath, () => this.#fs.writeFile(tempPath, bytes));
      await withIOContext('fsync metadata', tempPath, () => this.#fs.fsync(tempPath));
      await withIOContext('rename metadata into place', finalPath, () =>
        this.#fs.rename(tempPath, finalPath),
      );
      renamed = true;
      await withIOContext('fsync directory', directory, () => this.#fs.fsync(directory));
    } catch (error) {
      // Before the rename the checkpoint does not exist; after it, only the directory fsync
      // failed and the rename may not survive a crash, so take it back rather than guess.
      await this.#fs.remove(renamed ? finalPath : tempPath).catch(() => undefined);
      throw error;
    }
  }

  async discard(): Promise<void> {
    if (this.#state === 'discarded') return;
    this.#state = 'discarded';
    await Promise.allSettled(this.#inFlight);
    const { join } = this.#options.paths;
    const directory = this.#options.directory;
    try {
      if (this.kind === 'checkpoint') {
        for (const name of this.#writtenShared) {
          const path = this.#pathOf(`${SHARED_STATE_PATH_PREFIX}${name}`);
          await withIOContext('delete shared state file', path, () => this.#fs.remove(path));
        }
        await withIOContext('delete checkpoint directory', directory, () => this.#fs.remove(directory));
        return;
      }
      const names = [...this.#written, METADATA_TEMP_FILE_NAME, METADATA_FILE_NAME];
      for (const name of names) {
        const path = join(directory, name);
        await withIOContext('delete savepoint file', path, () => this.#fs.remove(path));
      }
      if (this.#createdDirectory) {
        const left = await this.#fs.readdir(directory).catch(() => undefined);
        if (left !== undefined && left.length === 0) {
          await withIOContext('delete savepoint directory', directory, () => this.#fs.remove(directory));
        }
      }
    } finally {
      this.#options.releaseBytes?.(this.pointer);
    }
  }

  #ensureDirectory(): Promise<void> {
    this.#directoryReady ??= this.#createDirectory();
    return this.#directoryReady;
  }

  async #createDirectory(): Promise<void> {
    const { join, dirname } = this.#options.paths;
    const directory = this.#options.directory;
    const parent = dirname(directory);
    const existing = await withIOContext('stat', directory, () => this.#fs.stat(directory));
    if (existing !== undefined) {
      const metadataPath = join(directory, METADATA_FILE_NAME);
      const committed = await withIOContext('stat', metadataPath, () => this.#fs.stat(metadataPath));
      if (committed !== undefined) {
        // Overwriting would silently replace a completed checkpoint or a user's savepoint.
        throw new WeirError(
          this.kind === 'checkpoint'
            ? `checkpoint directory ${directory} already holds a completed checkpoint: checkpoint ids must increase, also across restarts`
            : `savepoint directory ${directory} already holds a savepoint; choose another directory`,
        );
      }
    }
    this.#createdDirectory = existing === undefined;
    if (this.kind === 'checkpoint') {
      for (const name of [SHARED_DIRECTORY_NAME, TASK_OWNED_DIRECTORY_NAME]) {
        const path = join(parent, name);
        await withIOContext('create directory', path, () => this.#fs.mkdir(path));
      }
    }
    await withIOContext('create directory', directory, () => this.#fs.mkdir(directory));
    // The new entry in the parent must survive a crash along with the files inside it.
    if (this.#createdDirectory) await withIOContext('fsync directory', parent, () => this.#fs.fsync(parent));
  }
}

/**
 * A directory for a new savepoint inside `parent`: `savepoint-<job6>-<checkpoint id>`, or with
 * `-2`, `-3`… appended when that name is taken, so an existing savepoint is never overwritten.
 */
export async function chooseSavepointDirectory(
  paths: PathContext,
  parent: string,
  jobId: string,
  checkpointId: number,
): Promise<string> {
  const base = `savepoint-${jobId.slice(0, SAVEPOINT_JOB_ID_CHARS)}-${checkpointId}`;
  for (let attempt = 1; attempt <= SAVEPOINT_NAME_ATTEMPTS_MAX; attempt++) {
    const candidate = paths.join(parent, attempt === 1 ? base : `${base}-${attempt}`);
    const existing = await withIOContext('stat', candidate, () => paths.fs.stat(candidate));
    if (existing === undefined) return candidate;
  }
  throw new WeirError(
    `no free savepoint directory name ${base}[-n] in ${parent} after ${SAVEPOINT_NAME_ATTEMPTS_MAX} attempts`,
  );
}
