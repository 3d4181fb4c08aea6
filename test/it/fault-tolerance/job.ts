/**
 * The job the fault-tolerance suite runs: two sequence sources; a keyed checker with timers;
 * tumbling event-time windows counting records per key; a two-input checker over both
 * sources (connect of keyed streams); all results through a transactional collect sink; and
 * a failure injector placed before the shuffle, inside the keyed part, or before the sink.
 */
import {
  type CheckpointConfig,
  type CheckpointStorage,
  type DataStream,
  type EnvironmentOptions,
  type JobClient,
  type JobExecutionResult,
  ManualClock,
  StreamExecutionEnvironment,
  type TimeWindow,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from '../../../src/index.ts';
import {
  CoSequenceChecker,
  canonical,
  eventTime,
  FailureInjector,
  type FailurePlan,
  type Mode,
  type Out,
  type Probe,
  type Rec,
  type SeqSpec,
  SequenceChecker,
  sequenceSource,
  TICK_DELAY_MS,
  TICK_EVERY,
  TransactionalCollectSink,
  TxnStore,
} from './support.ts';

export type InjectorPlacement = 'source' | 'keyed' | 'sink';

export interface JobShape {
  readonly specA: SeqSpec;
  readonly specB: SeqSpec;
  readonly injectorAt: InjectorPlacement;
  readonly injectorParallelism: number;
  readonly checkerParallelism: number;
  readonly windowParallelism: number;
  readonly coParallelism: number;
  readonly windowMs: number;
  /** Source parallelism for this run (default: the specs' split counts, i.e. the first run's). */
  readonly sourceParallelism?: number;
  readonly ratePerSecond?: number;
  /** Watermark bound (default 0: monotonous); restores at another parallelism interleave splits. */
  readonly outOfOrdernessMs?: number;
  /** Leave out the window operator (a job that dropped an operator). */
  readonly withoutWindows?: boolean;
}

/** Where the injector goes decides the parallelism it may have (forward edges keep key order). */
export function injectorParallelism(shape: JobShape): number {
  if (shape.injectorAt === 'source') return shape.sourceParallelism ?? shape.specA.splits;
  if (shape.injectorAt === 'sink') return 1;
  return shape.injectorParallelism;
}

const countRecords = {
  createAccumulator: (): number => 0,
  add: (_r: Rec, n: number): number => n + 1,
  getResult: (n: number): number => n,
};

/** Adds the job to `env`; records flow into `store` only when checkpoints complete or input ends. */
export function buildJob(
  env: StreamExecutionEnvironment,
  shape: JobShape,
  mode: Mode,
  probe: Probe,
  plan: FailurePlan,
  store: TxnStore,
): void {
  const watermarks = WatermarkStrategy.forBoundedOutOfOrderness<Rec>(
    shape.outOfOrdernessMs ?? 0,
  ).withTimestampAssigner((r) => eventTime(r));
  const sourceOptions = { parallelism: shape.sourceParallelism, ratePerSecond: shape.ratePerSecond };
  const injector = <T>(stream: DataStream<T>, where: string) =>
    stream
      .transform('Failure Injector', () => new FailureInjector<T>(plan, probe, where))
      .setParallelism(injectorParallelism(shape))
      .uid('injector');

  let a: DataStream<Rec> = sequenceSource(env, shape.specA, sourceOptions)
    .assignTimestampsAndWatermarks(watermarks)
    .setParallelism(shape.sourceParallelism ?? shape.specA.splits)
    .uid('watermarks-A');
  if (shape.injectorAt === 'source') a = injector(a, 'injector after source A');
  let keyedA = a.keyBy((r) => r.key);
  if (shape.injectorAt === 'keyed') {
    keyedA = keyedA
      .transformKeyed('Failure Injector', () => new FailureInjector<Rec>(plan, probe, 'keyed injector'))
      .setParallelism(shape.injectorParallelism)
      .uid('injector')
      .keyBy((r) => r.key);
  }
  const checked = keyedA
    .process(() => new SequenceChecker(probe, mode, shape.specA.name))
    .setParallelism(shape.checkerParallelism)
    .uid('checker')
    .name('Sequence Checker');
  const windows = () =>
    a
      .keyBy((r) => r.key)
      .window(TumblingEventTimeWindows.of(shape.windowMs))
      .aggregate(countRecords, (key: number, ctx, [count]: number[], out) => {
        out.collect({ kind: 'window', key, start: (ctx.window as TimeWindow).start, count } satisfies Out);
      })
      .setParallelism(shape.windowParallelism)
      .uid('windows')
      .name('Window Count');
  const b = sequenceSource(env, shape.specB, sourceOptions)
    .assignTimestampsAndWatermarks(watermarks)
    .setParallelism(shape.sourceParallelism ?? shape.specB.splits)
    .uid('watermarks-B');
  const co = a
    .keyBy((r) => r.key)
    .connect(b.keyBy((r) => r.key))
    .process(() => new CoSequenceChecker(probe, mode, [shape.specA.name, shape.specB.name]))
    .setParallelism(shape.coParallelism)
    .uid('co-checker')
    .name('Co-Sequence Checker');
  let results: DataStream<Out> =
    shape.withoutWindows === true ? checked.union(co) : checked.union(windows() as DataStream<Out>, co);
  if (shape.injectorAt === 'sink') results = injector(results, 'injector before the sink');
  results
    .transform('Transactional Sink', () => new TransactionalCollectSink(store))
    .setParallelism(1)
    .uid('sink');
}

export interface RunOptions {
  readonly shape: JobShape;
  readonly mode: Mode;
  readonly probe: Probe;
  readonly plan: FailurePlan;
  readonly store?: TxnStore;
  readonly checkpointing?: Partial<CheckpointConfig>;
  readonly checkpointStorage?: string | CheckpointStorage;
  readonly restartAttempts?: number;
  readonly environment?: Partial<EnvironmentOptions>;
  readonly seed: number;
  /** Called when the job hangs, before it is cancelled (debugging). */
  readonly onHang?: () => void;
  /** How `finish()` drives the clock (default `turn`). */
  readonly pace?: Pace;
}

/** Event-loop turns a driven job may take before the test gives up on it (a hang, not slowness). */
const DRIVE_STEPS_MAX = Number(process.env.WEIR_FT_DRIVE_MAX ?? 500_000);

/**
 * How a driven clock keeps pace: one step per event-loop turn (`turn`: processing time moves
 * with the work done, however fast or slow the machine is), or one step per timer tick
 * (`timer`: about real time; for jobs that wait for real I/O, such as checkpoints on disk,
 * during which turn pacing would let the job race ahead).
 */
export type Pace = 'turn' | 'timer';

function nextStep(pace: Pace): Promise<void> {
  return new Promise<void>((resolve) => (pace === 'turn' ? setImmediate(resolve) : setTimeout(resolve, 1)));
}

/**
 * Advances `clock` one ms (`advanceMs`) per step until `done` settles; resolves or rejects as `done` does.
 * `onHang` runs if it never settles.
 */
export async function driveUntil<T>(
  clock: ManualClock,
  done: Promise<T>,
  what: string,
  options: {
    readonly onHang?: () => Promise<void> | void;
    readonly pace?: Pace;
    /** Manual ms per step (default 1); 0 holds processing time, so rate-limited sources pause. */
    readonly advanceMs?: number;
  } = {},
): Promise<T> {
  let settled = false;
  done.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let step = 0; !settled; step++) {
    if (step >= DRIVE_STEPS_MAX) {
      await options.onHang?.();
      throw new Error(`${what}: did not happen within ${DRIVE_STEPS_MAX} steps`);
    }
    clock.advance(options.advanceMs ?? 1);
    await nextStep(options.pace ?? 'turn');
  }
  return done;
}

