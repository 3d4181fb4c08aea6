/** Where to resume: `--from-checkpoint latest|PATH` and `--from-savepoint PATH`, verified, with fallback to an older intact checkpoint. */
import { join, resolve } from 'node:path';
import type { CheckpointMetadata, StateFileHandle } from '../snapshot-handles.ts';
import { CheckpointIOError } from './checkpoint-errors.ts';
import { type CheckpointFileSystem, NodeCheckpointFileSystem } from './checkpoint-file-system.ts';
import type { CheckpointStorage } from './checkpoint-storage.ts';
import { checkpointDirectoryOf, listCheckpointDirectories } from './directory-tree.ts';
import { FileSystemCheckpointStorage, nodePathContext } from './file-system-checkpoint-storage.ts';
import { METADATA_FILE_NAME } from './state-file-names.ts';
import { loadMetadataAsValue, verifyCheckpointFiles } from './verify-checkpoint.ts';

/** `latest` examines at most this many job directories of a checkpoint directory. */
export const JOB_DIRECTORIES_SCANNED_MAX = 1_000;
/** `latest` verifies at most this many checkpoints before giving up (each read in full). */
export const CHECKPOINTS_VERIFIED_MAX = 100;
/** A warning lists at most this many problems of one damaged checkpoint. */
const PROBLEMS_PER_WARNING_MAX = 3;

/** What the user asked to resume from. */
export type RestoreRequest =
  | {
      /** `--from-checkpoint latest --checkpoint-dir DIR`. */
      readonly kind: 'latest';
      readonly checkpointDirectory: string;
      /** Only this job's directory; default every job directory in `checkpointDirectory`. */
      readonly jobId?: string;
      /** Skip checkpoints whose metadata names another job. */
      readonly jobName?: string;
    }
  | {
      /** `--from-checkpoint PATH` or `--from-savepoint PATH`: a directory or its `_metadata` file. */
      readonly kind: 'path';
      readonly path: string;
      /** The job being started: a different name in the metadata adds a warning. */
      readonly jobName?: string;
    };

/** A verified checkpoint or savepoint to restore. */
export interface RestorePoint {
  /** The checkpoint directory: pass it with each handle to `storage.readFile`. */
  readonly pointer: string;
  readonly metadata: CheckpointMetadata;
  /** Reads this restore point's state files, verified. */
  readonly storage: CheckpointStorage;
}

/** A checkpoint skipped because it is damaged. */
export interface DamagedCheckpoint {
  readonly pointer: string;
  readonly problems: readonly string[];
}

/** The outcome of {@link resolveRestorePoint}. */
export type RestorePointResolution =
  | {
      readonly status: 'resolved';
      readonly restorePoint: RestorePoint;
      /** For the log: damaged checkpoints skipped, another job's state. */
      readonly warnings: readonly string[];
      readonly damaged: readonly DamagedCheckpoint[];
      /**
       * The highest checkpoint id seen (restored, damaged, or aborted in the same job directory):
       * the resumed job should number its checkpoints above it.
       */
      readonly highestCheckpointIdSeen: number;
    }
  | { readonly status: 'not-found'; readonly message: string }
  | { readonly status: 'damaged'; readonly message: string; readonly damaged: readonly DamagedCheckpoint[] };

/** Options of {@link resolveRestorePoint}. */
export interface ResolveRestorePointOptions {
  readonly fileSystem?: CheckpointFileSystem;
  /**
   * Local recovery: true when an intact local copy of the file exists. Such a file is not
   * read from checkpoint storage to verify it, since the restore will read the local copy.
   */
  readonly localCopyIntact?: LocalCopyCheck;
}

/** Whether a verified local copy of `handle` of the checkpoint described by `metadata` exists. */
export type LocalCopyCheck = (metadata: CheckpointMetadata, handle: StateFileHandle) => Promise<boolean>;

