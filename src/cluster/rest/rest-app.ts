/** The REST API's routes (Hono): Flink-compatible paths for jobs, checkpoints, savepoints, stop and cancel, plus Prometheus metrics. */
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { isRestId } from './ids.ts';
import {
  isFinalStatus,
  type JobRegistry,
  type RegisteredJob,
  type SavepointOperationKind,
} from './job-registry.ts';
import { checkpointStatisticsView, jobDetailsView, operationView } from './json-views.ts';
import { renderMetrics } from './metrics.ts';
import { validateTargetDirectory } from './target-directory.ts';

/** Request bodies are a few hundred bytes of JSON; anything larger is refused with 413. */
export const REQUEST_BODY_BYTES_MAX = 16 * 1024;

/** Options of {@link createRestApp}. */
export interface RestAppOptions {
  readonly registry: JobRegistry;
  /** Savepoint targets must lie below this directory (relative ones are resolved against it). */
  readonly savepointRoot?: string;
  /** Whether the storage has a default savepoint directory, so a request may omit the target. */
  readonly hasDefaultSavepointDirectory?: boolean;
  readonly logger?: Logger;
}

/** Loopback names a browser would send as Host when it talks to this server; anything else is DNS rebinding. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The REST API as a Hono app (serve it with {@link startRestServer}). Errors are JSON
 * `{ "errors": ["…"] }` as in Flink. Every input is validated before use: job and trigger ids
 * must be 32 hexadecimal characters, savepoint target directories go through
 * {@link validateTargetDirectory}, bodies must be JSON objects of at most
 * {@link REQUEST_BODY_BYTES_MAX} bytes sent as `application/json` (which also keeps other web
 * pages from posting to it), and the Host header must name the loopback interface.
 *
 * @example
 * ```ts
 * const app = createRestApp({ registry });
 * const response = await app.request('http://127.0.0.1/jobs');
 * await response.json(); // { jobs: [{ id: '3f2a…', status: 'RUNNING' }] }
 * ```
 */
export function createRestApp(options: RestAppOptions): Hono {
  const { registry } = options;
  const app = new Hono();

  app.use('*', async (c, next) => {
    if (!isLoopbackHost(c.req.header('host'))) {
      return fail(c, 403, 'the Host header must name the loopback interface (127.0.0.1 or localhost)');
    }
    await next();
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: REQUEST_BODY_BYTES_MAX,
      onError: (c) => fail(c, 413, `request body larger than ${REQUEST_BODY_BYTES_MAX} bytes`),
    }),
  );

  app.get('/jobs', (c) =>
    c.json({ jobs: registry.jobs().map((job) => ({ id: job.client.jobId, status: job.client.status() })) }),
  );
  app.get('/jobs/overview', (c) => {
    const now = Date.now();
    return c.json({ jobs: registry.jobs().map((job) => jobDetailsView(job, now)) });
  });
  app.get('/jobs/:jobid', (c) => withJob(c, registry, (job) => c.json(jobDetailsView(job, Date.now()))));
  app.patch('/jobs/:jobid', (c) =>
    withJob(c, registry, (job) => {
      const mode = c.req.query('mode') ?? 'cancel';
      if (mode !== 'cancel') return fail(c, 400, `unsupported mode '${mode}': use mode=cancel`);
      if (isFinalStatus(job.client.status())) return notRunning(c, job);
      void job.client.cancel();
      return c.json({}, 202);
    }),
  );
  app.get('/jobs/:jobid/checkpoints', (c) =>
    withJob(c, registry, (job) => c.json(checkpointStatisticsView(job))),
  );
  app.post('/jobs/:jobid/savepoints', (c) =>
    withJob(c, registry, async (job) => {
      const body = await readJsonObject(c);
      if (!body.ok) return fail(c, body.status, body.message);
      const cancelJob = body.value['cancel-job'] ?? false;
      if (typeof cancelJob !== 'boolean') return fail(c, 400, "'cancel-job' must be true or false");
      const kind = cancelJob ? 'cancel-with-savepoint' : 'savepoint';
      return startOperation(c, options, job, kind, body.value['target-directory'], 'target-directory');
    }),
  );
  app.get('/jobs/:jobid/savepoints/:triggerid', (c) =>
    withJob(c, registry, (job) => {
      const triggerId = c.req.param('triggerid');
      if (!isRestId(triggerId)) return fail(c, 400, 'a trigger id is 32 hexadecimal characters');
      const state = registry.operation(job.client.jobId, triggerId);
      if (state === undefined) return fail(c, 404, `no savepoint operation ${triggerId} for this job`);
      return c.json(operationView(state));
    }),
  );
  app.post('/jobs/:jobid/stop', (c) =>
    withJob(c, registry, async (job) => {
      const body = await readJsonObject(c);
      if (!body.ok) return fail(c, body.status, body.message);
      const drain = body.value.drain ?? false;
      if (drain !== false) return fail(c, 400, "'drain' is not supported: omit it or send false");
      return startOperation(
        c,
        options,
        job,
        'stop-with-savepoint',
        body.value.targetDirectory,
        'targetDirectory',
      );
    }),
  );
  app.get('/metrics', (c) => {
    registry.refreshRunning();
    return c.text(renderMetrics(registry.jobs(), Date.now()), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    });
  });

  app.notFound((c) => fail(c, 404, 'Not found: no such REST resource'));
  app.onError((error, c) => {
    options.logger?.log('error', `REST request failed: ${describeError(error)}`, {
      method: c.req.method,
      path: c.req.path,
    });
    return fail(c, 500, 'internal server error');
  });
  return app;
}

