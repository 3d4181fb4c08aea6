/** `weir run JOB`: loads a job module, builds its dataflow on a configured environment, serves it over REST, and runs it. */
import { access } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { type EnvironmentOptions, StreamExecutionEnvironment } from '../api/environment.ts';
import type { CheckpointConfig } from '../checkpoint/checkpoint-config.ts';
import type { CheckpointStorage } from '../checkpoint/storage/checkpoint-storage.ts';
import { FileSystemCheckpointStorage } from '../checkpoint/storage/file-system-checkpoint-storage.ts';
import { JobManagerCheckpointStorage } from '../checkpoint/storage/job-manager-checkpoint-storage.ts';
import type { JobClient } from '../cluster/job-client.ts';
import { JobRegistry } from '../cluster/rest/job-registry.ts';
import { type RestServer, startRestServer } from '../cluster/rest/rest-server.ts';
import { ConfigurationError, describeError, JobDefinitionError } from '../core/errors.ts';
import { type Logger, type LogLevel, StreamLogger } from '../core/logger.ts';
import { removeRestAddress, writeRestAddress } from './rest-address-file.ts';

/** After the job ended, the REST server stays up this long at most for clients still waiting on a savepoint result. */
export const OPERATION_RESULT_GRACE_MS = 5_000;
const OPERATION_RESULT_POLL_MS = 20;

