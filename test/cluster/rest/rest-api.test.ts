/** The REST API against real running jobs: every route, Flink-shaped bodies, and refusal of hostile input (ids, paths, bodies, Host). */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamExecutionEnvironment } from '../../../src/api/environment.ts';
import type { JobClient } from '../../../src/cluster/job-client.ts';
import { JobRegistry } from '../../../src/cluster/rest/job-registry.ts';
import type { CheckpointStatisticsView, OperationView } from '../../../src/cluster/rest/json-views.ts';
import { createRestApp, REQUEST_BODY_BYTES_MAX } from '../../../src/cluster/rest/rest-app.ts';
import { type RestServer, startRestServer } from '../../../src/cluster/rest/rest-server.ts';
import { SILENT_LOGGER } from '../../../src/core/logger.ts';
import { TRAVERSAL_PAYLOADS } from './payloads.ts';

const UNKNOWN_JOB = '0123456789abcdef0123456789abcdef';
const POLL_MS = 20;

let dir: string;
let registry: JobRegistry;
let server: RestServer;
const clients: JobClient[] = [];

/** A savepoint racing periodic checkpoints is retried once it expired after this long. */
const CHECKPOINT_TIMEOUT_MS = 3_000;
const SAVEPOINT_ATTEMPTS_MAX = 3;

/**
 * An unbounded, rate-limited keyed job registered with the server; with `periodic`, a
 * checkpoint every 50 ms. Savepoints are taken of jobs without periodic checkpoints except
 * where the test is about both (see {@link savepointRetrying}).
 */
function startJob(name: string, periodic = true): JobClient {
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    // Tolerate failed checkpoints: under load two checkpoints can overlap despite maxConcurrent 1
    // (a coordinator bug, reported), and a failed one must not restart the job mid-test.
    checkpointing: {
      ...(periodic ? { intervalMs: 50 } : {}),
      tolerableConsecutiveFailures: 1_000,
      timeoutMs: CHECKPOINT_TIMEOUT_MS,
    },
    checkpointStorage: join(dir, 'checkpoints'),
    logger: SILENT_LOGGER,
  });
  env
    .fromGenerator({ ratePerSecond: 1000, generate: (index) => index })
    .uid('numbers')
    .keyBy((n) => n % 8)
    .reduce((a, b) => a + b)
    .uid('sums')
    .filter(() => false)
    .print();
  const client = env.executeAsync(name);
  client.result().catch(() => {});
  registry.register(client);
  clients.push(client);
  return client;
}

interface RawResponse {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  json(): unknown;
}

