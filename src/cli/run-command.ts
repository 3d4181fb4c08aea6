/** `weir run JOB`: loads a job module, builds its dataflow on a fresh environment, and runs it. */
import { access } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StreamExecutionEnvironment } from '../api/environment.ts';
import { describeError, JobDefinitionError } from '../core/errors.ts';

export interface RunOptions {
  readonly parallelism?: number;
  readonly jobName?: string;
}

/** The shape of a job module's default export. */
export type JobMain = (env: StreamExecutionEnvironment, args: string[]) => void | Promise<void>;

/** Loads `jobPath` and checks that it exports a job function; every failure names the path. */
export async function loadJobModule(jobPath: string): Promise<JobMain> {
  const absolute = resolve(jobPath);
  try {
    await access(absolute);
  } catch {
    throw new JobDefinitionError(`job module not found: ${absolute}`);
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    throw new JobDefinitionError(`could not load job module ${absolute}: ${describeError(error)}`, {
      cause: error,
    });
  }
  if (typeof module.default !== 'function') {
    throw new JobDefinitionError(
      `job module ${absolute} has no default export function; write \`export default (env, args) => { ... }\``,
    );
  }
  return module.default as JobMain;
}

/** Builds and runs the job; resolves when a bounded job has finished. */
export async function runJob(jobPath: string, args: string[], options: RunOptions): Promise<void> {
  const main = await loadJobModule(jobPath);
  const env = new StreamExecutionEnvironment({ parallelism: options.parallelism });
  await main(env, args);
  if (env.executionCount > 0) return; // The job ran itself with env.execute().
  if (env.graph.nodes.size === 0) {
    throw new JobDefinitionError(
      `job module ${resolve(jobPath)} defined no operators: add a source and a sink`,
    );
  }
  await env.execute(options.jobName ?? basename(jobPath).replace(/\.[cm]?[jt]s$/, ''));
}