/**
 * Finds and verifies what to restore. Every candidate's `_metadata` (magic, version, checksum,
 * structure) and every state file it references (size and CRC-32C) are checked before it is
 * chosen.
 *
 * `latest` looks in `DIR/<job-id>/chk-<n>`. Without `jobId`, job directories are ordered by
 * the modification time of their newest `_metadata`, newest first (a resumed job gets a new
 * job id, so its directory is the most recently written); within a job, checkpoints go from the
 * highest id down. A damaged checkpoint is skipped with a warning such as
 * `checkpoint chk-7 is damaged (/ck/j/chk-7/x.keyed: checksum mismatch (…)); restoring chk-6 instead`,
 * and the search continues into older job directories.
 *
 * A path is restored only if intact: no fallback, because the user named it. A checkpoint or
 * savepoint of another job is accepted (state maps by operator uid): check
 * `metadata.jobId` / `metadata.jobName`.
 *
 * @example
 * ```ts
 * const resolution = await resolveRestorePoint({ kind: 'latest', checkpointDirectory: dir });
 * if (resolution.status !== 'resolved') throw new Error(resolution.message);
 * for (const warning of resolution.warnings) log.warn(warning);
 * const { pointer, metadata, storage } = resolution.restorePoint;
 * ```
 */
export async function resolveRestorePoint(
  request: RestoreRequest,
  options: ResolveRestorePointOptions = {},
): Promise<RestorePointResolution> {
  const fileSystem = options.fileSystem ?? new NodeCheckpointFileSystem();
  return request.kind === 'latest'
    ? resolveLatest(request, fileSystem, options.localCopyIntact)
    : resolvePath(request.path, request.jobName, fileSystem, options.localCopyIntact);
}

async function resolvePath(
  path: string,
  jobName: string | undefined,
  fileSystem: CheckpointFileSystem,
  localCopyIntact: LocalCopyCheck | undefined,
): Promise<RestorePointResolution> {
  const directory = resolve(checkpointDirectoryOf(nodePathContext(fileSystem), resolve(path)));
  const storage = new FileSystemCheckpointStorage(directory, { fileSystem });
  const exists = await fileSystem.stat(directory).catch((error) => {
    throw new CheckpointIOError('stat', directory, error);
  });
  if (exists === undefined) return { status: 'not-found', message: `${path} does not exist` };
  const loaded = await loadMetadataAsValue(storage, directory);
  if (loaded.status === 'not-found') {
    return {
      status: 'not-found',
      message: `${directory} holds no ${METADATA_FILE_NAME}: not a completed checkpoint or savepoint (an aborted checkpoint, or the wrong directory)`,
    };
  }
  const verification =
    loaded.status === 'loaded'
      ? await verifyCheckpointFiles(
          storage,
          directory,
          loaded.metadata,
          localSkip(localCopyIntact, loaded.metadata),
        )
      : loaded;
  if (verification.status === 'damaged') {
    const damaged = [{ pointer: directory, problems: verification.problems }];
    return {
      status: 'damaged',
      message: `cannot restore ${directory}: ${verification.problems.join('; ')}`,
      damaged,
    };
  }
  if (verification.status !== 'intact') return { status: 'not-found', message: verification.message };
  const { metadata } = verification;
  const warnings: string[] = [];
  if (jobName !== undefined && metadata.jobName !== jobName) {
    warnings.push(
      `restoring the ${metadata.kind} of job '${metadata.jobName}' (${metadata.jobId}) into job '${jobName}': state is matched by operator uid`,
    );
  }
  return {
    status: 'resolved',
    restorePoint: { pointer: directory, metadata, storage },
    warnings,
    damaged: [],
    highestCheckpointIdSeen: metadata.checkpointId,
  };
}

interface Candidate {
  readonly jobId: string;
  readonly checkpointId: number;
  readonly pointer: string;
}

