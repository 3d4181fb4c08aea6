/** Runs a job in this process: plans it, runs every subtask, checkpoints it, and restarts it from its latest checkpoint. */
import { randomBytes } from 'node:crypto';
import { CHECKPOINT_CONFIG_DEFAULTS, type CheckpointConfig } from '../checkpoint/checkpoint-config.ts';
import {
  CheckpointCoordinator,
  type CheckpointGateway,
  type CheckpointOutcome,
  type CheckpointStats,
} from '../checkpoint/checkpoint-coordinator.ts';
import type {
  LocalRecoveryStore,
  StateFileWriter,
} from '../checkpoint/local-recovery/local-recovery-store.ts';
import type { LocalStateReader } from '../checkpoint/local-recovery/local-state-reader.ts';
import type { CheckpointMetadata } from '../checkpoint/snapshot-handles.ts';
import type { CheckpointStorage } from '../checkpoint/storage/checkpoint-storage.ts';
import { CompletedCheckpointStore } from '../checkpoint/storage/completed-checkpoint-store.ts';
import { type RestoreRequest, resolveRestorePoint } from '../checkpoint/storage/resolve-restore-point.ts';
import { SharedStateRegistry } from '../checkpoint/storage/shared-state-registry.ts';
import { type Clock, SystemClock } from '../core/clock.ts';
import {
  ConfigurationError,
  describeError,
  JobDefinitionError,
  JobExecutionError,
  TaskFailure,
  WeirError,
} from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { SeededRandom } from '../core/random.ts';
import { buildExecutionPlan } from '../graph/execution-plan.ts';
import { buildJobGraph, type JobGraph } from '../graph/job-graph.ts';
import type { StreamGraph } from '../graph/stream-graph.ts';
import { StreamTask } from '../runtime/tasks/stream-task.ts';
import type { TaskCheckpointServices } from '../runtime/tasks/task-checkpointing.ts';
import type { HeapOperatorStateStore } from '../state/backends/heap/heap-operator-state-store.ts';
import type { KeyedStateBackendFactory } from '../state/keyed-state-backend.ts';
import { CorruptSnapshotError, IncompatibleStateError } from '../state/snapshot/snapshot-errors.ts';
import type { JobClient, JobExecutionResult, JobStatus } from './job-client.ts';
import { createRestartBackoff, type RestartStrategyConfig } from './restart-strategy.ts';
import { assignRestoredState, type RestoreSource } from './restore-assignment.ts';
import { startSourceCoordinators } from './source-coordinators.ts';

export type { SourceAttachment } from './source-coordinators.ts';

export interface LocalJobOptions {
  readonly jobName: string;
  readonly jobId?: string;
  readonly defaultParallelism: number;
  readonly maxParallelism: number;
  readonly chaining: boolean;
  readonly clock: Clock;
  readonly randomSeed: number;
  readonly keyedStateBackendFactory: KeyedStateBackendFactory;
  readonly createOperatorStateStore: () => HeapOperatorStateStore;
  readonly jobConfiguration: Readonly<Record<string, unknown>>;
  readonly checkpointConfig?: CheckpointConfig;
  readonly checkpointStorage: CheckpointStorage;
  /** Start from this checkpoint or savepoint instead of from scratch. */
  readonly restore?: RestoreRequest & { readonly allowNonRestoredState?: boolean };
  readonly restartStrategy: RestartStrategyConfig;
  readonly logger: Logger;
  /** Local recovery: keep a local copy of the latest completed checkpoint and restore from it first. */
  readonly localRecovery?: LocalRecoveryStore;
}

/** Why the current attempt is ending, when the job manager itself ends it. */
type StopRequest =
  | { readonly kind: 'cancel' }
  | { readonly kind: 'stop-with-savepoint'; readonly pointer: string }
  | { readonly kind: 'fail'; readonly error: Error };

interface Attempt {
  readonly tasks: StreamTask[];
  stop(request: StopRequest): void;
}

