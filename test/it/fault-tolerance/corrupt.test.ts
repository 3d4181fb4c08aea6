/**
 * Damaged and mismatched restore points. Each is detected before any state is used, with an
 * error naming the file: a truncated `_metadata`, a flipped byte in a state file, a missing
 * state file, an incompatible state serializer. A savepoint of another job restores when
 * the operators' uids match and is refused, listing them, when they do not. `latest` falls
 * back to an older retained checkpoint when the newest is damaged, and says so in the log.
 */
import { cp, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Collector,
  type KeyedContext,
  type KeyedProcessFunction,
  ManualClock,
  type RuntimeContext,
  SeededRandom,
  StreamExecutionEnvironment,
  type TypeSerializer,
  type ValueState,
  valueState,
} from '../../../src/index.ts';
import { driveUntil, driveWhile, expectedOutput, type JobShape, startJob } from './job.ts';
import {
  baseSeed,
  CapturingLogger,
  FailurePlan,
  type Out,
  Probe,
  TransactionalCollectSink,
  type TxnStore,
} from './support.ts';

const BASE_SEED = baseSeed();
const random = new SeededRandom(BASE_SEED);
const what = (detail: string) => `${detail} (seed: WEIR_FT_SEED=${BASE_SEED})`;

const shape: JobShape = {
  specA: { name: 'A', splits: 2, keysPerSplit: 3, seqsPerKey: 300 },
  specB: { name: 'B', splits: 2, keysPerSplit: 2, seqsPerKey: 200 },
  injectorAt: 'keyed',
  injectorParallelism: 2,
  checkerParallelism: 2,
  windowParallelism: 2,
  coParallelism: 2,
  windowMs: 10,
  // Slow enough for several checkpoints on disk (fsync'd files) while it runs.
  ratePerSecond: 3_000,
};

let dir: string;
/** A savepoint of the job, taken mid-run. */
let savepoint: string;
/** The job's checkpoint directory after it was cancelled: the two newest checkpoints retained. */
let checkpoints: string;
let retainedIds: number[];
let firstRun: TxnStore;
/** What the first run had published as of its savepoint. */
let atSavepoint: TxnStore;
let jobId: string;

async function filesIn(directory: string): Promise<string[]> {
  return (await readdir(directory)).sort();
}