async function resolveLatest(
  request: Extract<RestoreRequest, { kind: 'latest' }>,
  fileSystem: CheckpointFileSystem,
  localCopyIntact: LocalCopyCheck | undefined,
): Promise<RestorePointResolution> {
  const root = resolve(request.checkpointDirectory);
  const storage = new FileSystemCheckpointStorage(root, { fileSystem });
  const { candidates, highestIdByJob } = await listCandidates(storage, fileSystem, request.jobId);
  const where = request.jobId === undefined ? root : `${join(root, request.jobId)}`;
  if (candidates.length === 0) return { status: 'not-found', message: `no completed checkpoint in ${where}` };
  const multipleJobs = highestIdByJob.size > 1;
  const label = (candidate: Candidate): string =>
    multipleJobs
      ? `chk-${candidate.checkpointId} of job ${candidate.jobId}`
      : `chk-${candidate.checkpointId}`;
  const damaged: (DamagedCheckpoint & { candidate: Candidate })[] = [];
  const otherJobNames = new Set<string>();
  for (const candidate of candidates.slice(0, CHECKPOINTS_VERIFIED_MAX)) {
    const loaded = await loadMetadataAsValue(storage, candidate.pointer);
    if (
      loaded.status === 'loaded' &&
      request.jobName !== undefined &&
      loaded.metadata.jobName !== request.jobName
    ) {
      otherJobNames.add(loaded.metadata.jobName);
      continue;
    }
    const verification =
      loaded.status === 'loaded'
        ? await verifyCheckpointFiles(
            storage,
            candidate.pointer,
            loaded.metadata,
            localSkip(localCopyIntact, loaded.metadata),
          )
        : loaded;
    if (verification.status === 'damaged' || verification.status === 'not-found') {
      const problems = verification.status === 'damaged' ? verification.problems : [verification.message];
      damaged.push({ pointer: candidate.pointer, problems, candidate });
      continue;
    }
    const warnings = damaged.map(
      (entry) =>
        `checkpoint ${label(entry.candidate)} is damaged (${summarize(entry.problems)}); restoring ${label(candidate)} instead`,
    );
    return {
      status: 'resolved',
      restorePoint: { pointer: candidate.pointer, metadata: verification.metadata, storage },
      warnings,
      damaged: damaged.map(({ pointer, problems }) => ({ pointer, problems })),
      highestCheckpointIdSeen: Math.max(candidate.checkpointId, highestIdByJob.get(candidate.jobId) ?? 0),
    };
  }
  const skipped =
    otherJobNames.size > 0
      ? `; skipped checkpoints of other jobs: ${[...otherJobNames]
          .sort()
          .map((n) => `'${n}'`)
          .join(', ')}`
      : '';
  if (damaged.length === 0) {
    return {
      status: 'not-found',
      message: `no completed checkpoint of job '${request.jobName}' in ${where}${skipped}`,
    };
  }
  const list = damaged.map((entry) => `${label(entry.candidate)} (${summarize(entry.problems)})`).join(', ');
  return {
    status: 'damaged',
    message: `no intact checkpoint in ${where}: ${list}${skipped}`,
    damaged: damaged.map(({ pointer, problems }) => ({ pointer, problems })),
  };
}

/** Completed checkpoints, most promising first; and the highest id (completed or aborted) per job. */
async function listCandidates(
  storage: FileSystemCheckpointStorage,
  fileSystem: CheckpointFileSystem,
  jobId: string | undefined,
): Promise<{ candidates: Candidate[]; highestIdByJob: Map<string, number> }> {
  const jobIds =
    jobId === undefined ? (await storage.listJobIds()).slice(0, JOB_DIRECTORIES_SCANNED_MAX) : [jobId];
  const paths = nodePathContext(fileSystem);
  const jobs: { jobId: string; ids: number[]; newestMs: number }[] = [];
  const highestIdByJob = new Map<string, number>();
  for (const id of jobIds) {
    const { completed, aborted } = await listCheckpointDirectories(paths, storage.jobDirectory(id));
    if (completed.length === 0) continue;
    highestIdByJob.set(id, Math.max(completed.at(-1)!, aborted.at(-1) ?? 0));
    const newestMetadata = join(storage.checkpointPointer(id, completed.at(-1)!), METADATA_FILE_NAME);
    const info = await fileSystem.stat(newestMetadata).catch(() => undefined);
    jobs.push({ jobId: id, ids: completed, newestMs: info?.modifiedMs ?? 0 });
  }
  jobs.sort((a, b) => b.newestMs - a.newestMs || (a.jobId < b.jobId ? -1 : 1));
  const candidates = jobs.flatMap((job) =>
    [...job.ids].reverse().map((checkpointId) => ({
      jobId: job.jobId,
      checkpointId,
      pointer: storage.checkpointPointer(job.jobId, checkpointId),
    })),
  );
  return { candidates, highestIdByJob };
}

function summarize(problems: readonly string[]): string {
  const shown = problems.slice(0, PROBLEMS_PER_WARNING_MAX).join('; ');
  const more = problems.length - PROBLEMS_PER_WARNING_MAX;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}

function localSkip(
  check: LocalCopyCheck | undefined,
  metadata: CheckpointMetadata,
): ((handle: StateFileHandle) => Promise<boolean>) | undefined {
  return check === undefined ? undefined : (handle) => check(metadata, handle);
}