/** Starts the job and returns a client at once; tasks run on this process's event loop. */
export function submitLocalJob(graph: StreamGraph, options: LocalJobOptions): JobClient {
  const jobId = options.jobId ?? randomBytes(16).toString('hex');
  const { logger, clock } = options;
  const config = options.checkpointConfig ?? CHECKPOINT_CONFIG_DEFAULTS;
  const log = (message: string, context?: Record<string, string | number | undefined>): void =>
    logger.log('info', message, { job: jobId, ...context });
  const taskLogger: Logger = {
    log: (level, message, context) => logger.log(level, message, { job: jobId, ...context }),
  };
  let status: JobStatus = 'CREATED';
  let attempt: Attempt | undefined;
  let stopRequest: StopRequest | undefined;
  let restarts = 0;
  const startedMs = Date.now();
  const locations = new Map<number, StateFileWriter>();
  const { localRecovery } = options;
  /** A job whose checkpoint this one was restored from: its local copies go once this job has its own. */
  let previousLocalJob: string | undefined;

  // Incremental checkpoints share files in <job>/shared; one registry counts their references.
  const sharedStateRegistry = new SharedStateRegistry((key) =>
    options.checkpointStorage.discardSharedFile(jobId, key),
  );
  const store = new CompletedCheckpointStore({
    storage: options.checkpointStorage,
    jobId,
    retainedCheckpoints: config.retained,
    retention: config.externalizedRetention,
    sharedStateRegistry,
  });
  const coordinator = new CheckpointCoordinator({
    config,
    clock,
    jobId,
    jobName: options.jobName,
    maxParallelism: options.maxParallelism,
    storage: options.checkpointStorage,
    store,
    firstCheckpointId: 1,
    onFailJob: (reason) => attempt?.stop({ kind: 'fail', error: new JobExecutionError(reason) }),
    log: (message) => log(message),
    sharedStateRegistry,
  });
  const checkpointing: TaskCheckpointServices = {
    mode: config.mode,
    keepFinalSnapshot: config.intervalMs !== undefined,
    intervalMs: config.intervalMs,
    timeoutMs: config.timeoutMs,
    locationFor: (id) => locations.get(id),
    acknowledge: (ack) => coordinator.acknowledge(ack),
    decline: (decline) => coordinator.decline(decline),
  };

  const runAttempt = async (
    jobGraph: JobGraph,
    restore: RestoreSource | undefined,
    allowNonRestored: boolean,
  ) => {
    // Dropped once the plan holds it (the tasks take it from there), so the restored bytes
    // are not kept for the whole attempt.
    let assignment =
      restore === undefined ? undefined : await assignRestoredState(restore, jobGraph, allowNonRestored);
    if (restore !== undefined) {
      log(`restoring from ${restore.metadata.kind} ${restore.metadata.checkpointId}`, {
        path: restore.pointer,
      });
      if (restore.local !== undefined) logLocalRestore(restore.local);
    }
    let stopError: Error | undefined;
    let attemptTasks: readonly StreamTask[] = [];
    // Split enumerators start before the tasks (a bad input path fails here); one that fails
    // later fails this attempt like a task would.
    const sources = await startSourceCoordinators(jobGraph, restore, clock, (error) => {
      stopError ??= error;
      for (const task of attemptTasks) task.cancel();
    });
    let plan: ReturnType<typeof buildExecutionPlan>;
    try {
      plan = buildExecutionPlan(jobGraph, {
        jobId,
        random: new SeededRandom(options.randomSeed),
        sourceCoordinators: sources.byNodeId,
        restore: assignment,
      });
      assignment = undefined;
    } catch (error) {
      await sources.close();
      throw error;
    }
    const tasks = plan.flatMap((v, vi) =>
      v.deployments.map(
        (deployment) =>
          new StreamTask(deployment, {
            clock,
            random: new SeededRandom(
              options.randomSeed ^ ((vi + 1) * 0x9e3779b1) ^ (deployment.subtaskIndex * 0x85ebca6b),
            ),
            keyedStateBackendFactory: options.keyedStateBackendFactory,
            createOperatorStateStore: options.createOperatorStateStore,
            jobConfiguration: options.jobConfiguration,
            jobName: options.jobName,
            checkpointing,
            logger: taskLogger,
          }),
      ),
    );
    attemptTasks = tasks;
    const gateway: CheckpointGateway = {
      subtasks: () => tasks.map((t) => t.subtaskId),
      snapshotCoordinators: (id) => sources.snapshot(id),
      trigger: (barrier, location) => {
        // Savepoints are never restored by a failover: no local copy.
        locations.set(
          barrier.checkpointId,
          localRecovery !== undefined && barrier.snapshotKind === 'checkpoint'
            ? localRecovery.tee(jobId, barrier.checkpointId, location)
            : location,
        );
        for (const task of tasks) task.triggerCheckpoint(barrier);
      },
      notifyComplete: (id) => {
        locations.delete(id);
        confirmLocalCopies(id);
        sources.notifyCheckpointComplete(id);
        for (const task of tasks) task.notifyCheckpointComplete(id);
      },
      notifyAborted: (id) => {
        locations.delete(id);
        void localRecovery?.abort(jobId, id);
        for (const task of tasks) task.notifyCheckpointAborted(id);
      },
    };
    attempt = {
      tasks,
      stop: (request) => {
        if (request.kind === 'fail') stopError ??= request.error;
        else stopRequest ??= request;
        for (const task of tasks) task.cancel();
      },
    };
    status = 'RUNNING';
    coordinator.start(gateway);
    // Sinks waiting for a checkpoint that covers their end of input get one at once, not at the
    // next periodic trigger. Tasks of an ended attempt never all resolve (cancelled ones don't),
    // and the coordinator ignores the request once it stopped.
    const sourceTasks = tasks.filter((task) => task.deployment.inputGate === undefined);
    void Promise.all(sourceTasks.map((task) => task.inputEnded)).then(() => {
      if (attempt?.tasks === tasks) coordinator.requestFinalCheckpoint();
    });
    try {
      // An enumerator may have failed the attempt before its tasks existed.
      if (stopError !== undefined) for (const task of tasks) task.cancel();
      await runAllFailFast(tasks);
      if (stopError !== undefined) throw stopError;
    } finally {
      coordinator.stop('the job attempt ended');
      await sources.close();
      await coordinator.settled();
      locations.clear();
    }
  };

  const run = async (): Promise<JobExecutionResult> => {
    const jobGraph = buildJobGraph(graph, {
      defaultParallelism: options.defaultParallelism,
      maxParallelism: options.maxParallelism,
      chaining: options.chaining,
    });
    const backoff = createRestartBackoff(options.restartStrategy);
    let restore = await resolveInitialRestore();
    let allowNonRestored = options.restore?.allowNonRestoredState ?? false;
    for (;;) {
      try {
        await runAttempt(jobGraph, restore, allowNonRestored);
      } catch (error) {
        if (stopRequest !== undefined) break;
        if (!isRestartable(error)) throw error; // Restarting cannot help: fail at once.
        const decision = backoff.onFailure(clock.now());
        if (!decision.restart) {
          throw new JobExecutionError(`${describeError(error)} (not restarted: ${decision.reason})`, {
            cause: error,
          });
        }
        restarts++;
        status = 'RESTARTING';
        logger.log('warn', `job failed, restarting in ${decision.delayMs} ms: ${describeError(error)}`, {
          job: jobId,
          restart: restarts,
        });
        await sleep(clock, decision.delayMs);
        if (stopRequest !== undefined) break;
        // A checkpoint still being committed would subsume the one picked here, deleting its files.
        await coordinator.settled();
        const latest = store.latest();
        if (latest !== undefined) {
          restore = {
            pointer: latest.location.pointer,
            metadata: latest.metadata,
            storage: options.checkpointStorage,
            local: localRecovery?.reader(latest.metadata),
          };
          // The job's own checkpoint matches its operators exactly.
          allowNonRestored = false;
        }
        continue;
      }
      break;
    }
    if (stopRequest?.kind === 'cancel') {
      throw new JobExecutionError(`job '${options.jobName}' (${jobId}) was cancelled`);
    }
    return {
      jobId,
      jobName: options.jobName,
      durationMs: Date.now() - startedMs,
      restarts,
      savepointPath: stopRequest?.kind === 'stop-with-savepoint' ? stopRequest.pointer : undefined,
    };
  };

  /** Resolves `--from-checkpoint`/`--from-savepoint`; checkpoint ids continue above every id seen. */
  async function resolveInitialRestore(): Promise<RestoreSource | undefined> {
    const request = options.restore;
    if (request === undefined) return undefined;
    const readers = new Map<string, LocalStateReader | undefined>();
    const readerOf = (metadata: CheckpointMetadata): LocalStateReader | undefined => {
      const key = `${metadata.jobId}/${metadata.checkpointId}`;
      if (!readers.has(key)) readers.set(key, localRecovery?.reader(metadata));
      return readers.get(key);
    };
    const resolution = await resolveRestorePoint(request, {
      localCopyIntact:
        localRecovery === undefined
          ? undefined
          : async (metadata, handle) => (await readerOf(metadata)?.verify(handle)) ?? false,
    });
    if (resolution.status !== 'resolved') {
      throw new ConfigurationError(
        resolution.message.startsWith('cannot restore')
          ? resolution.message
          : `cannot restore: ${resolution.message}`,
      );
    }
    for (const warning of resolution.warnings) logger.log('warn', warning, { job: jobId });
    const { metadata } = resolution.restorePoint;
    coordinator.advanceCheckpointIdPast(Math.max(resolution.highestCheckpointIdSeen, metadata.checkpointId));
    if (metadata.kind === 'checkpoint' && metadata.jobId !== jobId) previousLocalJob = metadata.jobId;
    return { ...resolution.restorePoint, local: readerOf(metadata) };
  }

  /** Where the restored state came from, and why not from the local copy if it did not. */
  function logLocalRestore(reader: LocalStateReader): void {
    const damaged = [...reader.verdicts().values()].some((verdict) => verdict.status === 'damaged');
    logger.log(damaged ? 'warn' : 'info', reader.summary(), {
      job: jobId,
      directory: localRecovery?.directory,
    });
  }

  /** Checkpoint `id` completed: keep exactly its local copies (and those of checkpoints in flight). */
  function confirmLocalCopies(id: number): void {
    const latest = store.latest();
    if (localRecovery === undefined || latest?.metadata.checkpointId !== id) return;
    void localRecovery.confirm(jobId, latest.metadata);
    if (previousLocalJob !== undefined) {
      void localRecovery.discardJob(previousLocalJob);
      previousLocalJob = undefined;
    }
  }

  // Real-clock timers are unref'd (a finished job must not hold its process), so a job whose
  // only pending work is a timer (a rate-limited source) would let `await env.execute()`
  // return to an event loop with nothing left and end the process mid-job. A running job
  // holds the process, as a running Flink job holds its cluster.
  const keepAlive = clock instanceof SystemClock ? setInterval(() => {}, 2 ** 30) : undefined;
  const result = run()
    .finally(() => clearInterval(keepAlive))
    .then(
      async (r) => {
        status = 'FINISHED';
        await shutdownStore('FINISHED');
        return r;
      },
      async (error: unknown) => {
        status = stopRequest?.kind === 'cancel' ? 'CANCELED' : 'FAILED';
        await shutdownStore(status === 'CANCELED' ? 'CANCELED' : 'FAILED');
        throw toJobError(error, options.jobName, jobId);
      },
    );
  // The caller may only poll status; an unobserved failure must not crash the process.
  result.catch(() => {});

  async function shutdownStore(jobStatus: 'FINISHED' | 'CANCELED' | 'FAILED'): Promise<void> {
    try {
      const outcome = await store.shutdown(jobStatus);
      // Local copies serve a resume from a retained checkpoint; without one they serve nothing.
      if (outcome.retained.length === 0) await localRecovery?.discardJob(jobId);
      await localRecovery?.settled();
      for (const kept of outcome.retained)
        log(`retained checkpoint ${kept.metadata.checkpointId}`, { path: kept.location.pointer });
    } catch (error) {
      logger.log('warn', `could not clean up checkpoints: ${describeError(error)}`, { job: jobId });
    }
  }

  const savepoint = async (targetDirectory: string | undefined, suspendSources = false): Promise<string> => {
    const outcome: CheckpointOutcome = await coordinator.trigger(
      'savepoint',
      targetDirectory,
      suspendSources,
    );
    if (outcome.kind === 'failed') throw new JobExecutionError(`savepoint failed: ${outcome.reason}`);
    return outcome.checkpoint.location.pointer;
  };

  return {
    jobId,
    jobName: options.jobName,
    status: () => status,
    result: () => result,
    restarts: () => restarts,
    checkpointStatistics: (): readonly CheckpointStats[] => coordinator.statistics(),
    triggerCheckpoint: async () => {
      const outcome = await coordinator.trigger('checkpoint');
      if (outcome.kind === 'failed') throw new JobExecutionError(`checkpoint failed: ${outcome.reason}`);
      return outcome.checkpoint.location.pointer;
    },
    triggerSavepoint: (targetDirectory) => savepoint(targetDirectory),
    stopWithSavepoint: async (targetDirectory) => {
      // Sources stop right after the savepoint's barrier, so nothing reaches sinks past it.
      const pointer = await savepoint(targetDirectory, true);
      attempt?.stop({ kind: 'stop-with-savepoint', pointer });
      await result.catch(() => {});
      return pointer;
    },
    cancel: async () => {
      stopRequest ??= { kind: 'cancel' };
      attempt?.stop({ kind: 'cancel' });
      await result.catch(() => {});
    },
  };
}

