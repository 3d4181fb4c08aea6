/** `weir run` as users run it (node bin/weir.js, on the built dist/): exit codes, usage, and clear errors for bad jobs. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = 'test/cli/fixtures';

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `weir ARGS` from the repository root; never rejects, the exit code is part of the result. */
function weir(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'bin/weir.js'), ...args],
      { cwd: REPO_ROOT },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The result as one string, for assertion messages. */
const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

beforeAll(() => {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) {
    throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (npm test builds first)');
  }
});

describe.concurrent('weir run: jobs that work', () => {
  it('a bounded job importing "weir" exits 0 at end of input, with its arguments and parallelism', async ({
    expect,
  }) => {
    const result = await weir(
      'run',
      `${FIXTURES}/bounded-job.ts`,
      '-p',
      '3',
      '--',
      '--region',
      'eu',
      'extra',
    );
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toContain('args=["--region","eu","extra"] parallelism=3 maxParallelism=128/128');
    const records = result.stdout.split('\n').filter((line) => line.includes('record '));
    expect(records.map((line) => line.replace(/^\d+> /, '')).sort()).toEqual([
      'record ALPHA',
      'record BETA',
      'record GAMMA',
    ]);
    // weir run logs at info on stderr (REST address, job id, checkpoints); nothing worse.
    const notInfo = result.stderr.split('\n').filter((line) => line !== '' && !/^\S+ INFO {2}/.test(line));
    expect(notInfo).toEqual([]);
  });

  it('--parallelism is the long form of -p, and the default is 1', async ({ expect }) => {
    const long = await weir('run', `${FIXTURES}/bounded-job.ts`, '--parallelism', '2');
    expect(long.code, show(long)).toBe(0);
    expect(long.stdout).toContain('args=[] parallelism=2');
    const plain = await weir('run', `${FIXTURES}/bounded-job.ts`);
    expect(plain.code, show(plain)).toBe(0);
    expect(plain.stdout).toContain('parallelism=1');
  });

  it('a job importing dist/ by path that executes itself runs once and exits 0', async ({ expect }) => {
    const result = await weir('run', `${FIXTURES}/bounded-job-dist.ts`, '-p', '2');
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout.trim()).toBe(
      `records=1000 max=${Array.from({ length: 100 }, (_, i) => 10 * i + 9).reduce((a, b) => a + b)}`,
    );
  });

  it('--help exits 0 and lists the run command', async ({ expect }) => {
    const result = await weir('--help');
    expect(result.code, show(result)).toBe(0);
    expect(result.stdout).toMatch(/run \[options\] <job> \[args\.\.\.\]/);
  });
});

