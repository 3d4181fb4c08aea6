/** The entry point of a job: configuration, sources, and execution. */

import { resolve } from 'node:path';
import { type CheckpointConfig, resolveCheckpointConfig } from '../checkpoint/checkpoint-config.ts';
import { LocalRecoveryStore } from '../checkpoint/local-recovery/local-recovery-store.ts';
import type { CheckpointStorage } from '../checkpoint/storage/checkpoint-storage.ts';
import { FileSystemCheckpointStorage } from '../checkpoint/storage/file-system-checkpoint-storage.ts';
import { JobManagerCheckpointStorage } from '../checkpoint/storage/job-manager-checkpoint-storage.ts';
import type { RestoreRequest } from '../checkpoint/storage/resolve-restore-point.ts';
import type { JobClient, JobExecutionResult } from '../cluster/job-client.ts';
import { type SourceAttachment, submitLocalJob } from '../cluster/local-job-manager.ts';
import {
  DEFAULT_RESTART_WITH_CHECKPOINTING,
  type RestartStrategyConfig,
} from '../cluster/restart-strategy.ts';
import { type Clock, SystemClock } from '../core/clock.ts';
import { ConfigurationError, JobDefinitionError } from '../core/errors.ts';
import { type Logger, StreamLogger } from '../core/logger.ts';
import { StreamGraph } from '../graph/stream-graph.ts';
import { diskStateBackend } from '../state/backends/disk/index.ts';
import { HeapOperatorStateStore } from '../state/backends/heap/heap-operator-state-store.ts';
import { hashMapStateBackend } from '../state/backends/heap/index.ts';
import { DEFAULT_MAX_PARALLELISM, MAX_PARALLELISM_LIMIT } from '../state/key-groups.ts';
import type { KeyedStateBackendFactory } from '../state/keyed-state-backend.ts';
import { type GraphBuilder, SingleOutputStreamOperator, validateParallelism } from './data-stream.ts';
import { SourceOperator } from './operators/source-operator.ts';
import type { SourceCoordinatorLink } from './operators/source-reader-link.ts';
import { AUTO_WATERMARK_INTERVAL_MS_DEFAULT } from './operators/timestamps-and-watermarks-operator.ts';
import type { Source, SourceSplit } from './source.ts';
import { CollectionSource } from './sources/collection-source.ts';
import { type DataGeneratorOptions, DataGeneratorSource } from './sources/data-generator-source.ts';
import { TextFileSource, type TextFileSourceOptions } from './sources/text-file-source.ts';
import type { WatermarkStrategy } from './watermark-strategy.ts';

/** `hashmap`: state in the JS heap; `disk`: in an embedded store on local disk, default options (see diskStateBackend). */
export type StateBackendName = 'hashmap' | 'disk';

/** Told about every job an environment starts (Flink's `JobListener`); the CLI serves it over REST. */
export interface JobListener {
  onJobSubmitted(client: JobClient): void;
}

export interface EnvironmentOptions {
  /** Default parallelism of every operator (default 1). */
  readonly parallelism?: number;
  /** Number of key groups; the upper bound of keyed parallelism (default 128). */
  readonly maxParallelism?: number;
  /** Period of watermark emission in ms; 0 disables periodic emission (default 200). */
  readonly autoWatermarkIntervalMs?: number;
  /** Fuse forward-connected operators of equal parallelism (default true). */
  readonly chaining?: boolean;
  readonly stateBackend?: StateBackendName | KeyedStateBackendFactory;
  /** Processing time; tests pass a ManualClock. */
  readonly clock?: Clock;
  /** Seeds shuffle partitioning and the random sources operators see (default 0). */
  readonly randomSeed?: number;
  /** Free-form job configuration; user functions read it via their RuntimeContext. */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /** Checkpointing; periodic checkpoints need `intervalMs`. Savepoints work either way. */
  readonly checkpointing?: Partial<CheckpointConfig>;
  /** Where checkpoints go: a directory (FileSystemCheckpointStorage) or a storage; default in memory. */
  readonly checkpointStorage?: string | CheckpointStorage;
  /** Default: none without checkpointing, else exponential delay (1 s to 60 s, 10 attempts). */
  readonly restartStrategy?: RestartStrategyConfig;
  /** Start from a checkpoint or savepoint: `{ kind: 'path', path }` or `{ kind: 'latest', checkpointDirectory }`. */
  readonly restore?: RestoreRequest & { readonly allowNonRestoredState?: boolean };
  /** The job id (32 hex characters by default, random). */
  readonly jobId?: string;
  /** Default: warnings and errors to standard error. */
  readonly logger?: Logger;
  /**
   * Local recovery (Flink's `state.backend.local-recovery`; default off): keep a local copy of
   * the latest completed checkpoint's state files under `directory` (default
   * `<os tmpdir>/weir-local-recovery`) and restore from it, verified, before reading checkpoint
   * storage. See docs/state-backends.md.
   */
  readonly localRecovery?: boolean | LocalRecoveryOptions;
}

