/** The JSON bodies of the REST API, shaped like Flink's REST responses where Flink has the same resource. */
import type { CheckpointStats } from '../../checkpoint/checkpoint-coordinator.ts';
import type { RegisteredJob, SavepointOperationState } from './job-registry.ts';

/** One row of `GET /jobs/:jobid/checkpoints` `history` (Flink field names; durations in ms). */
export interface CheckpointView {
  readonly id: number;
  readonly status: CheckpointStats['status'];
  readonly is_savepoint: boolean;
  readonly checkpoint_type: 'CHECKPOINT' | 'SAVEPOINT';
  readonly trigger_timestamp: number;
  /** Null until the checkpoint completed. */
  readonly end_to_end_duration: number | null;
  readonly state_size: number;
  /** The longest barrier alignment of any subtask. */
  readonly alignment_duration: number;
  readonly external_path: string | null;
  readonly failure_message: string | null;
}

/** Minimum, maximum and average over the completed checkpoints still in the history. */
export interface SummaryView {
  readonly min: number;
  readonly max: number;
  readonly avg: number;
}

/** `GET /jobs/:jobid/checkpoints`. */
export interface CheckpointStatisticsView {
  readonly counts: {
    readonly total: number;
    readonly in_progress: number;
    readonly completed: number;
    readonly failed: number;
  };
  readonly summary: {
    readonly state_size: SummaryView | null;
    readonly end_to_end_duration: SummaryView | null;
    readonly alignment_duration: SummaryView | null;
  };
  readonly latest: {
    readonly completed: CheckpointView | null;
    readonly savepoint: CheckpointView | null;
    readonly failed: CheckpointView | null;
  };
  /** Newest first, at most the coordinator's history (50 rows). */
  readonly history: readonly CheckpointView[];
}

/** `GET /jobs/:jobid` and the rows of `GET /jobs/overview`. */
export interface JobDetailsView {
  readonly jid: string;
  readonly name: string;
  readonly state: string;
  readonly isStoppable: boolean;
  readonly 'start-time': number;
  /** -1 while the job runs, as in Flink. */
  readonly 'end-time': number;
  readonly duration: number;
  readonly now: number;
  readonly restarts: number;
}

/** `GET /jobs/:jobid/savepoints/:triggerid`, as Flink's asynchronous operation result. */
export interface OperationView {
  readonly status: { readonly id: 'IN_PROGRESS' | 'COMPLETED' };
  readonly operation?:
    | { readonly location: string }
    | { readonly 'failure-cause': { readonly message: string } };
}

/**
 * @example
 * ```ts
 * const body = jobDetailsView(registry.job(jobId)!, Date.now());
 * body.state; // 'RUNNING'
 * ```
 */
export function jobDetailsView(job: RegisteredJob, nowMs: number): JobDetailsView {
  const state = job.client.status();
  return {
    jid: job.client.jobId,
    name: job.client.jobName,
    state,
    isStoppable: state === 'RUNNING',
    'start-time': job.startTimeMs,
    'end-time': job.endTimeMs ?? -1,
    duration: (job.endTimeMs ?? nowMs) - job.startTimeMs,
    now: nowMs,
    restarts: job.client.restarts(),
  };
}

/**
 * @example
 * ```ts
 * const body = checkpointStatisticsView(registry.job(jobId)!);
 * body.latest.completed?.external_path;
 * ```
 */
export function checkpointStatisticsView(job: RegisteredJob): CheckpointStatisticsView {
  // Rows are recorded when a location exists, which is not always in id order.
  const history = [...job.client.checkpointStatistics()].sort((a, b) => b.id - a.id).map(checkpointView);
  const totals = job.tracker.totals();
  const completed = history.filter((row) => row.status === 'COMPLETED');
  return {
    counts: {
      total: totals.completed + totals.failed + totals.inProgress,
      in_progress: totals.inProgress,
      completed: totals.completed,
      failed: totals.failed,
    },
    summary: {
      state_size: summarize(completed.map((row) => row.state_size)),
      end_to_end_duration: summarize(completed.map((row) => row.end_to_end_duration ?? 0)),
      alignment_duration: summarize(completed.map((row) => row.alignment_duration)),
    },
    latest: {
      completed: completed.find((row) => !row.is_savepoint) ?? null,
      savepoint: completed.find((row) => row.is_savepoint) ?? null,
      failed: history.find((row) => row.status === 'FAILED') ?? null,
    },
    history,
  };
}

/**
 * @example
 * ```ts
 * checkpointView(client.checkpointStatistics()[0]).trigger_timestamp;
 * ```
 */
export function checkpointView(stats: CheckpointStats): CheckpointView {
  const completed = stats.status === 'COMPLETED';
  return {
    id: stats.id,
    status: stats.status,
    is_savepoint: stats.kind === 'savepoint',
    checkpoint_type: stats.kind === 'savepoint' ? 'SAVEPOINT' : 'CHECKPOINT',
    trigger_timestamp: stats.triggerTimestampMs,
    end_to_end_duration: completed ? (stats.durationMs ?? null) : null,
    state_size: stats.stateSizeBytes,
    alignment_duration: stats.alignmentDurationMs,
    external_path: completed ? (stats.pointer ?? null) : null,
    failure_message: stats.failureReason ?? null,
  };
}

/**
 * @example
 * ```ts
 * operationView({ status: 'COMPLETED', location: '/sp/savepoint-3f2a-7' });
 * // { status: { id: 'COMPLETED' }, operation: { location: '/sp/savepoint-3f2a-7' } }
 * ```
 */
export function operationView(state: SavepointOperationState): OperationView {
  switch (state.status) {
    case 'IN_PROGRESS':
      return { status: { id: 'IN_PROGRESS' } };
    case 'COMPLETED':
      return { status: { id: 'COMPLETED' }, operation: { location: state.location } };
    case 'FAILED':
      return { status: { id: 'COMPLETED' }, operation: { 'failure-cause': { message: state.message } } };
  }
}

function summarize(values: readonly number[]): SummaryView | null {
  if (values.length === 0) return null;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const value of values) {
    min = Math.min(min, value);
    max = Math.max(max, value);
    sum += value;
  }
  return { min, max, avg: Math.round(sum / values.length) };
}
