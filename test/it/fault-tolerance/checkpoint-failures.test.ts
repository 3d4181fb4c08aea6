/**
 * Failures in the asynchronous phase of checkpoints: a state-file write fails (ENOSPC, EIO)
 * on a fault-injecting file system, so a subtask declines the checkpoint. Within
 * `tolerableConsecutiveFailures` the job keeps running; beyond it, it restarts. Either way
 * the output is exact.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  AbstractStreamOperator,
  CollectSink,
  FaultInjectingFileSystem,
  FileSystemCheckpointStorage,
  InMemoryFileSystem,
  ManualClock,
  type OneInputStreamOperator,
  StreamExecutionEnvironment,
} from '../../../src/index.ts';
import { runJob } from './job.ts';
import { scenario } from './scenario.ts';
import { baseSeed, derivedSeed, FailurePlan, FailureTally, InjectedFailure, Probe } from './support.ts';

const BASE_SEED = baseSeed();
const tally = new FailureTally();

afterAll(() => {
  console.log(`checkpoint failures (WEIR_FT_SEED=${BASE_SEED}): ${tally.summary()}`);
});

function faultInjectingStorage(plan: FailurePlan): {
  storage: FileSystemCheckpointStorage;
  fileSystem: FaultInjectingFileSystem;
} {
  const fileSystem = new FaultInjectingFileSystem(new InMemoryFileSystem());
  fileSystem.addRule((operation, path) =>
    operation === 'writeFile' ? plan.asyncWriteFault(path) : undefined,
  );
  return { storage: new FileSystemCheckpointStorage('/checkpoints', { fileSystem }), fileSystem };
}

describe(`state-file write failures in the asynchronous phase (WEIR_FT_SEED=${BASE_SEED})`, () => {
  for (const [index, tolerated] of [true, true, false, false].entries()) {
    it(`${tolerated ? 'within' : 'without'} tolerableConsecutiveFailures (run ${index})`, async () => {
      const seed = derivedSeed(BASE_SEED, 1000 + index);
      const { shape, expected } = scenario(seed);
      const plan = new FailurePlan(seed, { asyncWrites: 4 });
      const { storage } = faultInjectingStorage(plan);
      const probe = new Probe();
      const { published, result, client } = await runJob({
        shape,
        mode: 'exactly-once',
        probe,
        plan,
        seed,
        checkpointing: { intervalMs: 3, tolerableConsecutiveFailures: tolerated ? 4 : 0 },
        checkpointStorage: storage,
      });
      tally.add(plan, result.restarts);
      const what = `seed ${seed} (WEIR_FT_SEED=${BASE_SEED}), ${plan.injected['async-write']} failed writes`;
      expect(plan.injected['async-write'], `${what}: faults injected`).toBeGreaterThan(0);
      const failed = client
        .checkpointStatistics()
        .filter((s) => s.status === 'FAILED' && s.failureReason?.includes('injected fault'));
      for (const stats of failed) {
        expect(stats.failureReason, what).toMatch(
          /writing the snapshot failed: .*(ENOSPC|EIO).*\/chk-\d+\/.+\.(keyed|opstate)/,
        );
      }
      // Tolerated: the job never restarts. Not tolerated: each failed checkpoint restarts it.
      expect(result.restarts, what).toBe(tolerated ? 0 : plan.injected['async-write']);
      expect(probe.violations, what).toEqual([]);
      expect(published, what).toEqual(expected);
    });
  }
});

/** Holds `finish()` of its one subtask in the first attempt until released. */
class HoldFinish<T> extends AbstractStreamOperator<T> implements OneInputStreamOperator<T, T> {
  readonly #control: { holding: boolean; attempts: number; release: () => void };

  constructor(control: { holding: boolean; attempts: number; release: () => void }) {
    super();
    this.#control = control;
  }

  override open(): void {
    this.#control.attempts++;
  }

  processElement(value: T, timestamp: number): void {
    this.output.collect(value, timestamp);
  }

  override finish(): Promise<void> | undefined {
    if (this.#control.attempts > 1) return undefined;
    this.#control.holding = true;
    return new Promise((resolve) => {
      this.#control.release = resolve;
    });
  }
}

class Tripwire<T> extends AbstractStreamOperator<T> implements OneInputStreamOperator<T, T> {
  readonly #control: { armed: boolean; fired: number };