/** Where local recovery keeps its copies. */
export interface LocalRecoveryOptions {
  readonly directory?: string;
}

/**
 * @example
 * ```ts
 * const env = StreamExecutionEnvironment.create({ parallelism: 2 });
 * env.fromElements(1, 2, 3).map((n) => n * 2).print();
 * await env.execute('doubling');
 * ```
 */
export class StreamExecutionEnvironment implements GraphBuilder {
  readonly graph = new StreamGraph();
  #parallelism: number;
  #maxParallelism: number;
  #autoWatermarkIntervalMs: number;
  #chaining: boolean;
  #stateBackend: KeyedStateBackendFactory;
  #clock: Clock;
  #randomSeed: number;
  #configuration: Record<string, unknown>;
  #executionCount = 0;
  #checkpointing: Partial<CheckpointConfig>;
  #checkpointStorage: string | CheckpointStorage | undefined;
  #restartStrategy: RestartStrategyConfig | undefined;
  #restore: EnvironmentOptions['restore'];
  #jobId: string | undefined;
  #logger: Logger;
  readonly #localRecovery: LocalRecoveryOptions | undefined;
  readonly #jobListeners: JobListener[] = [];

  constructor(options: EnvironmentOptions = {}) {
    this.#parallelism = validateParallelism(options.parallelism ?? 1, 'parallelism');
    this.#maxParallelism = validateMaxParallelism(options.maxParallelism ?? DEFAULT_MAX_PARALLELISM);
    this.#autoWatermarkIntervalMs = validateInterval(
      options.autoWatermarkIntervalMs ?? AUTO_WATERMARK_INTERVAL_MS_DEFAULT,
    );
    this.#chaining = options.chaining ?? true;
    this.#stateBackend = resolveStateBackend(options.stateBackend ?? 'hashmap');
    this.#clock = options.clock ?? new SystemClock();
    this.#randomSeed = options.randomSeed ?? 0;
    this.#configuration = { ...(options.configuration ?? {}) };
    this.#checkpointing = { ...(options.checkpointing ?? {}) };
    resolveCheckpointConfig(this.#checkpointing);
    this.#checkpointStorage = options.checkpointStorage;
    this.#restartStrategy = options.restartStrategy;
    this.#restore = options.restore;
    this.#jobId = options.jobId;
    this.#logger = options.logger ?? new StreamLogger({ level: 'warn' });
    this.#localRecovery = resolveLocalRecovery(options.localRecovery);
  }

