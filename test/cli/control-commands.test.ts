/** `weir list/checkpoints/savepoint/cancel/stop/inspect` end to end against a `weir run` child, and the usage errors of every command. */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackgroundRun, FIXTURES, requireBuild, show, startWeir, weir } from './support.ts';

const UNBOUNDED = `${FIXTURES}/unbounded-job.ts`;

let dir: string;
const running: BackgroundRun[] = [];

beforeAll(async () => {
  requireBuild();
  dir = await mkdtemp(join(tmpdir(), 'weir-cli-'));
});

afterAll(async () => {
  for (const run of running) run.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function background(...args: string[]): BackgroundRun {
  const run = startWeir(...args);
  running.push(run);
  return run;
}

const pathOf = (stdout: string): string => /Path: (\S+)/.exec(stdout)?.[1] ?? '';

describe('controlling a running job', () => {
  let run: BackgroundRun;
  let checkpointDir: string;
  let address: string;
  let jobId: string;

  beforeAll(async () => {
    checkpointDir = join(dir, 'controlled');
    run = background(
      'run',
      UNBOUNDED,
      '-p',
      '2',
      '--rest-port',
      '0',
      '--checkpoint-dir',
      checkpointDir,
      '--checkpoint-interval',
      '100',
      '--savepoint-dir',
      join(dir, 'default-savepoints'),
    );
    address = await run.address();
    jobId = await run.jobId();
    await run.waitForStderrCount(/completed checkpoint \d+ /g, 2);
  });

  it('logs its REST address and job id, and writes the address next to the checkpoints', async () => {
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(jobId).toMatch(/^[0-9a-f]{32}$/);
    expect((await readFile(join(checkpointDir, jobId, 'rest-address'), 'utf8')).trim()).toBe(address);
  });

  it('weir list --address and --checkpoint-dir show the running job', async () => {
    for (const where of [
      ['--address', address],
      ['--checkpoint-dir', checkpointDir],
    ]) {
      const result = await weir('list', ...where);
      expect(result.code, show(result)).toBe(0);
      expect(result.stdout).toMatch(/JOB ID\s+NAME\s+STATUS\s+STARTED\s+DURATION\s+RESTARTS/);
      expect(result.stdout).toMatch(new RegExp(`${jobId}\\s+unbounded-job\\s+RUNNING\\s`));
    }
    const json = await weir('list', '--address', address, '--json');
    expect(json.code, show(json)).toBe(0);
    expect(JSON.parse(json.stdout).jobs).toContainEqual(
      expect.objectContaining({ jid: jobId, state: 'RUNNING' }),
    );
  });

  it('weir checkpoints shows counts, the latest completed checkpoint and the history', async () => {
    const result = await weir('checkpoints', jobId, '--checkpoint-dir', checkpointDir);
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^job ${jobId}: \\d+ completed, \\d+ failed, \\d+ in progress`));
    expect(result.stdout).toMatch(new RegExp(`latest completed: \\d+ at ${checkpointDir}/${jobId}/chk-\\d+`));
    expect(result.stdout).toMatch(
      /ID\s+TYPE\s+STATUS\s+TRIGGERED\s+DURATION\s+SIZE\s+ALIGNMENT\s+PATH \/ FAILURE/,
    );
    expect(result.stdout).toMatch(/\d+\s+checkpoint\s+COMPLETED\s/);
    const json = await weir('checkpoints', jobId, '--address', address, '--json');
    expect(json.code, show(json)).toBe(0);
    expect(JSON.parse(json.stdout).counts.completed).toBeGreaterThanOrEqual(2);
  });

  it('weir savepoint JOBID DIR waits and prints the path; weir inspect reads it', async () => {
    const result = await weir('savepoint', jobId, join(dir, 'savepoints'), '--address', address);
    expect(result.code, show(result)).toBe(0);
    expect(result.stderr).toContain(`Triggering savepoint for job ${jobId}.`);
    const path = pathOf(result.stdout);
    expect(path.startsWith(join(dir, 'savepoints'))).toBe(true);
    expect(existsSync(join(path, '_metadata'))).toBe(true);

    const inspected = await weir('inspect', path);
    expect(inspected.code, show(inspected)).toBe(0);
    expect(inspected.stdout).toMatch(/^savepoint \d+ of job 'unbounded-job'/);
    expect(inspected.stdout).toMatch(/operator 'Keyed Reduce'\s+(uid 'sums'|id sums)\s+parallelism 2/);
    expect(inspected.stdout).toMatch(/sums-0\.keyed\s+\d+ B\s+OK/);
    expect(inspected.stdout).toMatch(/verification\s+\d+ OK, 0 FAILED/);

    // A flipped byte in a copy: inspect names the file and exits 1.
    const copy = join(dir, 'damaged-savepoint');
    await cp(path, copy, { recursive: true });
    const stateFile = (await readdir(copy)).find((name) => name !== '_metadata')!;
    const bytes = await readFile(join(copy, stateFile));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(join(copy, stateFile), bytes);
    const damaged = await weir('inspect', copy);
    expect(damaged.code, show(damaged)).toBe(1);
    expect(damaged.stdout).toContain(`${stateFile}`);
    expect(damaged.stdout).toContain('FAILED');
    expect(damaged.stderr).toContain('failed verification');
  });

  it('weir savepoint without a target uses the --savepoint-dir of weir run', async () => {
    const result = await weir('savepoint', jobId, '--checkpoint-dir', checkpointDir);
    expect(result.code, show(result)).toBe(0);
    expect(pathOf(result.stdout).startsWith(join(dir, 'default-savepoints'))).toBe(true);
  });

  it('a traversal target is refused by the server: exit 1 with its reason', async () => {
    const result = await weir('savepoint', jobId, '/tmp/..%2f..%2fetc', '--address', address);
    expect(result.code, show(result)).toBe(1);
    expect(result.stderr).toContain(
      "400 'target-directory': target directory must not contain a '..' segment",
    );
  });

  it('an unknown job is a 404, exit 1', async () => {
    const result = await weir('checkpoints', '0123456789abcdef0123456789abcdef', '--address', address);
    expect(result.code, show(result)).toBe(1);
    expect(result.stderr).toContain('404 job 0123456789abcdef0123456789abcdef not found');
  });

  it('weir cancel ends the job; weir run exits non-zero saying so and removes its address file', async () => {
    const result = await weir('cancel', jobId, '--checkpoint-dir', checkpointDir);
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toContain(`Cancelled job ${jobId}.`);
    const exit = await run.exit;
    expect(exit.code, run.stderr()).toBe(1);
    expect(run.stderr()).toContain(`job 'unbounded-job' (${jobId}) was cancelled`);
    expect(existsSync(join(checkpointDir, jobId, 'rest-address'))).toBe(false);
    const listed = await weir('list', '--checkpoint-dir', checkpointDir);
    expect(listed.code, show(listed)).toBe(0);
    expect(listed.stdout).toBe('No jobs.\n');
  });
});

describe.concurrent('ending a job', () => {
  it('weir cancel --with-savepoint DIR: savepoint first, then the job is cancelled', async ({ expect }) => {
    // No periodic checkpoints: a savepoint alone never races a checkpoint's barrier.
    const run = background('run', UNBOUNDED);
    const address = await run.address();
    const jobId = await run.jobId();
    const result = await weir(
      'cancel',
      jobId,
      '--with-savepoint',
      join(dir, 'cancel-savepoints'),
      '--address',
      address,
    );
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^Cancelled job ${jobId}\\. Savepoint stored in ${dir}/cancel-savepoints/\\S+`),
    );
    expect(existsSync(join(pathOf(result.stdout.replace('stored in', 'Path:')), '_metadata'))).toBe(true);
    expect((await run.exit).code).toBe(1);
  });

  it('weir stop: a final savepoint, and weir run exits 0', async ({ expect }) => {
    const jobId = 'feedc0de'.repeat(4);
    const checkpointDir = join(dir, 'stopped');
    const run = background('run', UNBOUNDED, '--checkpoint-dir', checkpointDir, '--job-id', jobId);
    expect(await run.jobId()).toBe(jobId);
    await run.waitForStderr(/REST API listening/);
    const result = await weir(
      'stop',
      jobId,
      '--savepoint-path',
      join(dir, 'stop-savepoints'),
      '--checkpoint-dir',
      checkpointDir,
    );
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toContain(
      `Stopped job ${jobId}. Savepoint completed. Path: ${dir}/stop-savepoints/`,
    );
    expect(existsSync(join(pathOf(result.stdout), '_metadata'))).toBe(true);
    const exit = await run.exit;
    expect(exit.code, run.stderr()).toBe(0);
  });

  it.for([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s cancels the job gracefully and exits %i', async ([signal, code], { expect }) => {
    const run = background('run', UNBOUNDED, '--checkpoint-interval', '100');
    await run.waitForStderr(/completed checkpoint \d+ /);
    run.child.kill(signal);
    const exit = await run.exit;
    expect(exit.code, run.stderr()).toBe(code);
    expect(run.stderr()).toContain(`received ${signal}: cancelling the job`);
  });
});

