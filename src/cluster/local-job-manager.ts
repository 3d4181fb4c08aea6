/** Runs a job in this process: plans it, assigns source splits, runs every subtask, fails fast. */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { describeError, JobExecutionError, TaskFailure } from '../core/errors.ts';
import { SeededRandom } from '../core/random.ts';
import { buildExecutionPlan } from '../graph/execution-plan.ts';
import { buildJobGraph } from '../graph/job-graph.ts';
import type { StreamGraph } from '../graph/stream-graph.ts';
import { StreamTask } from '../runtime/tasks/stream-task.ts';
import type { KeyedStateBackendFactory } from '../state/keyed-state-backend.ts';
import type { OperatorStateStore } from '../state/operator-state.ts';
import type { JobClient, JobExecutionResult, JobStatus } from './job-client.ts';

/** What the job manager needs to know of a source node to divide its input. */
export interface SourceAttachment {
  readonly source: { createSplits(parallelism: number): readonly unknown[] | Promise<readonly unknown[]> };
}

export interface LocalJobOptions {
  readonly jobName: string;
  readonly jobId?: string;
  readonly defaultParallelism: number;
  readonly maxParallelism: number;
  readonly chaining: boolean;
  readonly clock: Clock;
  readonly randomSeed: number;
  readonly keyedStateBackendFactory: KeyedStateBackendFactory;
  readonly createOperatorStateStore: () => OperatorStateStore;
  readonly jobConfiguration: Readonly<Record<string, unknown>>;
}

/** Starts the job and returns a client at once; tasks run on this process's event loop. */
export function submitLocalJob(graph: StreamGraph, options: LocalJobOptions): JobClient {
  const jobId = options.jobId ?? randomBytes(16).toString('hex');
  let status: JobStatus = 'CREATED';
  let tasks: StreamTask[] = [];
  let cancelRequested = false;
  const startedMs = Date.now();

  const run = async (): Promise<JobExecutionResult> => {
    const jobGraph = buildJobGraph(graph, {
      defaultParallelism: options.defaultParallelism,
      maxParallelism: options.maxParallelism,
      chaining: options.chaining,
    });
    const sourceSplits = new Map<number, (readonly unknown[])[]>();
    for (const vertex of jobGraph.vertices) {
      const head = vertex.members[0];
      const attachment = head.node.attachment as SourceAttachment | undefined;
      if (head.node.kind !== 'source' || attachment === undefined) continue;
      let splits: readonly unknown[];
      try {
        splits = await attachment.source.createSplits(vertex.parallelism);
      } catch (error) {
        throw new JobExecutionError(`source '${head.node.name}' could not start: ${describeError(error)}`, {
          cause: error,
        });
      }
      const perSubtask: unknown[][] = Array.from({ length: vertex.parallelism }, () => []);
      for (let i = 0; i < splits.length; i++) perSubtask[i % vertex.parallelism].push(splits[i]);
      sourceSplits.set(head.node.id, perSubtask);
    }
    const plan = buildExecutionPlan(jobGraph, {
      jobId,
      random: new SeededRandom(options.randomSeed),
      sourceSplits,
    });
    tasks = plan.flatMap((v, vi) =>
      v.deployments.map(
        (deployment) =>
          new StreamTask(deployment, {
            clock: options.clock,
            random: new SeededRandom(
              options.randomSeed ^ ((vi + 1) * 0x9e3779b1) ^ (deployment.subtaskIndex * 0x85ebca6b),
            ),
            keyedStateBackendFactory: options.keyedStateBackendFactory,
            createOperatorStateStore: options.createOperatorStateStore,
            jobConfiguration: options.jobConfiguration,
          }),
      ),
    );
    if (cancelRequested) throw new JobExecutionError(`job '${options.jobName}' (${jobId}) was cancelled`);
    status = 'RUNNING';
    await runAllFailFast(tasks);
    if (cancelRequested) throw new JobExecutionError(`job '${options.jobName}' (${jobId}) was cancelled`);
    return { jobId, jobName: options.jobName, durationMs: Date.now() - startedMs };
  };

  const result = run().then(
    (r) => {
      status = 'FINISHED';
      return r;
    },
    (error: unknown) => {
      status = cancelRequested ? 'CANCELED' : 'FAILED';
      throw toJobError(error, options.jobName, jobId);
    },
  );
  // The caller may only poll status; an unobserved failure must not crash the process.
  result.catch(() => {});

  return {
    jobId,
    jobName: options.jobName,
    status: () => status,
    result: () => result,
    cancel: async () => {
      cancelRequested = true;
      for (const task of tasks) task.cancel();
      await result.catch(() => {});
    },
  };
}

/** Runs all tasks; the first failure cancels the rest, and is what the job fails with. */
async function runAllFailFast(tasks: StreamTask[]): Promise<void> {
  let firstError: unknown;
  await Promise.all(
    tasks.map((task) =>
      task.run().catch((error: unknown) => {
        if (firstError === undefined) {
          firstError = error;
          for (const other of tasks) if (other !== task) other.cancel();
        }
      }),
    ),
  );
  if (firstError !== undefined) throw firstError;
}

function toJobError(error: unknown, jobName: string, jobId: string): JobExecutionError {
  if (error instanceof JobExecutionError) return error;
  if (error instanceof TaskFailure) {
    return new JobExecutionError(`job '${jobName}' (${jobId}) failed: ${error.message}`, { cause: error });
  }
  return new JobExecutionError(`job '${jobName}' (${jobId}) failed: ${describeError(error)}`, {
    cause: error,
  });
}
