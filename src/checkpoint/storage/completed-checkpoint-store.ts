/** Keeps the latest N completed checkpoints, subsumes older ones, and applies the retention policy when the job ends. */
import { ConfigurationError, WeirError } from '../../core/errors.ts';
import { type CheckpointMetadata, referencedStateFiles } from '../snapshot-handles.ts';
import type { CheckpointStorage } from './checkpoint-storage.ts';
import { type SharedStateRegistry, sharedStateKeys } from './shared-state-registry.ts';

/** Default number of completed checkpoints kept (Flink's `state.checkpoints.num-retained`). */
export const RETAINED_CHECKPOINTS_DEFAULT = 1;
/** Upper bound on retained checkpoints, so a typo cannot keep state forever. */
export const RETAINED_CHECKPOINTS_MAX = 1_000;

/**
 * What happens to retained checkpoints when the job is cancelled (externalized checkpoints):
 * RETAIN_ON_CANCELLATION keeps them so the user can resume; DELETE_ON_CANCELLATION deletes them.
 */
export type CheckpointRetention = 'RETAIN_ON_CANCELLATION' | 'DELETE_ON_CANCELLATION';

/** The states in which a job leaves the store (SUSPENDED: the job manager lost the job but another will resume it). */
export type TerminalJobStatus = 'FINISHED' | 'CANCELED' | 'FAILED' | 'SUSPENDED';

/**
 * A checkpoint whose `_metadata` was committed. Structural, so the coordinator's own type
 * (metadata plus the location it was written to) fits; after a restart, `{ metadata, location:
 * { pointer } }` built from `loadMetadata` fits too.
 */
export interface CompletedCheckpoint {
  readonly metadata: CheckpointMetadata;
  readonly location: { readonly pointer: string };
}

/** Options of {@link CompletedCheckpointStore}. */
export interface CompletedCheckpointStoreOptions {
  readonly storage: CheckpointStorage;
  /** The running job: only its own checkpoints are ever deleted. */
  readonly jobId: string;
  /** How many completed checkpoints to keep; default 1, at most 1000. */
  readonly retainedCheckpoints?: number;
  /** Default RETAIN_ON_CANCELLATION (as the coordinator's config). */
  readonly retention?: CheckpointRetention;
  /** Releases the shared files of every checkpoint the store lets go (incremental checkpoints). */
  readonly sharedStateRegistry?: SharedStateRegistry;
}

/** A checkpoint whose files could not be deleted; it is dropped from the store anyway. */
export interface DiscardFailure {
  /** -1 when the failure was cleaning aborted directories or the job directory. */
  readonly checkpointId: number;
  readonly pointer: string;
  readonly error: unknown;
}

/** What {@link CompletedCheckpointStore.addCheckpoint} did besides adding. */
export interface AddCheckpointResult {
  /** Checkpoints dropped because they fell out of the retained window (deleted when owned). */
  readonly subsumed: readonly CompletedCheckpoint[];
  /** Aborted checkpoint directories (no `_metadata`) with lower ids that were deleted. */
  readonly abortedRemoved: readonly number[];
  readonly discardFailures: readonly DiscardFailure[];
}

/** What {@link CompletedCheckpointStore.shutdown} did. */
export interface ShutdownResult {
  readonly discarded: readonly CompletedCheckpoint[];
  /** Still on disk: restore with `--from-checkpoint PATH` or `latest`. */
  readonly retained: readonly CompletedCheckpoint[];
  readonly discardFailures: readonly DiscardFailure[];
}

/**
 * Flink's CompletedCheckpointStore. Adding checkpoint `n` subsumes the oldest checkpoints
 * beyond the retained count and deletes aborted directories below `n` (the coordinator
 * aborts pending checkpoints older than a completed one, as Flink does). On job end, following
 * Flink's retention policies:
 *
 * | job status | RETAIN_ON_CANCELLATION | DELETE_ON_CANCELLATION |
 * |---|---|---|
 * | FINISHED  | delete | delete |
 * | CANCELED  | keep   | delete |
 * | FAILED, SUSPENDED | keep | keep |
 *
 * A checkpoint is deleted only if it is owned: kind `checkpoint` and taken by this job (its
 * metadata's job id). A savepoint or another job's checkpoint that the job was restored from
 * is kept in the window (so a failover before the first checkpoint restores it) but never deleted
 * (Flink's NO_CLAIM mode). Discard failures are reported, not thrown: a leftover directory must
 * not fail the job.
 *
 * @example
 * ```ts
 * const store = new CompletedCheckpointStore({ storage, jobId, retainedCheckpoints: 2 });
 * await location.commitMetadata(metadata);
 * await store.add({ metadata, location });
 * store.latest()?.metadata.checkpointId; // 7
 * await store.shutdown('CANCELED');
 * ```
 */
export class CompletedCheckpointStore {
  readonly #storage: CheckpointStorage;
  readonly #jobId: string;
  readonly #retainedMax: number;
  readonly #retention: CheckpointRetention;
  readonly #registry: SharedStateRegistry | undefined;
  readonly #checkpoints: CompletedCheckpoint[] = [];
  /** Serializes add and shutdown, so deletions never interleave. */
  #queue: Promise<unknown> = Promise.resolve();
  #shutDown = false;