/** Exit codes after a signal cancelled the job, as shells report them (128 + signal number). */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** The options of `weir run`, as parsed from the command line. */
export interface RunOptions {
  readonly parallelism?: number;
  readonly jobName?: string;
  readonly checkpointDir?: string;
  readonly checkpointInterval?: number;
  readonly mode?: CheckpointConfig['mode'];
  readonly stateBackend?: string;
  readonly localRecovery?: boolean;
  readonly localRecoveryDir?: string;
  readonly fromSavepoint?: string;
  readonly fromCheckpoint?: string;
  readonly allowNonRestoredState?: boolean;
  readonly restPort?: number;
  readonly savepointDir?: string;
  readonly savepointRoot?: string;
  readonly jobId?: string;
  readonly logLevel?: LogLevel;
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

/**
 * Turns the flags into environment options; throws a ConfigurationError (exit 2) for
 * combinations that cannot work.
 */
export function environmentOptionsOf(options: RunOptions, logger: Logger): EnvironmentOptions {
  const { checkpointDir, fromCheckpoint, fromSavepoint } = options;
  if (fromSavepoint !== undefined && fromCheckpoint !== undefined) {
    throw new ConfigurationError('pass either --from-savepoint or --from-checkpoint, not both');
  }
  if (fromCheckpoint === 'latest' && checkpointDir === undefined) {
    throw new ConfigurationError(
      '--from-checkpoint latest needs --checkpoint-dir DIR: the directory to search for the newest checkpoint',
    );
  }
  const stateBackend = options.stateBackend ?? 'hashmap';
  if (stateBackend !== 'hashmap' && stateBackend !== 'disk') {
    throw new ConfigurationError(`unknown --state-backend '${stateBackend}'; use 'hashmap' or 'disk'`);
  }
  const allowNonRestoredState = options.allowNonRestoredState ?? false;
  let restore: EnvironmentOptions['restore'];
  if (fromSavepoint !== undefined) {
    restore = { kind: 'path', path: resolve(fromSavepoint), allowNonRestoredState };
  } else if (fromCheckpoint === 'latest') {
    restore = {
      kind: 'latest',
      checkpointDirectory: resolve(checkpointDir!),
      jobName: options.jobName,
      allowNonRestoredState,
    };
  } else if (fromCheckpoint !== undefined) {
    restore = { kind: 'path', path: resolve(fromCheckpoint), allowNonRestoredState };
  } else if (allowNonRestoredState) {
    logger.log(
      'warn',
      '--allow-non-restored-state has no effect without --from-savepoint or --from-checkpoint',
    );
  }
  const checkpointing: Partial<CheckpointConfig> = {
    ...(options.checkpointInterval === undefined ? {} : { intervalMs: options.checkpointInterval }),
    ...(options.mode === undefined ? {} : { mode: options.mode }),
  };
  return {
    parallelism: options.parallelism,
    stateBackend,
    checkpointing,
    checkpointStorage: checkpointStorageOf(options),
    restore,
    jobId: options.jobId,
    logger,
    localRecovery:
      options.localRecoveryDir !== undefined
        ? { directory: resolve(options.localRecoveryDir) }
        : options.localRecovery === true,
  };
}

function checkpointStorageOf(options: RunOptions): CheckpointStorage | undefined {
  const defaultSavepointDirectory =
    options.savepointDir === undefined ? undefined : resolve(options.savepointDir);
  if (options.checkpointDir !== undefined) {
    return new FileSystemCheckpointStorage(resolve(options.checkpointDir), { defaultSavepointDirectory });
  }
  return defaultSavepointDirectory === undefined
    ? undefined
    : new JobManagerCheckpointStorage({ defaultSavepointDirectory });
}

/**
 * Builds and runs the job with a REST API on 127.0.0.1; resolves with the exit code once every
 * job the module started has ended (0, or 130/143 when SIGINT/SIGTERM cancelled it). Throws
 * what made the job fail.
 */
export async function runJob(jobPath: string, args: string[], options: RunOptions): Promise<number> {
  const logger = new StreamLogger({ level: options.logLevel ?? 'info' });
  const environmentOptions = environmentOptionsOf(options, logger);
  const main = await loadJobModule(jobPath);
  const env = new StreamExecutionEnvironment(environmentOptions);
  const registry = new JobRegistry();
  const clients: JobClient[] = [];
  let server: RestServer | undefined;
  const signals = new SignalHandler(logger, clients);
  try {
    server = await startRestServer({
      registry,
      port: options.restPort ?? 0,
      savepointRoot: options.savepointRoot === undefined ? undefined : resolve(options.savepointRoot),
      hasDefaultSavepointDirectory: options.savepointDir !== undefined,
      logger,
    });
    const address = server.address;
    logger.log('info', `REST API listening at ${address}`);
    env.registerJobListener({
      onJobSubmitted: (client) => {
        registry.register(client);
        clients.push(client);
        logger.log('info', `submitted job '${client.jobName}'`, { job: client.jobId, rest: address });
        if (options.checkpointDir !== undefined) {
          writeRestAddress(resolve(options.checkpointDir), client.jobId, address).catch((error: unknown) =>
            logger.log('warn', `could not write the REST address file: ${describeError(error)}`, {
              job: client.jobId,
            }),
          );
        }
      },
    });
    signals.install();
    try {
      await main(env, args);
      if (env.executionCount === 0) {
        if (env.graph.nodes.size === 0) {
          throw new JobDefinitionError(
            `job module ${resolve(jobPath)} defined no operators: add a source and a sink`,
          );
        }
        await env.execute(options.jobName ?? basename(jobPath).replace(/\.[cm]?[jt]s$/, ''));
      }
      // Jobs the module started with executeAsync() and did not wait for.
      for (const client of clients) await client.result();
    } catch (error) {
      if (signals.received !== undefined) return SIGNAL_EXIT_CODES[signals.received];
      throw error;
    }
    for (const client of clients) {
      logger.log('info', `job '${client.jobName}' finished`, { job: client.jobId });
    }
    return signals.received === undefined ? 0 : SIGNAL_EXIT_CODES[signals.received];
  } finally {
    signals.uninstall();
    await waitForOperationResults(registry);
    registry.close();
    await server?.close();
    if (options.checkpointDir !== undefined) {
      for (const client of clients) await removeRestAddress(resolve(options.checkpointDir), client.jobId);
    }
  }
}

/** Lets `weir savepoint`/`cancel --with-savepoint`/`stop` read the result of an operation that ended the job. */
async function waitForOperationResults(registry: JobRegistry): Promise<void> {
  const deadlineMs = Date.now() + OPERATION_RESULT_GRACE_MS;
  while (registry.unfetchedOperations() > 0 && Date.now() < deadlineMs) await delay(OPERATION_RESULT_POLL_MS);
}

/** SIGINT/SIGTERM cancel the running jobs gracefully; a second signal exits at once. */
class SignalHandler {
  received: keyof typeof SIGNAL_EXIT_CODES | undefined;
  readonly #logger: Logger;
  readonly #clients: readonly JobClient[];
  readonly #onSignal = (signal: keyof typeof SIGNAL_EXIT_CODES): void => {
    if (this.received !== undefined || this.#clients.length === 0) {
      process.exit(SIGNAL_EXIT_CODES[signal]);
    }
    this.received = signal;
    for (const client of this.#clients) {
      this.#logger.log('info', `received ${signal}: cancelling the job`, { job: client.jobId });
      void client.cancel();
    }
  };

  constructor(logger: Logger, clients: readonly JobClient[]) {
    this.#logger = logger;
    this.#clients = clients;
  }

  install(): void {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }

  uninstall(): void {
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
}
