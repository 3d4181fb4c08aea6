/** `weir list`, `savepoint`, `cancel`, `stop` and `checkpoints`: talk to a running job's REST API. */
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { formatBytes } from '../checkpoint/inspect/inspect-checkpoint.ts';
import type { CheckpointStatisticsView, JobDetailsView } from '../cluster/rest/json-views.ts';
import { OPERATION_POLL_INTERVAL_MS, RestClient, RestRequestError } from '../cluster/rest/rest-client.ts';
import { ConfigurationError, WeirError } from '../core/errors.ts';
import { formatDuration, formatTable, formatTimestamp } from './format.ts';
import { listRestAddresses, readRestAddress } from './rest-address-file.ts';

/** How a command finds the REST API: an address, or the checkpoint directory a job advertises itself in. */
export interface AddressOptions {
  readonly address?: string;
  readonly checkpointDir?: string;
}

/** Where a command writes; tests pass their own. */
export interface Output {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const FINAL_STATES = new Set(['FINISHED', 'FAILED', 'CANCELED']);

/** The client for `jobId`: from `--address`, else from `DIR/<job-id>/rest-address`. */
export async function clientFor(jobId: string, options: AddressOptions): Promise<RestClient> {
  if (options.address !== undefined) return new RestClient(options.address);
  if (options.checkpointDir === undefined) {
    throw new ConfigurationError(
      'pass --address URL (weir run prints it) or --checkpoint-dir DIR (the job writes DIR/<job-id>/rest-address)',
    );
  }
  const address = await readRestAddress(resolve(options.checkpointDir), jobId);
  if (address === undefined) {
    throw new WeirError(
      `no REST address for job ${jobId} in ${resolve(options.checkpointDir)}: is it running with --checkpoint-dir ${options.checkpointDir}?`,
    );
  }
  return new RestClient(address);
}

/** `weir list`: the jobs behind an address, or behind every address advertised in a checkpoint directory. */
export async function listJobs(
  options: AddressOptions & { readonly json?: boolean },
  io: Output,
): Promise<number> {
  let jobs: JobDetailsView[];
  if (options.address !== undefined) {
    jobs = [...(await new RestClient(options.address).listJobs())];
  } else if (options.checkpointDir !== undefined) {
    jobs = [];
    const seen = new Set<string>();
    for (const advertised of await listRestAddresses(resolve(options.checkpointDir))) {
      if (seen.has(advertised.address)) continue;
      seen.add(advertised.address);
      try {
        for (const job of await new RestClient(advertised.address).listJobs()) {
          if (!jobs.some((known) => known.jid === job.jid)) jobs.push(job);
        }
      } catch (error) {
        if (!(error instanceof RestRequestError) || error.status !== undefined) throw error;
        io.err(
          `skipping ${advertised.file}: nothing answers at ${advertised.address} (the job ended or was killed)\n`,
        );
      }
    }
  } else {
    await clientFor('', options); // Throws the usage error.
    return 2;
  }
  if (options.json === true) {
    io.out(`${JSON.stringify({ jobs }, null, 2)}\n`);
    return 0;
  }
  if (jobs.length === 0) {
    io.out('No jobs.\n');
    return 0;
  }
  const rows = [['JOB ID', 'NAME', 'STATUS', 'STARTED', 'DURATION', 'RESTARTS']];
  for (const job of jobs) {
    rows.push([
      job.jid,
      job.name,
      job.state,
      formatTimestamp(job['start-time']),
      formatDuration(job.duration),
      String(job.restarts),
    ]);
  }
  io.out(`${formatTable(rows).join('\n')}\n`);
  return 0;
}

/** `weir savepoint JOBID [TARGETDIR]`: triggers a savepoint, waits for it, prints its path. */
export async function savepoint(
  jobId: string,
  targetDirectory: string | undefined,
  options: AddressOptions & { readonly timeout?: number },
  io: Output,
): Promise<number> {
  const client = await clientFor(jobId, options);
  io.err(`Triggering savepoint for job ${jobId}.\n`);
  const triggerId = await client.triggerSavepoint(jobId, { targetDirectory: absolute(targetDirectory) });
  const location = await client.awaitOperation(jobId, triggerId, options.timeout);
  io.out(`Savepoint completed. Path: ${location}\n`);
  return 0;
}

/** `weir cancel JOBID [--with-savepoint [DIR]]`. */
export async function cancel(
  jobId: string,
  options: AddressOptions & { readonly withSavepoint?: string | boolean; readonly timeout?: number },
  io: Output,
): Promise<number> {
  const client = await clientFor(jobId, options);
  if (options.withSavepoint !== undefined && options.withSavepoint !== false) {
    const target = options.withSavepoint === true ? undefined : absolute(options.withSavepoint);
    io.err(`Cancelling job ${jobId} with a savepoint.\n`);
    const triggerId = await client.triggerSavepoint(jobId, { targetDirectory: target, cancelJob: true });
    const location = await client.awaitOperation(jobId, triggerId, options.timeout);
    io.out(`Cancelled job ${jobId}. Savepoint stored in ${location}\n`);
    return 0;
  }
  await client.cancel(jobId);
  const state = await awaitFinalState(client, jobId);
  io.out(`Cancelled job ${jobId}.${state === undefined ? '' : ` Status: ${state}`}\n`);
  return 0;
}

/** `weir stop JOBID [--savepoint-path DIR]`: a final savepoint, then the job ends. */
export async function stop(
  jobId: string,
  options: AddressOptions & { readonly savepointPath?: string; readonly timeout?: number },
  io: Output,
): Promise<number> {
  const client = await clientFor(jobId, options);
  io.err(`Suspending job ${jobId} with a savepoint.\n`);
  const triggerId = await client.stop(jobId, absolute(options.savepointPath));
  const location = await client.awaitOperation(jobId, triggerId, options.timeout);
  io.out(`Stopped job ${jobId}. Savepoint completed. Path: ${location}\n`);
  return 0;
}

/** `weir checkpoints JOBID`: counts, the latest completed checkpoint, and the history as a table. */
export async function checkpoints(
  jobId: string,
  options: AddressOptions & { readonly json?: boolean },
  io: Output,
): Promise<number> {
  const view = await (await clientFor(jobId, options)).checkpoints(jobId);
  io.out(options.json === true ? `${JSON.stringify(view, null, 2)}\n` : formatCheckpoints(jobId, view));
  return 0;
}

/** The text of `weir checkpoints`. */
export function formatCheckpoints(jobId: string, view: CheckpointStatisticsView): string {
  const { counts, latest } = view;
  const lines = [
    `job ${jobId}: ${counts.completed} completed, ${counts.failed} failed, ${counts.in_progress} in progress`,
    `latest completed: ${latest.completed === null ? 'none' : `${latest.completed.id} at ${latest.completed.external_path}`}`,
  ];
  if (view.history.length === 0) return `${lines.join('\n')}\n`;
  const rows = [['ID', 'TYPE', 'STATUS', 'TRIGGERED', 'DURATION', 'SIZE', 'ALIGNMENT', 'PATH / FAILURE']];
  for (const row of view.history) {
    rows.push([
      String(row.id),
      row.is_savepoint ? 'savepoint' : 'checkpoint',
      row.status,
      formatTimestamp(row.trigger_timestamp),
      formatDuration(row.end_to_end_duration),
      formatBytes(row.state_size),
      formatDuration(row.alignment_duration),
      row.failure_message ?? row.external_path ?? '',
    ]);
  }
  lines.push('', ...formatTable(rows));
  return `${lines.join('\n')}\n`;
}

/** After a cancel request: polls until the job reached a final status, or its process (and server) went away. */
async function awaitFinalState(client: RestClient, jobId: string): Promise<string | undefined> {
  for (;;) {
    let state: string;
    try {
      state = (await client.job(jobId)).state;
    } catch (error) {
      if (error instanceof RestRequestError && (error.status === undefined || error.status === 404))
        return undefined;
      throw error;
    }
    if (FINAL_STATES.has(state)) return state;
    await delay(OPERATION_POLL_INTERVAL_MS);
  }
}

function absolute(path: string | undefined): string | undefined {
  return path === undefined ? undefined : resolve(path);
}