describe.concurrent('usage errors exit 2 with what to fix', () => {
  it.for([
    [['--from-checkpoint', 'latest'], '--from-checkpoint latest needs --checkpoint-dir DIR'],
    [['--checkpoint-interval', '0'], "--checkpoint-interval must be a positive integer, got '0'"],
    [['--checkpoint-interval', '-5'], "--checkpoint-interval must be a positive integer, got '-5'"],
    [['--checkpoint-interval', '1.5'], "--checkpoint-interval must be a positive integer, got '1.5'"],
    [['--checkpoint-interval', 'often'], "--checkpoint-interval must be a positive integer, got 'often'"],
    [['--mode', 'twice'], 'Allowed choices are exactly-once, at-least-once'],
    [
      ['--from-savepoint', '/a', '--from-checkpoint', '/b'],
      'pass either --from-savepoint or --from-checkpoint',
    ],
    [['--state-backend', 'rocks'], "unknown --state-backend 'rocks'; use 'hashmap' or 'disk'"],
    [['--rest-port', '70000'], "--rest-port must be an integer from 0 (any free port) to 65535, got '70000'"],
    [['--job-id', 'not-hex'], "--job-id must be 32 hexadecimal characters, got 'not-hex'"],
    [['--log-level', 'loud'], 'Allowed choices are debug, info, warn, error'],
  ] as const)('weir run %j', async ([flags, message], { expect }) => {
    const result = await weir('run', UNBOUNDED, ...flags);
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('--from-checkpoint latest in an empty directory says there is nothing to restore', async ({
    expect,
  }) => {
    const empty = await mkdtemp(join(dir, 'empty-'));
    const result = await weir('run', UNBOUNDED, '--checkpoint-dir', empty, '--from-checkpoint', 'latest');
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain(`cannot restore: no completed checkpoint in ${empty}`);
  });

  it('a REST port in use is named', async ({ expect }) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await weir('run', UNBOUNDED, '--rest-port', String(port));
      expect(result.code, show(result)).toBe(2);
      expect(result.stderr).toContain(`cannot serve the REST API on 127.0.0.1:${port}`);
      expect(result.stderr).toContain('EADDRINUSE');
    } finally {
      blocker.close();
    }
  });

  it.for([
    [['savepoint', 'feedc0de'.repeat(4)], 'pass --address URL'],
    [['list'], 'pass --address URL'],
    [
      ['checkpoints', 'xyz', '--address', 'http://127.0.0.1:1'],
      "job id must be 32 hexadecimal characters, got 'xyz'",
    ],
    [
      ['list', '--address', 'not a url'],
      "--address must be a URL such as http://127.0.0.1:8081, got 'not a url'",
    ],
    [['list', '--address', 'ftp://127.0.0.1'], '--address must be an http:// or https:// URL'],
    [['cancel'], "missing required argument 'jobid'"],
  ] as const)('weir %j', async ([args, message], { expect }) => {
    const result = await weir(...args);
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('nothing listening at --address: exit 1, says so', async ({ expect }) => {
    const result = await weir('list', '--address', 'http://127.0.0.1:1');
    expect(result.code, show(result)).toBe(1);
    expect(result.stderr).toContain('cannot reach the Weir REST API at http://127.0.0.1:1');
  });

  it('no rest-address for the job in --checkpoint-dir: exit 1, says so', async ({ expect }) => {
    const result = await weir('savepoint', 'feedc0de'.repeat(4), '--checkpoint-dir', dir);
    expect(result.code, show(result)).toBe(1);
    expect(result.stderr).toContain(`no REST address for job ${'feedc0de'.repeat(4)} in ${dir}`);
  });

  it('weir inspect of a directory without _metadata: exit 1 naming it', async ({ expect }) => {
    const result = await weir('inspect', dir);
    expect(result.code, show(result)).toBe(1);
    expect(result.stderr).toContain(dir);
  });

  it('weir --help lists every command', async ({ expect }) => {
    const result = await weir('--help');
    expect(result.code).toBe(0);
    for (const command of ['run', 'list', 'savepoint', 'cancel', 'stop', 'checkpoints', 'inspect']) {
      expect(result.stdout).toMatch(new RegExp(`\\n\\s+${command} `));
    }
  });
});