  constructor(options: CompletedCheckpointStoreOptions) {
    const { retainedCheckpoints = RETAINED_CHECKPOINTS_DEFAULT, retention = 'RETAIN_ON_CANCELLATION' } =
      options;
    if (
      !(
        Number.isSafeInteger(retainedCheckpoints) &&
        retainedCheckpoints >= 1 &&
        retainedCheckpoints <= RETAINED_CHECKPOINTS_MAX
      )
    ) {
      throw new ConfigurationError(
        `retained checkpoints must be an integer in [1, ${RETAINED_CHECKPOINTS_MAX}], got ${retainedCheckpoints}`,
      );
    }
    if (retention !== 'RETAIN_ON_CANCELLATION' && retention !== 'DELETE_ON_CANCELLATION') {
      throw new ConfigurationError(
        `checkpoint retention must be RETAIN_ON_CANCELLATION or DELETE_ON_CANCELLATION, got ${String(retention)}`,
      );
    }
    this.#storage = options.storage;
    this.#jobId = options.jobId;
    this.#retainedMax = retainedCheckpoints;
    this.#retention = retention;
    this.#registry = options.sharedStateRegistry;
  }

  /** The newest completed checkpoint: what a failover restores. */
  latest(): CompletedCheckpoint | undefined {
    return this.#checkpoints.at(-1);
  }

  /** The retained checkpoints, oldest first. */
  checkpoints(): readonly CompletedCheckpoint[] {
    return [...this.#checkpoints];
  }

  /**
   * Adds a checkpoint whose `_metadata` is committed. Its id must be greater than every id
   * in the store (checkpoint ids strictly increase); anything else throws, as a bug.
   */
  add(checkpoint: CompletedCheckpoint): Promise<AddCheckpointResult> {
    if (this.#shutDown) {
      return Promise.reject(new WeirError(`checkpoint store of job ${this.#jobId} is shut down`));
    }
    const checkpointId = checkpoint.metadata.checkpointId;
    const latestId = this.latest()?.metadata.checkpointId;
    if (latestId !== undefined && checkpointId <= latestId) {
      return Promise.reject(
        new WeirError(`checkpoint ids must increase: adding ${checkpointId} after ${latestId}`),
      );
    }
    this.#checkpoints.push(checkpoint);
    this.#registry?.register(checkpointId, sharedKeysOf(checkpoint.metadata));
    const subsumed = this.#checkpoints.splice(0, Math.max(0, this.#checkpoints.length - this.#retainedMax));
    return this.#enqueue(async () => {
      const discardFailures = await this.#discardAll(subsumed);
      let abortedRemoved: number[] = [];
      try {
        abortedRemoved = await this.#storage.discardAbortedCheckpoints(this.#jobId, checkpointId);
      } catch (error) {
        discardFailures.push({
          checkpointId: -1,
          pointer: `aborted checkpoints of job ${this.#jobId}`,
          error,
        });
      }
      return { subsumed, abortedRemoved, discardFailures };
    });
  }

  /** Applies the retention policy for the job's final status (see the class table). Idempotent. */
  shutdown(jobStatus: TerminalJobStatus): Promise<ShutdownResult> {
    if (this.#shutDown)
      return Promise.resolve({ discarded: [], retained: this.checkpoints(), discardFailures: [] });
    this.#shutDown = true;
    const deleteAll =
      jobStatus === 'FINISHED' || (jobStatus === 'CANCELED' && this.#retention === 'DELETE_ON_CANCELLATION');
    const discarded = deleteAll ? this.#checkpoints.filter((checkpoint) => this.#owns(checkpoint)) : [];
    const retained = this.#checkpoints.filter((checkpoint) => !discarded.includes(checkpoint));
    return this.#enqueue(async () => {
      const discardFailures = await this.#discardAll(discarded);
      try {
        if (deleteAll) await this.#storage.cleanupJob(this.#jobId);
        else await this.#storage.discardAbortedCheckpoints(this.#jobId);
      } catch (error) {
        discardFailures.push({ checkpointId: -1, pointer: `job directory of ${this.#jobId}`, error });
      }
      return { discarded, retained, discardFailures };
    });
  }

  #owns(checkpoint: CompletedCheckpoint): boolean {
    return checkpoint.metadata.kind === 'checkpoint' && checkpoint.metadata.jobId === this.#jobId;
  }

  async #discardAll(checkpoints: readonly CompletedCheckpoint[]): Promise<DiscardFailure[]> {
    const failures: DiscardFailure[] = [];
    for (const checkpoint of checkpoints) {
      if (!this.#owns(checkpoint)) continue;
      const checkpointId = checkpoint.metadata.checkpointId;
      const pointer = checkpoint.location.pointer;
      try {
        const released = await this.#registry?.release(checkpointId);
        for (const failure of released?.failures ?? []) {
          failures.push({ checkpointId, pointer: failure.key, error: failure.error });
        }
        await this.#storage.discardCheckpoint(pointer);
      } catch (error) {
        failures.push({ checkpointId, pointer, error });
      }
    }
    return failures;
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

function sharedKeysOf(metadata: CheckpointMetadata): string[] {
  return sharedStateKeys(referencedStateFiles(metadata).map((file) => file.relativePath));
}