/** A request with the path sent exactly as given (fetch would normalize `..` segments) and any headers. */
function raw(
  method: string,
  path: string,
  options: { readonly headers?: Record<string, string>; readonly body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, method, path, headers: options.headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text,
            json: () => JSON.parse(text),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const postJson = (path: string, body: unknown): Promise<RawResponse> =>
  raw('POST', path, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function awaitOperation(jobId: string, triggerId: string): Promise<OperationView> {
  for (;;) {
    const view = (await raw('GET', `/jobs/${jobId}/savepoints/${triggerId}`)).json() as OperationView;
    if (view.status.id === 'COMPLETED') return view;
    await delay(POLL_MS);
  }
}

/**
 * Triggers a savepoint and waits for it, retrying when it expired: the coordinator can inject a
 * periodic checkpoint's barrier ahead of a savepoint's with a lower id, and tasks then ignore the
 * savepoint's barrier (a runtime bug, reported; the REST layer only reports what it is told).
 */
async function savepointRetrying(jobId: string, body: unknown): Promise<OperationView> {
  for (let attempt = 1; ; attempt++) {
    const response = await postJson(`/jobs/${jobId}/savepoints`, body);
    expect(response.status, response.text).toBe(202);
    const triggerId = (response.json() as { 'request-id': string })['request-id'];
    expect(triggerId).toMatch(/^[0-9a-f]{32}$/);
    const view = await awaitOperation(jobId, triggerId);
    const failed = view.operation !== undefined && 'failure-cause' in view.operation;
    if (!failed || attempt === SAVEPOINT_ATTEMPTS_MAX || !JSON.stringify(view).includes('expired'))
      return view;
  }
}

async function awaitCompletedCheckpoints(jobId: string, count: number): Promise<CheckpointStatisticsView> {
  for (;;) {
    const view = (await raw('GET', `/jobs/${jobId}/checkpoints`)).json() as CheckpointStatisticsView;
    if (view.counts.completed >= count) return view;
    await delay(POLL_MS);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weir-rest-'));
  registry = new JobRegistry();
  server = await startRestServer({ registry, port: 0, logger: SILENT_LOGGER });
});

afterAll(async () => {
  for (const client of clients) await client.cancel();
  registry.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('REST API of running jobs', () => {
  let job: JobClient;
  beforeAll(() => {
    job = startJob('rest-api-test');
  });

  it('binds 127.0.0.1 on a free port and prints that address', () => {
    expect(server.address).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
  });

  it('GET /jobs lists id and status', async () => {
    const response = await fetch(`${server.address}/jobs`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { jobs: { id: string; status: string }[] };
    expect(body.jobs).toContainEqual({ id: job.jobId, status: 'RUNNING' });
  });

  it('GET /jobs/overview and /jobs/:jobid give name, state, start time, duration and restarts', async () => {
    const overview = (await (await fetch(`${server.address}/jobs/overview`)).json()) as {
      jobs: { jid: string }[];
    };
    expect(overview.jobs.map((j) => j.jid)).toContain(job.jobId);
    const details = (await (await fetch(`${server.address}/jobs/${job.jobId}`)).json()) as Record<
      string,
      unknown
    >;
    expect(details).toMatchObject({
      jid: job.jobId,
      name: 'rest-api-test',
      state: 'RUNNING',
      isStoppable: true,
      'end-time': -1,
      restarts: 0,
    });
    expect(details['start-time']).toBeLessThanOrEqual(details.now as number);
    expect(details.duration).toBeGreaterThanOrEqual(0);
  });

  it('GET /jobs/:jobid/checkpoints: counts, latest completed with its path, history newest first', async () => {
    const view = await awaitCompletedCheckpoints(job.jobId, 2);
    expect(view.counts.total).toBe(view.counts.completed + view.counts.failed + view.counts.in_progress);
    const latest = view.latest.completed!;
    expect(latest).toMatchObject({ status: 'COMPLETED', is_savepoint: false, checkpoint_type: 'CHECKPOINT' });
    expect(latest.state_size).toBeGreaterThan(0);
    expect(latest.end_to_end_duration).toBeGreaterThanOrEqual(0);
    expect(latest.alignment_duration).toBeGreaterThanOrEqual(0);
    expect(latest.external_path).toMatch(new RegExp(`/${job.jobId}/chk-${latest.id}$`));
    expect(latest.failure_message).toBeNull();
    const ids = view.history.map((row) => row.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    for (const row of view.history) expect(typeof row.trigger_timestamp).toBe('number');
    expect(view.summary.state_size?.max).toBeGreaterThan(0);
  });

  it('POST /jobs/:jobid/savepoints returns a trigger id; polling it yields the location', async () => {
    const target = join(dir, 'savepoints');
    const view = await savepointRetrying(job.jobId, { 'target-directory': target, 'cancel-job': false });
    const location = (view.operation as { location: string }).location;
    expect(location.startsWith(`${target}/`)).toBe(true);
    expect(existsSync(join(location, '_metadata'))).toBe(true);
    const stats = (await raw('GET', `/jobs/${job.jobId}/checkpoints`)).json() as CheckpointStatisticsView;
    expect(stats.latest.savepoint?.external_path).toBe(location);
    expect(job.status()).toBe('RUNNING');
  });

  it('a savepoint without target and without a default directory is refused with 400', async () => {
    const response = await postJson(`/jobs/${job.jobId}/savepoints`, {});
    expect(response.status).toBe(400);
    expect(response.json()).toEqual({
      errors: ["'target-directory' is required: no default savepoint directory is configured"],
    });
  });

  it.each(TRAVERSAL_PAYLOADS)(
    'savepoint target %j is refused with 400 before any file is touched',
    async (payload, fragment) => {
      const response = await postJson(`/jobs/${job.jobId}/savepoints`, { 'target-directory': payload });
      expect(response.status).toBe(400);
      const { errors } = response.json() as { errors: string[] };
      expect(errors[0]).toContain(fragment);
      const stop = await postJson(`/jobs/${job.jobId}/stop`, { targetDirectory: payload });
      expect(stop.status).toBe(400);
      expect(job.status()).toBe('RUNNING');
    },
  );

  it.each([
    ['xyz', 400],
    [UNKNOWN_JOB, 404],
    [UNKNOWN_JOB.toUpperCase(), 400],
    ['..%2f..%2f..%2fetc%2fpasswd', 400],
    ['..%252f..%252fetc%252fpasswd', 400],
    // The WHATWG URL parser treats %2e%2e as a '..' segment and removes it: no route matches.
    ['%2e%2e', 404],
    ['%2e%2e%2f%2e%2e%2fetc', 400],
    ['%00', 400],
  ])('job id %j in the URL: %i, for every job route', async (id, status) => {
    for (const [method, suffix] of [
      ['GET', ''],
      ['GET', '/checkpoints'],
      ['PATCH', '?mode=cancel'],
      ['GET', `/savepoints/${UNKNOWN_JOB}`],
    ]) {
      const response = await raw(method, `/jobs/${id}${suffix}`);
      expect(response.status, `${method} /jobs/${id}${suffix}`).toBe(status);
      expect(response.contentType).toContain('application/json');
      expect((response.json() as { errors: string[] }).errors).toHaveLength(1);
    }
    const post = await postJson(`/jobs/${id}/savepoints`, { 'target-directory': '/tmp/x' });
    expect(post.status).toBe(status);
  });

  it.each([
    '/jobs/../../../../etc/passwd',
    '/jobs/%2e%2e/%2e%2e/etc/passwd',
    '/jobmanager/logs/..%252f..%252f..%252f..%252fetc%252fpasswd',
    '/jobmanager/logs/..%2f..%2f..%2fetc%2fpasswd',
    '/../../../../etc/passwd',
    '/jars/upload',
    '/nothing-here',
  ])('the path %j gets a JSON error, never a file', async (path) => {
    for (const method of ['GET', 'POST']) {
      const response = await raw(method, path);
      expect(response.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.contentType).toContain('application/json');
      expect(response.text).not.toContain('root:');
    }
  });

  it('unknown routes are 404 with a JSON error', async () => {
    const response = await raw('GET', '/does/not/exist');
    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ errors: ['Not found: no such REST resource'] });
  });

  it('trigger ids are validated: malformed 400, unknown 404', async () => {
    expect((await raw('GET', `/jobs/${job.jobId}/savepoints/..%2f..%2fetc`)).status).toBe(400);
    expect((await raw('GET', `/jobs/${job.jobId}/savepoints/${UNKNOWN_JOB}`)).status).toBe(404);
  });

  it(`request bodies over ${REQUEST_BODY_BYTES_MAX} bytes are refused with 413`, async () => {
    const body = JSON.stringify({ 'target-directory': `/tmp/${'a'.repeat(REQUEST_BODY_BYTES_MAX)}` });
    const response = await raw('POST', `/jobs/${job.jobId}/savepoints`, {
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(413);
    expect((response.json() as { errors: string[] }).errors[0]).toContain(`${REQUEST_BODY_BYTES_MAX} bytes`);
  });

  it.each([
    [
      'text/plain (what a cross-site form can send)',
      { 'content-type': 'text/plain' },
      '{"target-directory":"/tmp/x"}',
      415,
    ],
    ['no content type', {}, '{"target-directory":"/tmp/x"}', 415],
    ['invalid JSON', { 'content-type': 'application/json' }, '{"target-directory":', 400],
    ['a JSON array', { 'content-type': 'application/json' }, '["/tmp/x"]', 400],
    ['a JSON string', { 'content-type': 'application/json' }, '"/tmp/x"', 400],
    [
      'cancel-job not a boolean',
      { 'content-type': 'application/json' },
      '{"target-directory":"/tmp/x","cancel-job":"yes"}',
      400,
    ],
  ])('a savepoint body with %s is refused', async (_what, headers, body, status) => {
    const response = await raw('POST', `/jobs/${job.jobId}/savepoints`, { headers, body });
    expect(response.status).toBe(status);
    expect((response.json() as { errors: string[] }).errors).toHaveLength(1);
  });

  it.each(['evil.example', 'evil.example:8081', '127.0.0.1.evil.example', '10.0.0.1'])(
    'a request with Host %j (DNS rebinding) is refused with 403',
    async (host) => {
      const response = await raw('GET', '/jobs', { headers: { host } });
      expect(response.status).toBe(403);
    },
  );

  it.each([`127.0.0.1:${0}`, 'localhost', 'LOCALHOST:1234', '[::1]:8081'])(
    'Host %j is accepted',
    async (host) => {
      expect((await raw('GET', '/jobs', { headers: { host } })).status).toBe(200);
    },
  );

  it('PATCH with another mode than cancel is refused', async () => {
    const response = await raw('PATCH', `/jobs/${job.jobId}?mode=stop`);
    expect(response.status).toBe(400);
    expect(job.status()).toBe('RUNNING');
  });

  it('stop with drain is refused (not supported)', async () => {
    const response = await postJson(`/jobs/${job.jobId}/stop`, {
      targetDirectory: join(dir, 'sp'),
      drain: true,
    });
    expect(response.status).toBe(400);
  });

  it('GET /metrics: Prometheus text with status, restarts and checkpoint counts, durations and sizes', async () => {
    await awaitCompletedCheckpoints(job.jobId, 1);
    const response = await fetch(`${server.address}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await response.text();
    const labels = `job_id="${job.jobId}",job_name="rest-api-test"`;
    expect(text).toContain(`weir_job_status{${labels},status="RUNNING"} 1`);
    expect(text).toContain(`weir_job_restarts_total{${labels}} 0`);
    expect(text).toContain('# TYPE weir_checkpoints_total counter');
    const completed = Number(
      new RegExp(`weir_checkpoints_total\\{${labels},outcome="completed"\\} (\\d+)`).exec(text)?.[1],
    );
    expect(completed).toBeGreaterThanOrEqual(1);
    expect(text).toContain(`weir_checkpoint_duration_seconds_count{${labels}} ${completed}`);
    expect(text).toMatch(new RegExp(`weir_checkpoint_state_size_bytes_sum\\{${labels}\\} [1-9]\\d*`));
    expect(text).toMatch(new RegExp(`weir_checkpoint_last_completed_id\\{${labels}\\} \\d+`));
    for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) {
      expect(line).toMatch(/^weir_[a-z_]+(\{[^}]*\})? -?\d+(\.\d+)?(e-?\d+)?$/);
    }
  });
});

describe('REST API ending jobs', () => {
  it('POST /jobs/:jobid/stop takes a final savepoint and finishes the job', async () => {
    const job = startJob('stop-test', false);
    const target = join(dir, 'stop-savepoints');
    const response = await postJson(`/jobs/${job.jobId}/stop`, { targetDirectory: target });
    expect(response.status, response.text).toBe(202);
    const view = await awaitOperation(job.jobId, (response.json() as { 'request-id': string })['request-id']);
    const location = (view.operation as { location: string }).location;
    expect(existsSync(join(location, '_metadata'))).toBe(true);
    const result = await job.result();
    expect(result.savepointPath).toBe(location);
    expect(job.status()).toBe('FINISHED');
    const details = (await raw('GET', `/jobs/${job.jobId}`)).json() as Record<string, unknown>;
    expect(details.state).toBe('FINISHED');
    expect(details['end-time']).toBeGreaterThanOrEqual(details['start-time'] as number);
  });

  it('PATCH /jobs/:jobid?mode=cancel cancels (202); then savepoints and cancel are 409', async () => {
    const job = startJob('cancel-test');
    const response = await raw('PATCH', `/jobs/${job.jobId}?mode=cancel`);
    expect(response.status).toBe(202);
    await expect(job.result()).rejects.toThrow(/was cancelled/);
    expect(job.status()).toBe('CANCELED');
    expect((await raw('PATCH', `/jobs/${job.jobId}?mode=cancel`)).status).toBe(409);
    const savepoint = await postJson(`/jobs/${job.jobId}/savepoints`, {
      'target-directory': join(dir, 'late'),
    });
    expect(savepoint.status).toBe(409);
    expect((savepoint.json() as { errors: string[] }).errors[0]).toBe(
      `job ${job.jobId} is CANCELED, not RUNNING`,
    );
  });

  it('a savepoint with cancel-job: true completes, then cancels the job', async () => {
    const job = startJob('cancel-with-savepoint-test', false);
    const response = await postJson(`/jobs/${job.jobId}/savepoints`, {
      'target-directory': join(dir, 'cancel-savepoints'),
      'cancel-job': true,
    });
    expect(response.status).toBe(202);
    const view = await awaitOperation(job.jobId, (response.json() as { 'request-id': string })['request-id']);
    expect(existsSync(join((view.operation as { location: string }).location, '_metadata'))).toBe(true);
    await expect(job.result()).rejects.toThrow(/was cancelled/);
    expect(job.status()).toBe('CANCELED');
  });
});

describe('REST API with a savepoint root', () => {
  it('resolves relative targets under the root and refuses targets outside it', async () => {
    const rootRegistry = new JobRegistry();
    const app = createRestApp({ registry: rootRegistry, savepointRoot: join(dir, 'root') });
    const job = startJob('root-test', false);
    rootRegistry.register(job);
    const post = (target: string) =>
      app.request(`http://127.0.0.1/jobs/${job.jobId}/savepoints`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', host: '127.0.0.1' },
        body: JSON.stringify({ 'target-directory': target }),
      });
    const outside = await post(join(dir, 'elsewhere'));
    expect(outside.status).toBe(400);
    const inside = await post('nightly');
    expect(inside.status).toBe(202);
    const triggerId = ((await inside.json()) as { 'request-id': string })['request-id'];
    for (;;) {
      const view = (await (
        await app.request(`http://127.0.0.1/jobs/${job.jobId}/savepoints/${triggerId}`, {
          headers: { host: '127.0.0.1' },
        })
      ).json()) as OperationView;
      if (view.status.id === 'COMPLETED') {
        expect(
          (view.operation as { location: string }).location.startsWith(join(dir, 'root', 'nightly')),
        ).toBe(true);
        break;
      }
      await delay(POLL_MS);
    }
    rootRegistry.close();
  });
});
