/** The jobs a REST server serves, with their start and end times, checkpoint totals and asynchronous savepoint operations. */
import { describeError } from '../../core/errors.ts';
import type { JobClient, JobStatus } from '../job-client.ts';
import { CheckpointTracker } from './checkpoint-tracker.ts';
import { newTriggerId } from './ids.ts';

/** Savepoint operations remembered for status queries; the oldest finished ones are forgotten first. */
export const OPERATIONS_RETAINED_MAX = 100;
/** More concurrent savepoint operations than this are refused (HTTP 429). */
export const OPERATIONS_IN_PROGRESS_MAX = 8;
/** How often running jobs' checkpoint statistics are folded into their totals. */
export const TRACKER_REFRESH_INTERVAL_MS = 1000;

/** One job as the REST API sees it. */
export interface RegisteredJob {
  readonly client: JobClient;
  readonly startTimeMs: number;
  /** Set once the job reached a final status. */
  readonly endTimeMs: number | undefined;
  readonly tracker: CheckpointTracker;
}

/** What an asynchronous savepoint operation asks for. */
export type SavepointOperationKind = 'savepoint' | 'cancel-with-savepoint' | 'stop-with-savepoint';

/** The state of a savepoint operation, as `GET /jobs/:jobid/savepoints/:triggerid` reports it. */
export type SavepointOperationState =
  | { readonly status: 'IN_PROGRESS' }
  | { readonly status: 'COMPLETED'; readonly location: string }
  | { readonly status: 'FAILED'; readonly message: string };

interface Operation {
  readonly jobId: string;
  state: SavepointOperationState;
  /** A client saw the final state: `weir run` may exit without leaving a `weir savepoint` waiting. */
  fetched: boolean;
}

interface MutableJob {
  readonly client: JobClient;
  readonly startTimeMs: number;
  endTimeMs: number | undefined;
  readonly tracker: CheckpointTracker;
}

const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['FINISHED', 'FAILED', 'CANCELED']);

/** Whether a job in `status` will never change status again. */
export function isFinalStatus(status: JobStatus): boolean {
  return FINAL_STATUSES.has(status);
}

/**
 * Holds the served jobs. Register each job as it starts (an environment's job listener does);
 * start savepoints through it so their results can be polled by trigger id.
 *
 * @example
 * ```ts
 * const registry = new JobRegistry();
 * env.registerJobListener({ onJobSubmitted: (client) => registry.register(client) });
 * const triggerId = registry.startSavepoint(jobId, 'savepoint', '/var/sp');
 * registry.operation(jobId, triggerId); // { status: 'IN_PROGRESS' } … { status: 'COMPLETED', location }
 * ```
 */
export class JobRegistry {
  readonly #jobs = new Map<string, MutableJob>();
  readonly #operations = new Map<string, Operation>();
  readonly #refresh: NodeJS.Timeout;

  constructor() {
    this.#refresh = setInterval(() => this.refreshRunning(), TRACKER_REFRESH_INTERVAL_MS);
    this.#refresh.unref();
  }

  register(client: JobClient): void {
    const job: MutableJob = {
      client,
      startTimeMs: Date.now(),
      endTimeMs: undefined,
      tracker: new CheckpointTracker(),
    };
    this.#jobs.set(client.jobId, job);
    const ended = (): void => {
      job.endTimeMs = Date.now();
      job.tracker.refresh(client.checkpointStatistics());
    };
    client.result().then(ended, ended);
  }

  jobs(): readonly RegisteredJob[] {
    return [...this.#jobs.values()];
  }

  /** The job with this id, its checkpoint totals brought up to date. */
  job(jobId: string): RegisteredJob | undefined {
    const job = this.#jobs.get(jobId);
    job?.tracker.refresh(job.client.checkpointStatistics());
    return job;
  }

  refreshRunning(): void {
    for (const job of this.#jobs.values()) {
      if (job.endTimeMs === undefined) job.tracker.refresh(job.client.checkpointStatistics());
    }
  }

  /**
   * Starts a savepoint (then cancels or stops the job if asked); returns the trigger id to poll,
   * or undefined when {@link OPERATIONS_IN_PROGRESS_MAX} operations are already in progress.
   */
  startSavepoint(
    jobId: string,
    kind: SavepointOperationKind,
    targetDirectory: string | undefined,
  ): string | undefined {
    const job = this.#jobs.get(jobId);
    if (job === undefined) throw new RangeError(`job ${jobId} is not registered`);
    let inProgress = 0;
    for (const operation of this.#operations.values())
      if (operation.state.status === 'IN_PROGRESS') inProgress++;
    if (inProgress >= OPERATIONS_IN_PROGRESS_MAX) return undefined;
    const triggerId = newTriggerId();
    const operation: Operation = { jobId, state: { status: 'IN_PROGRESS' }, fetched: false };
    this.#remember(triggerId, operation);
    runOperation(job.client, kind, targetDirectory).then(
      (location) => {
        operation.state = { status: 'COMPLETED', location };
      },
      (error: unknown) => {
        operation.state = { status: 'FAILED', message: describeError(error) };
      },
    );
    return triggerId;
  }

  /** The state of an operation of this job, or undefined for an unknown (or forgotten) trigger id. */
  operation(jobId: string, triggerId: string): SavepointOperationState | undefined {
    const operation = this.#operations.get(triggerId);
    if (operation === undefined || operation.jobId !== jobId) return undefined;
    if (operation.state.status !== 'IN_PROGRESS') operation.fetched = true;
    return operation.state;
  }

  /** Operations whose outcome no client has fetched yet (in progress, or finished but unread). */
  unfetchedOperations(): number {
    let count = 0;
    for (const operation of this.#operations.values()) if (!operation.fetched) count++;
    return count;
  }

  close(): void {
    clearInterval(this.#refresh);
  }

  #remember(triggerId: string, operation: Operation): void {
    this.#operations.set(triggerId, operation);
    if (this.#operations.size <= OPERATIONS_RETAINED_MAX) return;
    for (const [id, candidate] of this.#operations) {
      if (candidate.state.status !== 'IN_PROGRESS') {
        this.#operations.delete(id);
        return;
      }
    }
  }
}

async function runOperation(
  client: JobClient,
  kind: SavepointOperationKind,
  targetDirectory: string | undefined,
): Promise<string> {
  if (kind === 'stop-with-savepoint') return client.stopWithSavepoint(targetDirectory);
  const location = await client.triggerSavepoint(targetDirectory);
  if (kind === 'cancel-with-savepoint') await client.cancel();
  return location;
}
