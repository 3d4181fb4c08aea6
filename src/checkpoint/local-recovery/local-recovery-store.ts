/** Local recovery (Flink's `state.backend.local-recovery`): a second copy of the latest completed checkpoint's state files on local disk. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { type CheckpointMetadata, referencedStateFiles, type StateFileHandle } from '../snapshot-handles.ts';
import {
  type CheckpointFileSystem,
  type FileWriteHandle,
  NodeCheckpointFileSystem,
} from '../storage/checkpoint-file-system.ts';
import type { StateFileSink } from '../storage/checkpoint-storage.ts';
import { SHARED_STATE_PATH_PREFIX } from '../storage/state-file-names.ts';
import { isNothingThere, LocalStateReader } from './local-state-reader.ts';

/** Where local copies go unless configured (Flink keeps them in the task manager's temp directory too). */
export const LOCAL_RECOVERY_DIRECTORY_DEFAULT = join(tmpdir(), 'weir-local-recovery');

const CHECKPOINT_DIRECTORY_PATTERN = /^chk-(\d+)$/;
const SHARED_DIRECTORY_NAME = 'shared';

/** Options of {@link LocalRecoveryStore}. */
export interface LocalRecoveryStoreOptions {
  /** Root of the local copies (default {@link LOCAL_RECOVERY_DIRECTORY_DEFAULT}); one directory per job below it. */
  readonly directory?: string;
  readonly logger: Logger;
  /** Default: the real file system. Tests inject a FaultInjectingFileSystem. */
  readonly fileSystem?: CheckpointFileSystem;
}

/** The part of a checkpoint location that subtasks write state files into. */
export interface StateFileWriter {
  writeFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  writeSharedFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  openFile(name: string): Promise<StateFileSink>;
  openSharedFile(name: string): Promise<StateFileSink>;
}

/** A local copy written part by part beside an upload; it never rejects (failures are logged). */
interface LocalCopySink {
  write(chunk: Uint8Array): Promise<void>;
  /** The upload completed: keep the copy (or log why it could not be written). */
  finish(): Promise<void>;
  /** The upload was given up: delete the copy. */
  abort(): Promise<void>;
}

/**
 * Keeps, per job, a local copy of every state file of the latest completed checkpoint, laid
 * out like checkpoint storage: `DIR/<job-id>/chk-<n>/<file>` and `DIR/<job-id>/shared/<name>`
 * (file names carry operator id and subtask index). Lifecycle of a checkpoint's copies:
 * written with the upload (`tee`), kept once the checkpoint completes (`confirm` deletes every
 * older copy the new checkpoint does not reference, incremental chains included), or deleted
 * when it aborts (`abort`). A restore reads through `reader(metadata)`, which verifies each
 * copy against the handle in `_metadata` and reports what it could not use.
 *
 * Local copies are best effort, as in Flink: a failed local write never fails the checkpoint,
 * it only means the restore reads that file from checkpoint storage. They are not fsynced:
 * they serve restarts of the process on this machine, and verification catches a copy torn
 * by a machine crash.
 *
 * @example
 * ```ts
 * const local = new LocalRecoveryStore({ directory: '/var/lib/weir/local', logger });
 * const writer = local.tee(jobId, 7, location);    // subtasks write through this
 * await local.confirm(jobId, completedMetadata);   // checkpoint 7 completed: older copies go
 * const reader = local.reader(completedMetadata);  // on restore: verified local bytes or undefined
 * ```
 */
export class LocalRecoveryStore {
  readonly directory: string;
  readonly #fs: CheckpointFileSystem;
  readonly #logger: Logger;
  /** Per job: shared file name → the checkpoint that wrote it (names are unique within a job). */
  readonly #sharedWrittenBy = new Map<string, Map<string, number>>();
  /** Local writes in flight per `<job>/<checkpoint id>`: abort and discard wait for them. */
  readonly #inFlight = new Map<string, Set<Promise<void>>>();
  readonly #directoriesMade = new Map<string, Promise<void>>();
  /** Checkpoints whose failed local write was already logged (one warning per checkpoint). */
  readonly #warned = new Set<string>();
  /** Deletions run one at a time, in the order they were asked for. */
  #housekeeping: Promise<void> = Promise.resolve();

  constructor(options: LocalRecoveryStoreOptions) {
    this.directory = options.directory ?? LOCAL_RECOVERY_DIRECTORY_DEFAULT;
    this.#fs = options.fileSystem ?? new NodeCheckpointFileSystem();
    this.#logger = options.logger;
  }

  /** The local path of a state file of checkpoint `checkpointId` of `jobId`. */
  pathOf(jobId: string, checkpointId: number, relativePath: string): string {
    if (relativePath.startsWith(SHARED_STATE_PATH_PREFIX)) {
      return join(
        this.directory,
        jobId,
        SHARED_DIRECTORY_NAME,
        relativePath.slice(SHARED_STATE_PATH_PREFIX.length),
      );
    }
    return join(this.directory, jobId, `chk-${checkpointId}`, relativePath);
  }

