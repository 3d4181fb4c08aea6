/**
 * Exactly-once and at-least-once side by side: the same seed, the same job, the same
 * barrier timing and the same failure. At-least-once double-counts (the checker sees
 * duplicates); exactly-once never does.
 *
 * Why at-least-once must double-count here: the checker reads two channels (a keyBy shuffle
 * from two source subtasks, each behind its own gate task). The test holds gate 1, so
 * checkpoint n's barrier reaches the checker on channel 0 long before channel 1. An
 * at-least-once checker does not block channel 0 after its barrier: it goes on processing
 * the records that follow the barrier on channel 0, which are *after* source 0's recorded
 * position, and their effect (the checker's `last` seq per key) goes into snapshot n once
 * channel 1's barrier finally arrives. After a failure and a restore from n, source 0
 * replays from its recorded position, so the checker sees those records a second time. An
 * exactly-once checker blocks channel 0 from its barrier until the barrier arrived on
 * channel 1 (alignment), so snapshot n holds exactly the records before the barrier.
 */
import { describe, expect, it } from 'vitest';
import {
  AbstractStreamOperator,
  type JobClient,
  ManualClock,
  type OneInputStreamOperator,
  StreamExecutionEnvironment,
} from '../../../src/index.ts';
import {
  baseSeed,
  canonical,
  derivedSeed,
  InjectedFailure,
  type Mode,
  type Out,
  Probe,
  type Rec,
  type SeqSpec,
  SequenceChecker,
  seqRecord,
  sequenceSource,
  TICK_DELAY_MS,
  TICK_EVERY,
  TransactionalCollectSink,
  TxnStore,
} from './support.ts';

/** What the test controls in each gate subtask. */
class GateControl {
  hold = false;
  blocked = false;
  failNext = false;
  records = 0;
  /** Records passed when each checkpoint's barrier passed this gate (first attempt only). */
  readonly recordsAtSnapshot = new Map<number, number>();
  #release: (() => void) | undefined;