describe.concurrent('weir run: usage errors exit 2', () => {
  it('`weir run` without a job prints the usage of run', async ({ expect }) => {
    const result = await weir('run');
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain("error: missing required argument 'job'");
    expect(result.stderr + result.stdout).toContain('Usage: weir run [options] <job> [args...]');
  });

  it('`weir` alone prints the usage', async ({ expect }) => {
    const result = await weir();
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr + result.stdout).toContain('Usage: weir [options] [command]');
  });

  it('an unknown command is named', async ({ expect }) => {
    const result = await weir('frobnicate');
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it.for(['0', '-1', '1.5', 'x', ''])(
    'parallelism %j is refused with what is expected',
    async (value, { expect }) => {
      const result = await weir('run', `${FIXTURES}/bounded-job.ts`, '-p', value);
      expect(result.code, show(result)).toBe(2);
      expect(result.stderr).toContain(`--parallelism must be a positive integer, got '${value}'`);
      expect(result.stdout).not.toContain('record ');
    },
  );
});

describe.concurrent('weir run: bad job modules exit 2 and name the module', () => {
  it('a module that does not exist', async ({ expect }) => {
    const result = await weir('run', `${FIXTURES}/no-such-job.ts`);
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain(`job module not found: ${join(REPO_ROOT, FIXTURES, 'no-such-job.ts')}`);
  });

  it.for(['no-default-export', 'default-not-function'])(
    '%s: says what to write',
    async (name, { expect }) => {
      const result = await weir('run', `${FIXTURES}/${name}.ts`);
      expect(result.code, show(result)).toBe(2);
      expect(result.stderr).toContain(
        `job module ${join(REPO_ROOT, FIXTURES, `${name}.ts`)} has no default export function`,
      );
      expect(result.stderr).toContain('export default (env, args) => { ... }');
    },
  );

  it('a module that throws while loading: its error and stack are shown', async ({ expect }) => {
    const result = await weir('run', `${FIXTURES}/throws-on-import.ts`);
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain(
      `could not load job module ${join(REPO_ROOT, FIXTURES, 'throws-on-import.ts')}`,
    );
    expect(result.stderr).toContain('configuration file jobs.yaml is missing');
    expect(result.stderr).toMatch(/fixtures\/throws-on-import\.ts:\d+/);
  });

  it('a module that defines no operators: says to add a source and a sink', async ({ expect }) => {
    const result = await weir('run', `${FIXTURES}/empty-job.ts`);
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain('defined no operators: add a source and a sink');
  });

  it('invalid configuration while building: names the operator and the value', async ({ expect }) => {
    const result = await weir('run', `${FIXTURES}/bad-configuration.ts`);
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toContain("parallelism of 'Double' must be a positive integer, got 0");
  });
});

describe.concurrent('weir run: failing jobs exit non-zero with the cause', () => {
  it('a user function that throws: operator, subtask k/p, and the user’s own stack with the user’s file', async ({
    expect,
  }) => {
    const result = await weir('run', `${FIXTURES}/user-function-throws.ts`);
    expect(result.code, show(result)).not.toBe(0);
    expect(result.stderr).toMatch(
      /amount \d+ is over the limit \(operator 'Validate Amounts', subtask 2\/2\)/,
    );
    expect(result.stderr).toMatch(
      /RangeError: amount \d+ is over the limit\n\s+at checkAmount \(.*fixtures\/user-function-throws\.ts:\d+:\d+\)/,
    );
  });

  it('a key selector returning undefined: names the keyBy and what to fix', async ({ expect }) => {
    const result = await weir('run', `${FIXTURES}/undefined-key.ts`, '-p', '2');
    expect(result.code, show(result)).not.toBe(0);
    expect(result.stderr).toContain(
      "keyBy() into 'Per Customer': the key selector returned undefined; every record needs a key",
    );
  });

  it('a missing input file: names the path', async ({ expect }) => {
    const missing = join(tmpdir(), `weir-missing-${process.pid}.txt`);
    const result = await weir('run', `${FIXTURES}/read-file.ts`, '--', missing);
    expect(result.code, show(result)).not.toBe(0);
    expect(result.stderr).toContain(`input file does not exist: ${missing}`);
  });

  it('an input path that cannot be read: names the path and the reason', async ({ expect }) => {
    const file = join(tmpdir(), `weir-plain-${process.pid}.txt`);
    await writeFile(file, 'x\n');
    const result = await weir('run', `${FIXTURES}/read-file.ts`, '--', join(file, 'below'));
    expect(result.code, show(result)).not.toBe(0);
    expect(result.stderr).toContain(`cannot read input file ${join(file, 'below')}: ENOTDIR`);
  });

  it('duplicate uids: names both operators', async ({ expect }) => {
    const result = await weir('run', `${FIXTURES}/duplicate-uid.ts`);
    expect(result.code, show(result)).not.toBe(0);
    expect(result.stderr).toContain(
      "uid 'step' is used by both 'Increment' and 'Double'; uids must be unique",
    );
  });

  it('the word-count example without its arguments says how to call it', async ({ expect }) => {
    const result = await weir('run', 'examples/wordcount.ts');
    expect(result.code, show(result)).not.toBe(0);
    expect(result.stderr).toContain('usage: weir run examples/wordcount.ts -- --input FILE --output DIR');
  });
});