/** Advances `clock` one ms per step while `condition` holds. */
export async function driveWhile(
  clock: ManualClock,
  condition: () => boolean,
  what: string,
  pace: Pace = 'turn',
): Promise<void> {
  for (let step = 0; condition(); step++) {
    if (step >= DRIVE_STEPS_MAX) throw new Error(`gave up waiting: ${what}`);
    clock.advance(1);
    await nextStep(pace);
  }
}

/** A started job on a ManualClock the caller drives. */
export interface StartedJob {
  readonly client: JobClient;
  readonly clock: ManualClock;
  readonly store: TxnStore;
  /** Drives the clock until the job ends; cancels it (and calls onHang) if it hangs. */
  finish(): Promise<JobExecutionResult>;
}

export function startJob(options: RunOptions): StartedJob {
  const store = options.store ?? new TxnStore();
  const clock = new ManualClock(1_000_000);
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    maxParallelism: 8,
    autoWatermarkIntervalMs: 1,
    clock,
    randomSeed: options.seed,
    checkpointing: { mode: options.mode, ...options.checkpointing },
    checkpointStorage: options.checkpointStorage,
    restartStrategy: { kind: 'fixed-delay', attempts: options.restartAttempts ?? 50, delayMs: 0 },
    logger: { log: () => {} },
    ...options.environment,
  });
  buildJob(env, options.shape, options.mode, options.probe, options.plan, store);
  const client = env.executeAsync(`fault-tolerance ${options.seed}`);
  return {
    client,
    clock,
    store,
    finish: () =>
      driveUntil(clock, client.result(), `seed ${options.seed}: the job ends`, {
        pace: options.pace,
        onHang: async () => {
          options.onHang?.();
          await client.cancel();
        },
      }),
  };
}

