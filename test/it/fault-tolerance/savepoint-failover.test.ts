/**
 * A failover after an intermediate savepoint (triggerSavepoint, the job going on). Recovery
 * restores the latest *checkpoint*: savepoints are not recovery points. Had the savepoint's
 * completion reached the operators as notifyCheckpointComplete, a transactional sink would
 * have committed output that the recovery point does not cover, and the replay would commit
 * it again (this test found that: every window between checkpoint 1 and the savepoint was
 * published twice). Intermediate savepoints now commit no side effects, as in Flink 1.15+.
 */
import { describe, expect, it } from 'vitest';
import {
  AbstractStreamOperator,
  FileSystemCheckpointStorage,
  InMemoryFileSystem,
  ManualClock,
  type OneInputStreamOperator,
  StreamExecutionEnvironment,
  type TimeWindow,
  TumblingEventTimeWindows,
  WatermarkStrategy,
} from '../../../src/index.ts';
import { driveUntil } from './job.ts';
import {
  baseSeed,
  canonical,
  eventTime,
  InjectedFailure,
  type Out,
  type Rec,
  type SeqSpec,
  sequenceSource,
  TransactionalCollectSink,
  TxnStore,
} from './support.ts';

class Tripwire extends AbstractStreamOperator<Rec> implements OneInputStreamOperator<Rec, Rec> {
  readonly #control: { armed: boolean };

  constructor(control: { armed: boolean }) {
    super();
    this.#control = control;
  }

  processElement(value: Rec, timestamp: number): void {
    if (this.#control.armed) {
      this.#control.armed = false;
      throw new InjectedFailure('tripwire');
    }
    this.output.collect(value, timestamp);
  }
}

const BASE_SEED = baseSeed();

describe(`a failover after an intermediate savepoint (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it('publishes every window once [fails: sinks commit on savepoint completion, recovery ignores savepoints]', async () => {
    const spec: SeqSpec = { name: 'A', splits: 2, keysPerSplit: 3, seqsPerKey: 300 };
    const clock = new ManualClock(1_000_000);
    const store = new TxnStore();
    const tripwire = { armed: false };
    const env = StreamExecutionEnvironment.create({
      parallelism: 2,
      maxParallelism: 8,
      autoWatermarkIntervalMs: 1,
      clock,
      randomSeed: BASE_SEED,
      checkpointing: { intervalMs: 1e12 },
      checkpointStorage: new FileSystemCheckpointStorage('/checkpoints', {
        fileSystem: new InMemoryFileSystem(),
      }),
      restartStrategy: { kind: 'fixed-delay', attempts: 2, delayMs: 0 },
      logger: { log: () => {} },
    });
    sequenceSource(env, spec, { ratePerSecond: 6_000 })
      .assignTimestampsAndWatermarks(
        WatermarkStrategy.forMonotonousTimestamps<Rec>().withTimestampAssigner((r) => eventTime(r)),
      )
      .uid('watermarks')
      .transform('Tripwire', () => new Tripwire(tripwire))
      .uid('tripwire')
      .keyBy((r) => r.key)
      .window(TumblingEventTimeWindows.of(10))
      .aggregate(
        { createAccumulator: () => 0, add: (_r: Rec, n: number) => n + 1, getResult: (n: number) => n },
        (key: number, ctx, [count]: number[], out) => {
          out.collect({ kind: 'window', key, start: (ctx.window as TimeWindow).start, count } satisfies Out);
        },
      )
      .uid('windows')
      .transform('Transactional Sink', () => new TransactionalCollectSink(store))
      .setParallelism(1)
      .uid('sink');
    const client = env.executeAsync('savepoint then failover');
    const hold = { advanceMs: 0 };
    const run = (ms: number) =>
      driveUntil(clock, new Promise((r) => clock.schedule(clock.now() + ms, () => r(undefined))), `${ms} ms`);
    await run(30);
    await driveUntil(clock, client.triggerCheckpoint(), 'checkpoint 1', hold);
    await run(40);
    await driveUntil(clock, client.triggerSavepoint('/savepoints'), 'the savepoint', hold);
    await run(5);
    tripwire.armed = true;
    const result = await driveUntil(clock, client.result(), 'the job ends');
    expect(result.restarts, `seed ${BASE_SEED}`).toBe(1);
    const expected: string[] = [];
    for (let key = 0; key < spec.splits * spec.keysPerSplit; key++) {
      for (let start = 0; start < spec.seqsPerKey; start += 10) {
        expected.push(canonical({ kind: 'window', key, start, count: 10 } satisfies Out));
      }
    }
    expect(store.published(), `seed ${BASE_SEED} (WEIR_FT_SEED=${BASE_SEED})`).toEqual(expected.sort());
  });
});