  constructor(control: { armed: boolean; fired: number }) {
    super();
    this.#control = control;
  }

  processElement(value: T, timestamp: number): void {
    if (this.#control.armed) {
      this.#control.armed = false;
      this.#control.fired++;
      throw new InjectedFailure('tripwire');
    }
    this.output.collect(value, timestamp);
  }
}

async function turn(clock: ManualClock, stepMs = 1): Promise<void> {
  clock.advance(stepMs);
  await new Promise<void>((resolve) => setImmediate(resolve));
}

async function until(clock: ManualClock, condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (condition()) return;
    await turn(clock);
  }
  throw new Error(`gave up waiting until ${what}`);
}

describe('checkpoint failures caused by a failover', () => {
  it('do not count towards tolerableConsecutiveFailures', async () => {
    // A subtask whose input ended acknowledges checkpoints with its final snapshot; while it
    // is still finishing, it waits for that snapshot. A failure elsewhere cancels it, and the
    // checkpoint it was waiting in is aborted: that is the failover, not a checkpoint failure.
    // After the restart, one genuine checkpoint failure is within the tolerated 1.
    const clock = new ManualClock(1_000_000);
    const fileSystem = new FaultInjectingFileSystem(new InMemoryFileSystem());
    const hold = { holding: false, attempts: 0, release: () => {} };
    const tripwire = { armed: false, fired: 0 };
    const env = StreamExecutionEnvironment.create({
      parallelism: 1,
      maxParallelism: 8,
      clock,
      checkpointing: { intervalMs: 1e12, tolerableConsecutiveFailures: 1 },
      checkpointStorage: new FileSystemCheckpointStorage('/checkpoints', { fileSystem }),
      restartStrategy: { kind: 'fixed-delay', attempts: 5, delayMs: 0 },
      logger: { log: () => {} },
    });
    env
      .fromGenerator({ count: 5, generate: (i) => i })
      .uid('short')
      .transform('Hold Finish', () => new HoldFinish<number>(hold))
      .uid('hold')
      .sinkTo(new CollectSink<number>());
    env
      .fromGenerator({ count: 400, generate: (i) => i, ratePerSecond: 1000 })
      .uid('long')
      .transform('Tripwire', () => new Tripwire<number>(tripwire))
      .uid('tripwire')
      .sinkTo(new CollectSink<number>());
    const client = env.executeAsync('failover declines');
    await until(clock, () => hold.holding, 'the short branch is finishing');
    const first = client.triggerCheckpoint().then(
      () => 'completed',
      (error: Error) => error.message,
    );
    await until(clock, () => client.checkpointStatistics().length === 1, 'checkpoint 1 is triggered');
    tripwire.armed = true;
    await until(clock, () => tripwire.fired === 1, 'the tripwire fires');
    hold.release();
    await until(clock, () => client.restarts() === 1 && client.status() === 'RUNNING', 'the job restarts');
    expect(await first, 'checkpoint 1 (deterministic, no seed)').toMatch(/checkpoint failed/);
    // One genuine failure in the new attempt: a state file cannot be written.
    fileSystem.failNext('writeFile', '.opstate', 'ENOSPC');
    const second = client.triggerCheckpoint().then(
      () => 'completed',
      (error: Error) => error.message,
    );
    await until(clock, () => client.checkpointStatistics().length === 2, 'checkpoint 2 is triggered');
    let outcome = '';
    void second.then((o) => {
      outcome = o;
    });
    await until(clock, () => outcome !== '', 'checkpoint 2 ends');
    expect(outcome, 'checkpoint 2 (deterministic, no seed)').toMatch(/ENOSPC/);
    let ended = false;
    const result = client.result().finally(() => {
      ended = true;
    });
    await until(clock, () => ended, 'the job ends');
    const stats = client
      .checkpointStatistics()
      .map((s) => `${s.id} ${s.status} ${s.failureReason ?? ''}`)
      .join('\n');
    expect((await result).restarts, `one restart (the tripwire), checkpoints:\n${stats}`).toBe(1);
  });
});
