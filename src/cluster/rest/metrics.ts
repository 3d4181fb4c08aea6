/** `GET /metrics`: job status, restarts and checkpoint counts, durations and sizes in the Prometheus text format. */
import type { CheckpointStats } from '../../checkpoint/checkpoint-coordinator.ts';
import type { JobStatus } from '../job-client.ts';
import type { RegisteredJob } from './job-registry.ts';

const JOB_STATUSES: readonly JobStatus[] = [
  'CREATED',
  'RUNNING',
  'RESTARTING',
  'FINISHED',
  'FAILED',
  'CANCELED',
];

interface Family {
  readonly name: string;
  readonly type: 'gauge' | 'counter' | 'summary';
  readonly help: string;
  readonly samples: string[];
}

/**
 * Renders the metrics of every job (Prometheus text exposition format 0.0.4). Durations are in
 * seconds and sizes in bytes, as Prometheus conventions ask; checkpoint counters include
 * savepoints (label `kind`).
 *
 * @example
 * ```ts
 * const text = renderMetrics(registry.jobs(), Date.now());
 * // weir_job_restarts_total{job_id="3f2a…",job_name="wordcount"} 0
 * ```
 */
export function renderMetrics(jobs: readonly RegisteredJob[], nowMs: number): string {
  const family = (name: string, type: Family['type'], help: string): Family => ({
    name,
    type,
    help,
    samples: [],
  });
  const status = family(
    'weir_job_status',
    'gauge',
    'The job status: 1 for the current status, 0 for the others.',
  );
  const uptime = family('weir_job_uptime_seconds', 'gauge', 'Time since the job started (until it ended).');
  const restarts = family('weir_job_restarts_total', 'counter', 'Restarts after failures.');
  const checkpoints = family(
    'weir_checkpoints_total',
    'counter',
    'Checkpoints and savepoints that ended, by outcome.',
  );
  const inProgress = family('weir_checkpoints_in_progress', 'gauge', 'Checkpoints and savepoints in flight.');
  const duration = family(
    'weir_checkpoint_duration_seconds',
    'summary',
    'Trigger to completion, completed ones.',
  );
  const size = family(
    'weir_checkpoint_state_size_bytes',
    'summary',
    'State written by completed checkpoints.',
  );
  const alignment = family(
    'weir_checkpoint_alignment_seconds',
    'summary',
    'Longest barrier alignment per checkpoint.',
  );
  const lastDuration = family(
    'weir_checkpoint_last_duration_seconds',
    'gauge',
    'Duration of the latest completed checkpoint.',
  );
  const lastSize = family(
    'weir_checkpoint_last_state_size_bytes',
    'gauge',
    'State size of the latest completed checkpoint.',
  );
  const lastId = family(
    'weir_checkpoint_last_completed_id',
    'gauge',
    'Id of the latest completed checkpoint.',
  );
  for (const job of jobs) {
    const labels = `job_id="${escapeLabel(job.client.jobId)}",job_name="${escapeLabel(job.client.jobName)}"`;
    const current = job.client.status();
    for (const candidate of JOB_STATUSES) {
      status.samples.push(`{${labels},status="${candidate}"} ${candidate === current ? 1 : 0}`);
    }
    uptime.samples.push(`{${labels}} ${seconds((job.endTimeMs ?? nowMs) - job.startTimeMs)}`);
    restarts.samples.push(`{${labels}} ${job.client.restarts()}`);
    const totals = job.tracker.totals();
    checkpoints.samples.push(`{${labels},outcome="completed"} ${totals.completed}`);
    checkpoints.samples.push(`{${labels},outcome="failed"} ${totals.failed}`);
    inProgress.samples.push(`{${labels}} ${totals.inProgress}`);
    duration.samples.push(
      `_sum{${labels}} ${seconds(totals.durationMsSum)}`,
      `_count{${labels}} ${totals.completed}`,
    );
    size.samples.push(`_sum{${labels}} ${totals.stateSizeBytesSum}`, `_count{${labels}} ${totals.completed}`);
    alignment.samples.push(
      `_sum{${labels}} ${seconds(totals.alignmentDurationMsSum)}`,
      `_count{${labels}} ${totals.completed}`,
    );
    let latest: CheckpointStats | undefined;
    for (const row of job.client.checkpointStatistics()) {
      if (row.status === 'COMPLETED' && row.kind === 'checkpoint' && row.id > (latest?.id ?? -1))
        latest = row;
    }
    if (latest !== undefined) {
      lastDuration.samples.push(`{${labels}} ${seconds(latest.durationMs ?? 0)}`);
      lastSize.samples.push(`{${labels}} ${latest.stateSizeBytes}`);
      lastId.samples.push(`{${labels}} ${latest.id}`);
    }
  }
  const families = [status, uptime, restarts, checkpoints, inProgress, duration, size, alignment];
  families.push(lastDuration, lastSize, lastId);
  const lines: string[] = [];
  for (const { name, type, help, samples } of families) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const sample of samples) lines.push(`${name}${sample}`);
  }
  return `${lines.join('\n')}\n`;
}

function seconds(ms: number): string {
  return String(ms / 1000);
}

/** Label values escape backslash, double quote and newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