  /** Periodic checkpoints every `intervalMs`, exactly-once unless told otherwise. */
  enableCheckpointing(intervalMs: number, mode: CheckpointConfig['mode'] = 'exactly-once'): this {
    const next = { ...this.#checkpointing, intervalMs, mode };
    resolveCheckpointConfig(next);
    this.#checkpointing = next;
    return this;
  }

  /** Further checkpoint settings (timeout, min pause, retained, …). */
  configureCheckpointing(config: Partial<CheckpointConfig>): this {
    const next = { ...this.#checkpointing, ...config };
    resolveCheckpointConfig(next);
    this.#checkpointing = next;
    return this;
  }

  setCheckpointStorage(storage: string | CheckpointStorage): this {
    this.#checkpointStorage = storage;
    return this;
  }

  setRestartStrategy(strategy: RestartStrategyConfig): this {
    this.#restartStrategy = strategy;
    return this;
  }

  /** Start the next execution from this checkpoint or savepoint. */
  restoreFrom(request: RestoreRequest & { readonly allowNonRestoredState?: boolean }): this {
    this.#restore = request;
    return this;
  }

  /** `listener.onJobSubmitted` runs for every later `execute`/`executeAsync`, right after the job starts. */
  registerJobListener(listener: JobListener): this {
    this.#jobListeners.push(listener);
    return this;
  }

  static create(options?: EnvironmentOptions): StreamExecutionEnvironment {
    return new StreamExecutionEnvironment(options);
  }

  get parallelism(): number {
    return this.#parallelism;
  }
  get maxParallelism(): number {
    return this.#maxParallelism;
  }
  get autoWatermarkIntervalMs(): number {
    return this.#autoWatermarkIntervalMs;
  }
  get configuration(): Readonly<Record<string, unknown>> {
    return this.#configuration;
  }

  setParallelism(parallelism: number): this {
    this.#parallelism = validateParallelism(parallelism, 'parallelism');
    return this;
  }

  setMaxParallelism(maxParallelism: number): this {
    this.#maxParallelism = validateMaxParallelism(maxParallelism);
    return this;
  }

  setAutoWatermarkInterval(intervalMs: number): this {
    this.#autoWatermarkIntervalMs = validateInterval(intervalMs);
    return this;
  }

  setStateBackend(backend: StateBackendName | KeyedStateBackendFactory): this {
    this.#stateBackend = resolveStateBackend(backend);
    return this;
  }

  disableOperatorChaining(): this {
    this.#chaining = false;
    return this;
  }

  /** Merges entries into the job configuration. */
  configure(entries: Readonly<Record<string, unknown>>): this {
    Object.assign(this.#configuration, entries);
    return this;
  }

  /** A bounded stream of the given values, read by one subtask in order. */
  fromElements<T>(...values: T[]): SingleOutputStreamOperator<T> {
    return this.fromSource(new CollectionSource<T>(values), undefined, 'Source: Collection');
  }

  /** A bounded stream of an array's or iterable's values, read by one subtask in order. */
  fromCollection<T>(values: Iterable<T>): SingleOutputStreamOperator<T> {
    return this.fromSource(new CollectionSource<T>(values), undefined, 'Source: Collection');
  }

  /** Deterministic generated records (bounded with `count`, else unbounded), optionally rate-limited. */
  fromGenerator<T>(options: DataGeneratorOptions<T>): SingleOutputStreamOperator<T> {
    return this.fromSource(new DataGeneratorSource<T>(options), undefined, 'Source: Data Generator');
  }

  /** The lines of a text file (or files), split by byte ranges over the source's subtasks. */
  readTextFile(
    path: string | readonly string[],
    options?: TextFileSourceOptions,
  ): SingleOutputStreamOperator<string> {
    return this.fromSource(new TextFileSource(path, options), undefined, 'Source: Text File');
  }

  /**
   * Any Source. With a watermark strategy the source operator itself assigns timestamps and
   * generates watermarks, one generator per split (records a reader emits through
   * `createOutputForSplit`), so the source's watermark is the minimum over its splits.
   */
  fromSource<T, Split extends SourceSplit, EnumState>(
    source: Source<T, Split, EnumState>,
    watermarkStrategy?: WatermarkStrategy<T>,
    name = 'Source',
  ): SingleOutputStreamOperator<T> {
    const candidate = source as Partial<Source<T, Split, EnumState>> | null;
    if (
      candidate === null ||
      typeof candidate !== 'object' ||
      typeof candidate.createReader !== 'function' ||
      typeof candidate.createEnumerator !== 'function' ||
      typeof candidate.restoreEnumerator !== 'function'
    ) {
      throw new JobDefinitionError(
        `fromSource needs a Source (with createEnumerator, restoreEnumerator and createReader), got ${String(source)}`,
      );
    }
    const erased = source as unknown as Source<unknown, SourceSplit, unknown>;
    const attachment: SourceAttachment = { source: erased };
    const node = this.graph.addNode({
      name,
      uid: undefined,
      parallelism: undefined,
      parallelismMax: source.maxParallelism,
      kind: 'source',
      createOperator: (init) =>
        new SourceOperator<T, Split>(
          source as unknown as Source<T, Split, unknown>,
          init.sourceCoordinator as SourceCoordinatorLink<Split>,
          { watermarkStrategy, autoWatermarkIntervalMs: this.#autoWatermarkIntervalMs },
        ),
      keySelectors: [],
      chaining: 'always',
      attachment,
    });
    return new SingleOutputStreamOperator<T>(this, node);
  }

  /** Runs the job to completion (bounded jobs) and resolves with its result. */
  async execute(jobName = 'Weir Job'): Promise<JobExecutionResult> {
    return this.executeAsync(jobName).result();
  }

  /** How many times this environment started a job (the CLI runs the graph unless the job did). */
  get executionCount(): number {
    return this.#executionCount;
  }

  /** Starts the job and returns a client to watch or cancel it. */
  executeAsync(jobName = 'Weir Job'): JobClient {
    this.#executionCount++;
    const checkpointConfig = resolveCheckpointConfig(this.#checkpointing);
    const storage = this.#checkpointStorage;
    const client = submitLocalJob(this.graph, {
      jobName,
      jobId: this.#jobId,
      checkpointConfig,
      checkpointStorage:
        storage === undefined
          ? new JobManagerCheckpointStorage()
          : typeof storage === 'string'
            ? new FileSystemCheckpointStorage(storage)
            : storage,
      restartStrategy:
        this.#restartStrategy ??
        (checkpointConfig.intervalMs === undefined ? { kind: 'none' } : DEFAULT_RESTART_WITH_CHECKPOINTING),
      restore: this.#restore,
      logger: this.#logger,
      defaultParallelism: this.#parallelism,
      maxParallelism: this.#maxParallelism,
      chaining: this.#chaining,
      clock: this.#clock,
      randomSeed: this.#randomSeed,
      keyedStateBackendFactory: this.#stateBackend,
      createOperatorStateStore: () => new HeapOperatorStateStore(),
      jobConfiguration: this.#configuration,
      localRecovery:
        this.#localRecovery === undefined
          ? undefined
          : new LocalRecoveryStore({ directory: this.#localRecovery.directory, logger: this.#logger }),
    });
    for (const listener of this.#jobListeners) listener.onJobSubmitted(client);
    return client;
  }
}

function validateMaxParallelism(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_PARALLELISM_LIMIT) {
    throw new ConfigurationError(
      `maxParallelism must be an integer from 1 to ${MAX_PARALLELISM_LIMIT}, got ${String(value)}`,
    );
  }
  return value;
}

function validateInterval(value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new ConfigurationError(
      `autoWatermarkIntervalMs must be a finite number >= 0, got ${String(value)}`,
    );
  }
  return value;
}

function resolveLocalRecovery(option: EnvironmentOptions['localRecovery']): LocalRecoveryOptions | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return {};
  if (typeof option !== 'object' || option === null) {
    throw new ConfigurationError(`localRecovery must be true, false or { directory }, got ${String(option)}`);
  }
  if (option.directory !== undefined && (typeof option.directory !== 'string' || option.directory === '')) {
    throw new ConfigurationError('localRecovery.directory must be a non-empty path');
  }
  return { directory: option.directory === undefined ? undefined : resolve(option.directory) };
}

function resolveStateBackend(backend: StateBackendName | KeyedStateBackendFactory): KeyedStateBackendFactory {
  if (backend === 'hashmap') return hashMapStateBackend;
  if (backend === 'disk') return diskStateBackend();
  if (typeof backend === 'object' && backend !== null && typeof backend.create === 'function') return backend;
  throw new ConfigurationError(`unknown state backend ${JSON.stringify(backend)}; use 'hashmap' or 'disk'`);
}
