/** Helpers for CLI tests: run `weir` to completion, or start `weir run` in the background and wait for what it logs. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = 'test/cli/fixtures';
const WEIR = join(REPO_ROOT, 'bin/weir.js');

/** Fails fast with the fix when dist/ was not built. */
export function requireBuild(): void {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) {
    throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (npm test builds first)');
  }
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The result as one string, for assertion messages. */
export const show = (r: CliResult): string =>
  `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** Runs `weir ARGS` from the repository root; never rejects, the exit code is part of the result. */
export function weir(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WEIR, ...args], { cwd: REPO_ROOT }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** How a background `weir run` ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A `weir run` in the background. */
export interface BackgroundRun {
  readonly child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the first match of `pattern` in stderr, as soon as it appears; rejects if the process exits first. */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves once stderr has `count` matches of the global `pattern`. */
  waitForStderrCount(pattern: RegExp, count: number): Promise<RegExpMatchArray[]>;
  readonly exit: Promise<Exit>;
  /** The REST address it logged. */
  address(): Promise<string>;
  /** The job id it logged. */
  jobId(): Promise<string>;
}

/** Starts `weir ARGS` with its output captured; kill it (or let it end) before the test ends. */
export function startWeir(...args: string[]): BackgroundRun {
  const child = spawn(process.execPath, [WEIR, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  let exited = false;
  const exit = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      exited = true;
      notify();
      resolve({ code, signal });
    }),
  );
  const waitUntil = <T>(check: () => T | undefined, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const waiter = (): void => {
        const value = check();
        if (value !== undefined) {
          waiters.delete(waiter);
          resolve(value);
        } else if (exited) {
          waiters.delete(waiter);
          reject(new Error(`weir ${args.join(' ')} exited before ${what}\n--- stderr\n${stderr}`));
        }
      };
      waiters.add(waiter);
      waiter();
    });
  const waitForStderr = (pattern: RegExp): Promise<RegExpMatchArray> =>
    waitUntil(() => stderr.match(pattern) ?? undefined, `logging ${pattern}`);
  const waitForStderrCount = (pattern: RegExp, count: number): Promise<RegExpMatchArray[]> =>
    waitUntil(() => {
      const matches = [...stderr.matchAll(pattern)];
      return matches.length >= count ? matches : undefined;
    }, `logging ${pattern} ${count} times`);
  return {
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    waitForStderr,
    waitForStderrCount,
    exit,
    address: async () => (await waitForStderr(/REST API listening at (http:\/\/127\.0\.0\.1:\d+)/))[1],
    jobId: async () => (await waitForStderr(/submitted job '[^']*' job=([0-9a-f]{32})/))[1],
  };
}