  /**
   * A writer that uploads through `location` and writes the same bytes locally at the same
   * time; it resolves once both are done (the local write never rejects), so by the time a
   * checkpoint completes its local copies are complete too.
   */
  tee(jobId: string, checkpointId: number, location: StateFileWriter): StateFileWriter {
    return {
      writeFile: async (name, bytes) => {
        const local = this.#copy(jobId, checkpointId, this.pathOf(jobId, checkpointId, name), bytes);
        const [handle] = await Promise.all([location.writeFile(name, bytes), local]);
        return handle;
      },
      writeSharedFile: async (name, bytes) => {
        this.#sharedOf(jobId).set(name, checkpointId);
        const path = this.pathOf(jobId, checkpointId, `${SHARED_STATE_PATH_PREFIX}${name}`);
        const [handle] = await Promise.all([
          location.writeSharedFile(name, bytes),
          this.#copy(jobId, checkpointId, path, bytes),
        ]);
        return handle;
      },
      openFile: async (name) =>
        this.#teeSink(
          await location.openFile(name),
          this.#openCopy(jobId, checkpointId, this.pathOf(jobId, checkpointId, name)),
        ),
      openSharedFile: async (name) => {
        const upload = await location.openSharedFile(name);
        this.#sharedOf(jobId).set(name, checkpointId);
        const path = this.pathOf(jobId, checkpointId, `${SHARED_STATE_PATH_PREFIX}${name}`);
        return this.#teeSink(upload, this.#openCopy(jobId, checkpointId, path));
      },
    };
  }

  /** Each part goes to the upload and the local copy at once; the local copy never fails the upload. */
  #teeSink(upload: StateFileSink, copy: LocalCopySink): StateFileSink {
    return {
      write: async (chunk: Uint8Array) => {
        await Promise.all([upload.write(chunk), copy.write(chunk)]);
      },
      close: async () => {
        let handle: StateFileHandle;
        try {
          handle = await upload.close();
        } catch (error) {
          await copy.abort();
          throw error;
        }
        await copy.finish();
        return handle;
      },
      abort: async () => {
        await Promise.all([upload.abort(), copy.abort()]);
      },
    };
  }

  /**
   * Checkpoint `metadata` completed: deletes the job's local copies it does not reference,
   * except those of checkpoints still in flight (higher ids). Failures are logged, not thrown.
   */
  confirm(jobId: string, metadata: CheckpointMetadata): Promise<void> {
    const checkpointId = metadata.checkpointId;
    const keep = new Set(
      referencedStateFiles(metadata).map((f) => this.pathOf(jobId, checkpointId, f.relativePath)),
    );
    return this.#schedule(`pruning local copies older than checkpoint ${checkpointId}`, async () => {
      this.#forgetWarnings(jobId, checkpointId);
      const jobDirectory = join(this.directory, jobId);
      for (const entry of await this.#list(jobDirectory)) {
        const match = CHECKPOINT_DIRECTORY_PATTERN.exec(entry);
        if (match !== null && Number(match[1]) < checkpointId) await this.#remove(join(jobDirectory, entry));
      }
      const shared = this.#sharedOf(jobId);
      const sharedDirectory = join(jobDirectory, SHARED_DIRECTORY_NAME);
      for (const name of await this.#list(sharedDirectory)) {
        const path = join(sharedDirectory, name);
        const writtenBy = shared.get(name);
        // Unknown names were left by an earlier process of the same job id: old, unless referenced.
        if (keep.has(path) || (writtenBy !== undefined && writtenBy > checkpointId)) continue;
        await this.#remove(path);
        shared.delete(name);
      }
    });
  }

  /** Checkpoint `checkpointId` was aborted: its local copies go once their writes have ended. */
  abort(jobId: string, checkpointId: number): Promise<void> {
    return this.#schedule(`deleting local copies of aborted checkpoint ${checkpointId}`, async () => {
      await Promise.allSettled(this.#inFlight.get(`${jobId}/${checkpointId}`) ?? []);
      await this.#remove(join(this.directory, jobId, `chk-${checkpointId}`));
      const shared = this.#sharedOf(jobId);
      for (const [name, writtenBy] of [...shared]) {
        if (writtenBy !== checkpointId) continue;
        await this.#remove(join(this.directory, jobId, SHARED_DIRECTORY_NAME, name));
        shared.delete(name);
      }
    });
  }

  /** Deletes every local copy of `jobId` (its checkpoints are gone, or a resumed job took over). */
  discardJob(jobId: string): Promise<void> {
    return this.#schedule(`deleting the local copies of job ${jobId}`, async () => {
      for (const [key, writes] of this.#inFlight) {
        if (key.startsWith(`${jobId}/`)) await Promise.allSettled(writes);
      }
      await this.#remove(join(this.directory, jobId));
      this.#sharedWrittenBy.delete(jobId);
    });
  }

  /** Verified reads of the local copies of a completed checkpoint; undefined for savepoints (never copied). */
  reader(metadata: CheckpointMetadata): LocalStateReader | undefined {
    if (metadata.kind !== 'checkpoint') return undefined;
    return new LocalStateReader(metadata, this.#fs, (handle) =>
      this.pathOf(metadata.jobId, metadata.checkpointId, handle.relativePath),
    );
  }

  /** Waits for every deletion asked for so far (tests, and the end of a job). */
  settled(): Promise<void> {
    return this.#housekeeping;
  }

  #sharedOf(jobId: string): Map<string, number> {
    let shared = this.#sharedWrittenBy.get(jobId);
    if (shared === undefined) this.#sharedWrittenBy.set(jobId, (shared = new Map()));
    return shared;
  }

  #copy(jobId: string, checkpointId: number, path: string, bytes: Uint8Array): Promise<void> {
    return this.#tracked(jobId, checkpointId, path, this.#write(path, bytes));
  }

  /** A local copy written part by part: tracked (and its failure logged) like `#copy`. */
  #openCopy(jobId: string, checkpointId: number, path: string): LocalCopySink {
    const outcome = Promise.withResolvers<void>();
    let failure: unknown;
    let file: FileWriteHandle | undefined;
    const opened = this.#directoryOf(path)
      .then(() => this.#fs.openForWriting(path))
      .then(
        (handle) => {
          file = handle;
        },
        (error: unknown) => {
          failure = error;
        },
      );
    const copied = this.#tracked(jobId, checkpointId, path, outcome.promise);
    return {
      write: async (chunk) => {
        await opened;
        if (failure !== undefined) return;
        try {
          await file!.write(chunk);
        } catch (error) {
          failure = error;
        }
      },
      finish: async () => {
        await opened;
        await file?.close().catch((error: unknown) => {
          failure ??= error;
        });
        if (failure === undefined) outcome.resolve();
        else outcome.reject(failure);
        await copied;
      },
      abort: async () => {
        await opened;
        await file?.close().catch(() => undefined);
        await this.#remove(path).catch(() => undefined);
        outcome.resolve();
        await copied;
      },
    };
  }

  /** Registers a local write in flight; on failure removes the partial copy and warns once per checkpoint. */
  #tracked(jobId: string, checkpointId: number, path: string, work: Promise<void>): Promise<void> {
    const key = `${jobId}/${checkpointId}`;
    const write = work.catch(async (error: unknown) => {
      // A partial copy would fail verification anyway; removing it keeps the directory honest.
      await this.#remove(path).catch(() => undefined);
      if (this.#warned.has(key)) return;
      this.#warned.add(key);
      this.#logger.log(
        'warn',
        `local recovery: could not write the local copy ${path}: ${describeError(error)}; a restore from checkpoint ${checkpointId} reads checkpoint storage instead`,
        { job: jobId },
      );
    });
    let writes = this.#inFlight.get(key);
    if (writes === undefined) this.#inFlight.set(key, (writes = new Set()));
    writes.add(write);
    void write.then(() => {
      writes.delete(write);
      if (writes.size === 0 && this.#inFlight.get(key) === writes) this.#inFlight.delete(key);
    });
    return write;
  }

  async #write(path: string, bytes: Uint8Array): Promise<void> {
    await this.#directoryOf(path);
    await this.#fs.writeFile(path, bytes);
  }

  /** Makes the directory of `path`, once per directory unless it failed. */
  #directoryOf(path: string): Promise<void> {
    const directory = join(path, '..');
    let made = this.#directoriesMade.get(directory);
    if (made === undefined) {
      made = this.#fs.mkdir(directory);
      this.#directoriesMade.set(directory, made);
      // A failed mkdir (or a directory deleted since) is retried by the next write.
      made.catch(() => this.#directoriesMade.delete(directory));
    }
    return made;
  }

  /** Bounds the warned set: checkpoints up to `checkpointId` cannot warn again. */
  #forgetWarnings(jobId: string, checkpointId: number): void {
    for (const key of this.#warned) {
      const [job, id] = key.split('/');
      if (job === jobId && Number(id) <= checkpointId) this.#warned.delete(key);
    }
  }

  /** Removes a file or tree; nothing there (also below a file in the way) is fine. */
  async #remove(path: string): Promise<void> {
    try {
      await this.#fs.remove(path);
    } catch (error) {
      if (!isNothingThere(error)) throw error;
    }
  }

  async #list(directory: string): Promise<string[]> {
    try {
      return (await this.#fs.readdir(directory)).map((entry) => entry.name);
    } catch (error) {
      if (isNothingThere(error)) return [];
      throw error;
    }
  }

  #schedule(what: string, work: () => Promise<void>): Promise<void> {
    const run = this.#housekeeping.then(work).catch((error: unknown) => {
      this.#logger.log(
        'warn',
        `local recovery: ${what} in ${this.directory} failed: ${describeError(error)}`,
      );
    });
    // Deleted directories must be made again by later writes.
    this.#housekeeping = run.then(() => this.#directoriesMade.clear());
    return this.#housekeeping;
  }
}
