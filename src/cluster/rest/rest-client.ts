/** A client of the REST API for the CLI: typed calls, Flink-style error bodies turned into errors, polling of savepoint operations. */
import { setTimeout as delay } from 'node:timers/promises';
import { describeError, WeirError } from '../../core/errors.ts';
import type { CheckpointStatisticsView, JobDetailsView, OperationView } from './json-views.ts';

/** One request gives up after this long. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Pause between two polls of a savepoint operation. */
export const OPERATION_POLL_INTERVAL_MS = 100;
/** Waiting for a savepoint operation gives up after this long by default. */
export const OPERATION_TIMEOUT_MS_DEFAULT = 10 * 60_000;

/** A request failed: the server answered with an error (`status`), or could not be reached (`status` undefined). */
export class RestRequestError extends WeirError {
  override name = 'RestRequestError';
  readonly status: number | undefined;

  constructor(message: string, status: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/**
 * @example
 * ```ts
 * const client = new RestClient('http://127.0.0.1:8081');
 * const triggerId = await client.triggerSavepoint(jobId, { targetDirectory: '/var/sp' });
 * const location = await client.awaitOperation(jobId, triggerId);
 * ```
 */
export class RestClient {
  readonly address: string;

  constructor(address: string) {
    this.address = address.replace(/\/+$/, '');
  }

  async listJobs(): Promise<readonly JobDetailsView[]> {
    const body = (await this.#request('GET', '/jobs/overview')) as { jobs: JobDetailsView[] };
    return body.jobs;
  }

  job(jobId: string): Promise<JobDetailsView> {
    return this.#request('GET', `/jobs/${encodeURIComponent(jobId)}`) as Promise<JobDetailsView>;
  }

  checkpoints(jobId: string): Promise<CheckpointStatisticsView> {
    return this.#request(
      'GET',
      `/jobs/${encodeURIComponent(jobId)}/checkpoints`,
    ) as Promise<CheckpointStatisticsView>;
  }

  /** Starts a savepoint (and a cancellation after it, if asked); resolves with the trigger id. */
  async triggerSavepoint(
    jobId: string,
    options: { readonly targetDirectory?: string; readonly cancelJob?: boolean } = {},
  ): Promise<string> {
    const body = (await this.#request('POST', `/jobs/${encodeURIComponent(jobId)}/savepoints`, {
      'target-directory': options.targetDirectory,
      'cancel-job': options.cancelJob ?? false,
    })) as { 'request-id': string };
    return body['request-id'];
  }

  /** Starts stop-with-savepoint; resolves with the trigger id. */
  async stop(jobId: string, targetDirectory?: string): Promise<string> {
    const body = (await this.#request('POST', `/jobs/${encodeURIComponent(jobId)}/stop`, {
      targetDirectory,
    })) as { 'request-id': string };
    return body['request-id'];
  }

  operation(jobId: string, triggerId: string): Promise<OperationView> {
    return this.#request(
      'GET',
      `/jobs/${encodeURIComponent(jobId)}/savepoints/${encodeURIComponent(triggerId)}`,
    ) as Promise<OperationView>;
  }

  /** Polls until the operation finished; resolves with the savepoint's location, rejects with its failure. */
  async awaitOperation(
    jobId: string,
    triggerId: string,
    timeoutMs = OPERATION_TIMEOUT_MS_DEFAULT,
  ): Promise<string> {
    const deadlineMs = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.operation(jobId, triggerId);
      if (view.status.id === 'COMPLETED') {
        const operation = view.operation;
        if (operation !== undefined && 'location' in operation) return operation.location;
        const cause = operation?.['failure-cause'].message ?? 'no reason given';
        throw new RestRequestError(`savepoint failed: ${cause}`, undefined);
      }
      if (Date.now() >= deadlineMs) {
        throw new RestRequestError(
          `savepoint ${triggerId} still in progress after ${timeoutMs} ms; poll GET /jobs/${jobId}/savepoints/${triggerId}`,
          undefined,
        );
      }
      await delay(OPERATION_POLL_INTERVAL_MS);
    }
  }

  async cancel(jobId: string): Promise<void> {
    await this.#request('PATCH', `/jobs/${encodeURIComponent(jobId)}?mode=cancel`);
  }

  async #request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = `${this.address}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const reason = describeError((error as { cause?: unknown }).cause ?? error);
      throw new RestRequestError(
        `cannot reach the Weir REST API at ${this.address} (${reason}); is the job still running?`,
        undefined,
        { cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? {} : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const errors = (parsed as { errors?: unknown } | undefined)?.errors;
      const message = Array.isArray(errors) ? errors.join('; ') : text.slice(0, 200);
      throw new RestRequestError(`${method} ${path}: ${response.status} ${message}`, response.status);
    }
    if (parsed === undefined) {
      throw new RestRequestError(`${method} ${path}: the response is not JSON`, response.status);
    }
    return parsed;
  }
}