  waitIfHeld(): undefined | Promise<void> {
    if (!this.hold) return undefined;
    this.blocked = true;
    return new Promise<void>((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.hold = false;
    this.blocked = false;
    this.#release?.();
    this.#release = undefined;
  }
}

/** A pass-through task that the test can hold (before a batch) or make fail (on a record). */
class Gate extends AbstractStreamOperator<Rec> implements OneInputStreamOperator<Rec, Rec> {
  readonly #controls: readonly GateControl[];
  #attemptRecords = 0;

  constructor(controls: readonly GateControl[]) {
    super();
    this.#controls = controls;
  }

  get #control(): GateControl {
    return this.#controls[this.context.subtaskIndex];
  }

  prepareBatch(): undefined | Promise<void> {
    return this.#control.waitIfHeld();
  }

  processElement(value: Rec, timestamp: number): void {
    const control = this.#control;
    if (control.failNext) {
      control.failNext = false;
      throw new InjectedFailure(`injected failure in gate ${this.context.subtaskIndex}`);
    }
    control.records++;
    this.#attemptRecords++;
    this.output.collect(value, timestamp);
  }

  snapshotState(checkpointId: number): void {
    if (!this.context.isRestored) this.#control.recordsAtSnapshot.set(checkpointId, this.#attemptRecords);
  }
}

/** Yields event-loop turns, advancing `clock` by `stepMs` per turn, until `condition` holds. */
async function until(clock: ManualClock, stepMs: number, condition: () => boolean, what: string) {
  for (let turn = 0; turn < 100_000; turn++) {
    if (condition()) return;
    clock.advance(stepMs);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting until ${what}`);
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function expectedCheckerOutput(spec: SeqSpec): string[] {
  const out: Out[] = [];
  for (let key = 0; key < spec.splits * spec.keysPerSplit; key++) {
    out.push({ kind: 'final', checker: spec.name, key, last: spec.seqsPerKey - 1, count: spec.seqsPerKey });
    for (let seq = 0; seq < spec.seqsPerKey; seq += TICK_EVERY) {
      out.push({ kind: 'tick', checker: spec.name, key, at: seq + TICK_DELAY_MS });
    }
  }
  return out.map(canonical).sort();
}

interface ModeRun {
  readonly duplicates: number;
  readonly violations: readonly string[];
  readonly published: string[];
  readonly restarts: number;
  /** Whether the checker processed a record that followed barrier n on channel 0 before n completed. */
  readonly overtaken: boolean;
}

async function runMode(mode: Mode, seed: number, checkerParallelism: number): Promise<ModeRun> {
  const spec: SeqSpec = { name: 'A', splits: 2, keysPerSplit: 3 + (seed % 3), seqsPerKey: 400 };
  const clock = new ManualClock(1_000_000);
  const probe = new Probe();
  const store = new TxnStore();
  const controls = [new GateControl(), new GateControl()];
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    maxParallelism: 8,
    clock,
    randomSeed: seed,
    // Periodic checkpoints far apart: the test triggers the one that matters.
    checkpointing: { mode, intervalMs: 1e12 },
    restartStrategy: { kind: 'fixed-delay', attempts: 3, delayMs: 0 },
    logger: { log: () => {} },
  });
  sequenceSource(env, spec, { ratePerSecond: 20_000 })
    .transform('Gate', () => new Gate(controls))
    .setParallelism(2)
    .disableChaining()
    .uid('gate')
    .keyBy((r) => r.key)
    .process(() => new SequenceChecker(probe, mode, spec.name))
    .setParallelism(checkerParallelism)
    .uid('checker')
    .transform('Transactional Sink', () => new TransactionalCollectSink(store))
    .setParallelism(1)
    .uid('sink');
  const client: JobClient = env.executeAsync(`modes ${mode} ${seed}`);
  const what = `${mode}, seed ${seed}, checker parallelism ${checkerParallelism}`;

  // Both channels flowing; then gate 1 holds a batch (and everything behind it).
  await until(clock, 1, () => controls[0].records > 50 && controls[1].records > 50, `${what}: records flow`);
  controls[1].hold = true;
  await until(clock, 1, () => controls[1].blocked, `${what}: gate 1 holds`);
  // Checkpoint n: its barrier passes gate 0 at once, and waits behind gate 1's held batch.
  const checkpoint = client.triggerCheckpoint();
  let checkpointId = 0;
  await until(
    clock,
    0,
    () => {
      checkpointId = [...controls[0].recordsAtSnapshot.keys()].at(-1) ?? 0;
      return checkpointId > 0;
    },
    `${what}: barrier passes gate 0`,
  );
  // Records after the barrier on channel 0: source 0 owns split 0, whose record o is seqRecord(o).
  const atBarrier = controls[0].recordsAtSnapshot.get(checkpointId)!;
  const firstAfter = seqRecord(spec, atBarrier);
  const overtook = () => (probe.maxSeen.get(`${spec.name}/${firstAfter.key}`) ?? -1) >= firstAfter.seq;
  await until(
    clock,
    1,
    () => controls[0].records >= atBarrier + 20,
    `${what}: gate 0 passes records after the barrier`,
  );
  if (mode === 'at-least-once') {
    await until(clock, 0, overtook, `${what}: the at-least-once checker processes records after the barrier`);
  } else {
    await turns(200); // Every chance to process them, were channel 0 not blocked.
  }
  const overtaken = overtook();
  controls[1].release();
  await until(
    clock,
    1,
    () => client.checkpointStatistics().some((s) => s.id === checkpointId && s.status === 'COMPLETED'),
    `${what}: checkpoint ${checkpointId} completes`,
  );
  await checkpoint;
  // A failure: the job restores checkpoint n and source 0 replays from its position in n.
  controls[0].failNext = true;
  let ended = false;
  const result = client.result().finally(() => {
    ended = true;
  });
  await until(clock, 1, () => ended, `${what}: the job ends`);
  const { restarts } = await result;
  return {
    duplicates: probe.duplicates,
    violations: probe.violations,
    published: store.published(),
    restarts,
    overtaken,
  };
}

const BASE_SEED = baseSeed();

describe(`exactly-once vs at-least-once under the same failure (WEIR_FT_SEED=${BASE_SEED})`, () => {
  for (const [index, checkerParallelism] of [1, 2, 3].entries()) {
    it(`checker parallelism ${checkerParallelism}`, async () => {
      const seed = derivedSeed(BASE_SEED, index);
      const what = (mode: Mode | 'both') =>
        `${mode}, seed ${seed}, checker parallelism ${checkerParallelism} (WEIR_FT_SEED=${BASE_SEED})`;
      const spec: SeqSpec = { name: 'A', splits: 2, keysPerSplit: 3 + (seed % 3), seqsPerKey: 400 };
      const atLeastOnce = await runMode('at-least-once', seed, checkerParallelism);
      const exactlyOnce = await runMode('exactly-once', seed, checkerParallelism);
      console.log(
        `${what('both')}: at-least-once saw ${atLeastOnce.duplicates} duplicates, exactly-once ${exactlyOnce.duplicates}`,
      );
      expect(atLeastOnce.restarts, what('at-least-once')).toBe(1);
      expect(exactlyOnce.restarts, what('exactly-once')).toBe(1);
      // At-least-once: records overtook the barrier, and were counted twice after the restore.
      expect(atLeastOnce.overtaken, what('at-least-once')).toBe(true);
      expect(atLeastOnce.duplicates, what('at-least-once')).toBeGreaterThan(0);
      expect(atLeastOnce.violations, `${what('at-least-once')}: never a gap`).toEqual([]);
      // Exactly-once: the aligned channel held them back; no duplicate, no gap.
      expect(exactlyOnce.overtaken, what('exactly-once')).toBe(false);
      expect(exactlyOnce.duplicates, what('exactly-once')).toBe(0);
      expect(exactlyOnce.violations, what('exactly-once')).toEqual([]);
      // The checker ignores what it saw already, so both publish the failure-free result.
      expect(exactlyOnce.published, what('exactly-once')).toEqual(expectedCheckerOutput(spec));
      expect(atLeastOnce.published, what('at-least-once')).toEqual(expectedCheckerOutput(spec));
    });
  }
});