function startOperation(
  c: Context,
  options: RestAppOptions,
  job: RegisteredJob,
  kind: SavepointOperationKind,
  rawTarget: unknown,
  field: string,
): Response {
  let target: string | undefined;
  if (rawTarget === undefined || rawTarget === null) {
    if (options.hasDefaultSavepointDirectory !== true) {
      return fail(c, 400, `'${field}' is required: no default savepoint directory is configured`);
    }
  } else {
    const check = validateTargetDirectory(rawTarget, { savepointRoot: options.savepointRoot });
    if (!check.ok) return fail(c, 400, `'${field}': ${check.message}`);
    target = check.path;
  }
  if (job.client.status() !== 'RUNNING') return notRunning(c, job);
  const triggerId = options.registry.startSavepoint(job.client.jobId, kind, target);
  if (triggerId === undefined) return fail(c, 429, 'too many savepoint operations in progress; retry later');
  return c.json({ 'request-id': triggerId }, 202);
}

async function withJob(
  c: Context,
  registry: JobRegistry,
  handle: (job: RegisteredJob) => Response | Promise<Response>,
): Promise<Response> {
  const jobId = c.req.param('jobid') ?? '';
  if (!isRestId(jobId)) return fail(c, 400, 'a job id is 32 hexadecimal characters');
  const job = registry.job(jobId);
  if (job === undefined) return fail(c, 404, `job ${jobId} not found`);
  return handle(job);
}

type JsonObjectResult =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly status: ContentfulStatusCode; readonly message: string };

async function readJsonObject(c: Context): Promise<JsonObjectResult> {
  const contentType = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    return { ok: false, status: 415, message: 'send the request body as Content-Type: application/json' };
  }
  const text = await c.req.text();
  if (text.trim().length === 0) return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, status: 400, message: `the request body is not valid JSON: ${describeError(error)}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, status: 400, message: 'the request body must be a JSON object' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function notRunning(c: Context, job: RegisteredJob): Response {
  return fail(c, 409, `job ${job.client.jobId} is ${job.client.status()}, not RUNNING`);
}

function fail(c: Context, status: ContentfulStatusCode, message: string): Response {
  return c.json({ errors: [message] }, status);
}

function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return LOOPBACK_HOSTS.has(name.toLowerCase());
}