/** A fresh copy of `source` to damage. */
async function copyOf(source: string, name: string): Promise<string> {
  const target = join(dir, 'damaged', `${name}-${random.nextInt(1e9)}`);
  await cp(source, target, { recursive: true });
  return target;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weir-ft-corrupt-'));
  const probe = new Probe();
  const firstLog = new CapturingLogger();
  const job = startJob({
    shape,
    mode: 'exactly-once',
    probe,
    plan: FailurePlan.none(),
    seed: BASE_SEED,
    environment: { logger: firstLog },
    // Periodic checkpoints (rarely: the test triggers the ones that matter); two retained.
    checkpointing: { intervalMs: 50, retained: 2 },
    checkpointStorage: join(dir, 'checkpoints'),
    pace: 'timer',
  });
  jobId = job.client.jobId;
  await driveWhile(job.clock, () => probe.records < 1500, 'records flow', 'timer');
  // Time stands still while the savepoint and two more checkpoints are taken (the
  // rate-limited sources pause), so all three are mid-run.
  const hold = { pace: 'timer', advanceMs: 0 } as const;
  savepoint = await driveUntil(
    job.clock,
    job.client.triggerSavepoint(join(dir, 'savepoints')),
    what('savepoint'),
    hold,
  );
  const savepointId = job.client.checkpointStatistics().find((s) => s.kind === 'savepoint')!.id;
  for (let i = 0; i < 2; i++) {
    await driveUntil(
      job.clock,
      job.client.triggerCheckpoint(),
      what('a checkpoint after the savepoint'),
      hold,
    );
  }
  expect(job.client.restarts(), what(`no restarts; log:\n${firstLog.text()}`)).toBe(0);
  await job.client.cancel();
  firstRun = job.store;
  atSavepoint = job.store.fork(savepointId);
  checkpoints = join(dir, 'checkpoints', jobId);
  retainedIds = (await filesIn(checkpoints))
    .filter((name) => /^chk-\d+$/.test(name))
    .map((name) => Number(name.slice(4)))
    .sort((a, b) => a - b);
  expect(retainedIds.length, what('retained checkpoints')).toBe(2);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the job restored from `restore`; returns its outcome. */
async function restoreJob(
  restore: NonNullable<Parameters<typeof StreamExecutionEnvironment.create>[0]>['restore'],
  options: { logger?: CapturingLogger; jobShape?: JobShape; store?: TxnStore } = {},
) {
  const probe = new Probe();
  const job = startJob({
    shape: options.jobShape ?? shape,
    mode: 'exactly-once',
    probe,
    plan: FailurePlan.none(),
    store: options.store ?? firstRun.fork(),
    seed: BASE_SEED + 1,
    checkpointing: { intervalMs: 5 },
    checkpointStorage: join(dir, 'resumed'),
    restartAttempts: 1,
    pace: 'timer',
    environment: { restore, ...(options.logger === undefined ? {} : { logger: options.logger }) },
  });
  const outcome = await job.finish().then(
    (result) => ({ result, error: undefined }),
    (error: Error) => ({ result: undefined, error }),
  );
  return { ...outcome, probe, published: job.store.published() };
}

describe(`corrupt restore points are refused, naming the file (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it('a truncated _metadata', async () => {
    const copy = await copyOf(savepoint, 'truncated-metadata');
    const metadata = join(copy, '_metadata');
    const size = (await readFile(metadata)).length;
    const cut = 1 + random.nextInt(size - 1);
    await truncate(metadata, cut);
    const { error } = await restoreJob({ kind: 'path', path: copy });
    expect(error?.message, what(`_metadata cut to ${cut} of ${size} bytes`)).toContain(metadata);
  });

  it('a flipped byte in a state file', async () => {
    const copy = await copyOf(savepoint, 'flipped-byte');
    const stateFiles = (await filesIn(copy)).filter((f) => f !== '_metadata');
    const victim = join(copy, stateFiles[random.nextInt(stateFiles.length)]);
    const bytes = await readFile(victim);
    const at = random.nextInt(bytes.length);
    bytes[at] ^= 1 << random.nextInt(8);
    await writeFile(victim, bytes);
    const { error } = await restoreJob({ kind: 'path', path: copy });
    expect(error?.message, what(`bit flipped at byte ${at} of ${victim}`)).toContain(victim);
    expect(error?.message, what('detail')).toMatch(/checksum|CRC|corrupt/i);
  });

  it('a missing state file', async () => {
    const copy = await copyOf(savepoint, 'missing-file');
    const stateFiles = (await filesIn(copy)).filter((f) => f !== '_metadata');
    const victim = join(copy, stateFiles[random.nextInt(stateFiles.length)]);
    await rm(victim);
    const { error } = await restoreJob({ kind: 'path', path: copy });
    expect(error?.message, what(`deleted ${victim}`)).toContain(victim);
    expect(error?.message, what('detail')).toMatch(/missing|does not exist|not found/i);
  });
});

describe(`a savepoint of another job (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it('restores when the operators keep their uids', async () => {
    // Another job: another job id and name, the same operators (uids) at other parallelisms.
    const other: JobShape = { ...shape, checkerParallelism: 3, windowParallelism: 1, coParallelism: 4 };
    const { error, probe, published } = await restoreJob(
      { kind: 'path', path: savepoint },
      // The first run went on after its savepoint: continue from what it had published then.
      { jobShape: other, store: atSavepoint.fork() },
    );
    expect(error, what('restore into another job')).toBeUndefined();
    expect(probe.violations, what('restore into another job')).toEqual([]);
    expect(published, what('restore into another job')).toEqual(expectedOutput(shape));
  });

  it('is refused, listing the operators, when they do not match', async () => {
    const clock = new ManualClock(0);
    const env = StreamExecutionEnvironment.create({
      clock,
      maxParallelism: 8,
      restore: { kind: 'path', path: savepoint },
      logger: { log: () => {} },
    });
    env
      .fromGenerator({ count: 10, generate: (i) => `word ${i}` })
      .uid('words')
      .keyBy((w) => w)
      .map((w) => w.length)
      .uid('lengths')
      .print();
    const client = env.executeAsync('another job');
    const error = await driveUntil(clock, client.result(), 'the other job ends', { pace: 'timer' }).then(
      () => undefined,
      (e: Error) => e,
    );
    for (const uid of ['checker', 'windows', 'co-checker', 'injector', 'sink']) {
      expect(error?.message, what(`unmatched operator ${uid}`)).toContain(`'${uid}'`);
    }
    expect(error?.message, what('detail')).toContain(savepoint);
  });
});

/** Counts records per key in value state with a chosen serializer (id and version). */
function countingSerializer(id: string): TypeSerializer<number> {
  return {
    id,
    version: 1,
    serialize: (value, out) => out.writeFloat64(value),
    deserialize: (input) => input.readFloat64(),
  };
}

class Counter implements KeyedProcessFunction<number, number, Out> {
  readonly #serializerId: string;
  #count!: ValueState<number>;

  constructor(serializerId: string) {
    this.#serializerId = serializerId;
  }

  open(context: RuntimeContext): void {
    this.#count = context.getState(
      valueState<number>('count', { defaultValue: 0, serializer: countingSerializer(this.#serializerId) }),
    );
  }

  processElement(value: number, ctx: KeyedContext<number>, out: Collector<Out>): void {
    void ctx;
    void out;
    this.#count.update((this.#count.value() ?? 0) + value);
  }
}

function counterJob(serializerId: string, clock: ManualClock, restorePath?: string) {
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    clock,
    checkpointStorage: join(dir, 'counter-checkpoints'),
    restore: restorePath === undefined ? undefined : { kind: 'path', path: restorePath },
    restartStrategy: { kind: 'fixed-delay', attempts: 1, delayMs: 0 },
    logger: { log: () => {} },
  });
  env
    .fromGenerator({ count: 2_000, generate: (i) => i % 7, ratePerSecond: 10_000 })
    .uid('numbers')
    .keyBy((n) => n)
    .process(() => new Counter(serializerId))
    .uid('counter')
    .transform('Transactional Sink', () => new TransactionalCollectSink(firstRun.fork()))
    .uid('sink');
  return env.executeAsync(`counter ${serializerId}`);
}

describe(`an incompatible state serializer (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it('is refused with an error naming the state, both serializers and the file', async () => {
    const clock = new ManualClock(0);
    const first = counterJob('test.count', clock);
    await driveWhile(clock, () => clock.now() < 50, 'the counter job runs', 'timer');
    const path = await driveUntil(
      clock,
      first.stopWithSavepoint(join(dir, 'counter-savepoints')),
      'savepoint',
      { pace: 'timer' },
    );
    await driveUntil(clock, first.result(), 'the counter job stops', { pace: 'timer' });
    const second = counterJob('test.count-v2', clock, path);
    const error = await driveUntil(clock, second.result(), 'the restored counter job ends', {
      pace: 'timer',
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    const message = error?.message ?? '';
    expect(message, what('incompatible serializer')).toContain('test.count v1');
    expect(message, what('detail')).toContain('test.count-v2 v1');
    expect(message, what('detail')).toContain("'count'");
    expect(message, what('detail')).toMatch(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/counter-\\d\\.keyed`),
    );
  });
});