/** Runs the job to its end on a driven ManualClock; returns what the sink published and the job's result. */
export async function runJob(
  options: RunOptions,
): Promise<{ published: string[]; result: JobExecutionResult; store: TxnStore; client: JobClient }> {
  const job = startJob(options);
  const result = await job.finish();
  return { published: job.store.published(), result, store: job.store, client: job.client };
}

/**
 * What a failure-free run of {@link buildJob} publishes, computed in plain JS (the tests also
 * check that failure-free runs publish exactly this): every key's final checker state, the
 * checker's timer ticks, every tumbling window's count, and the two-input checker's totals.
 */
export function expectedOutput(shape: JobShape): string[] {
  const out: Out[] = [];
  const keysOf = (spec: SeqSpec) => Array.from({ length: spec.splits * spec.keysPerSplit }, (_, k) => k);
  const { specA, specB } = shape;
  for (const key of keysOf(specA)) {
    out.push({
      kind: 'final',
      checker: specA.name,
      key,
      last: specA.seqsPerKey - 1,
      count: specA.seqsPerKey,
    });
    for (let seq = 0; seq < specA.seqsPerKey; seq += TICK_EVERY) {
      out.push({ kind: 'tick', checker: specA.name, key, at: seq + TICK_DELAY_MS });
    }
    for (let start = 0; shape.withoutWindows !== true && start < specA.seqsPerKey; start += shape.windowMs) {
      out.push({ kind: 'window', key, start, count: Math.min(shape.windowMs, specA.seqsPerKey - start) });
    }
  }
  const keys = new Set([...keysOf(specA), ...keysOf(specB)]);
  for (const key of keys) {
    for (const spec of [specA, specB]) {
      const has = key < spec.splits * spec.keysPerSplit;
      out.push({
        kind: 'final',
        checker: `co-${spec.name}`,
        key,
        last: has ? spec.seqsPerKey - 1 : -1,
        count: has ? spec.seqsPerKey : 0,
      });
    }
  }
  return out.map(canonical).sort();
}