/** Runs all tasks; the first failure cancels the rest, and is what the attempt fails with. */
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

/**
 * Definition and configuration errors (also when a task raised them), and state that cannot
 * be restored (incompatible serializer or kind, corrupt snapshot), fail the same way on every
 * attempt.
 */
function isRestartable(error: unknown): boolean {
  if (
    error instanceof WeirError &&
    !(error instanceof TaskFailure) &&
    !(error instanceof JobExecutionError)
  ) {
    return false;
  }
  for (
    let cause: unknown = error, depth = 0;
    cause instanceof Error && depth < 8;
    cause = cause.cause, depth++
  ) {
    // A connector's configuration check (for example a Kafka transaction timeout shorter than
    // the checkpoint interval) runs inside a task; retrying cannot make it pass.
    if (
      cause instanceof IncompatibleStateError ||
      cause instanceof CorruptSnapshotError ||
      cause instanceof ConfigurationError ||
      cause instanceof JobDefinitionError
    ) {
      return false;
    }
  }
  return true;
}

function sleep(clock: Clock, delayMs: number): Promise<void> {
  if (delayMs <= 0) return Promise.resolve();
  return new Promise((resolve) => clock.schedule(clock.now() + delayMs, resolve));
}

/** Definition and configuration errors stay as they are: the CLI reports them as usage errors. */
function toJobError(error: unknown, jobName: string, jobId: string): Error {
  if (
    error instanceof JobExecutionError ||
    error instanceof JobDefinitionError ||
    error instanceof ConfigurationError
  ) {
    return error;
  }
  if (error instanceof TaskFailure) {
    return new JobExecutionError(`job '${jobName}' (${jobId}) failed: ${error.message}`, { cause: error });
  }
  if (error instanceof WeirError) return new JobExecutionError(error.message, { cause: error });
  return new JobExecutionError(`job '${jobName}' (${jobId}) failed: ${describeError(error)}`, {
    cause: error,
  });
}