describe(`restore latest: fallback to an older retained checkpoint (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it('skips a damaged newest checkpoint and says so in the log', async () => {
    const root = join(dir, 'latest-fallback');
    await cp(join(dir, 'checkpoints'), root, { recursive: true });
    const [older, newest] = retainedIds;
    const newestDir = join(root, jobId, `chk-${newest}`);
    const stateFiles = (await filesIn(newestDir)).filter((f) => f !== '_metadata');
    const victim = join(newestDir, stateFiles[random.nextInt(stateFiles.length)]);
    const bytes = await readFile(victim);
    bytes[random.nextInt(bytes.length)] ^= 0xff;
    await writeFile(victim, bytes);
    const logger = new CapturingLogger();
    const { error, probe, published } = await restoreJob(
      { kind: 'latest', checkpointDirectory: root },
      { logger },
    );
    const log = logger.text();
    expect(error, what(`restore latest with chk-${newest} damaged`)).toBeUndefined();
    expect(log, what('the log')).toContain(`checkpoint chk-${newest} is damaged`);
    expect(log, what('detail')).toContain(victim);
    expect(log, what('detail')).toContain(`restoring chk-${older} instead`);
    expect(log, what('detail')).toContain(`restoring from checkpoint ${older}`);
    expect(probe.violations, what('fallback')).toEqual([]);
    // Restoring an older checkpoint than the one whose output was committed republishes what
    // came after it; the checkers' final state is exact.
    const finals = (values: readonly string[]) =>
      [...new Set(values.filter((v) => v.includes('"final"')))].sort();
    expect(finals(published), what('fallback')).toEqual(finals(expectedOutput(shape)));
  });
});
