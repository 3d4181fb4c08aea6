/**
 * The exactly-once FileSink in whole jobs: failures injected at random records, restarts from
 * checkpoints, and the committed files must hold exactly the lines of a failure-free run.
 * WEIR_FT_SEED replays a run.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Collector,
  dateTimeBucketAssigner,
  FileSink,
  type KeyedContext,
  type KeyedProcessFunction,
  ManualClock,
  type RuntimeContext,
  StreamExecutionEnvironment,
  type ValueState,
  valueState,
} from '../../../src/index.ts';
import { driveUntil } from '../../it/fault-tolerance/job.ts';
import {
  baseSeed,
  derivedSeed,
  FailureInjector,
  FailurePlan,
  Probe,
  type Rec,
  type SeqSpec,
  seqCount,
  sequenceSource,
  withTempDir,
} from '../../it/fault-tolerance/support.ts';

const SEED = baseSeed();

/** Emits `<key>:<seq>:<count of records of the key so far>`: a duplicate or a lost record changes a line. */
class RunningCount implements KeyedProcessFunction<number, Rec, string> {
  #count!: ValueState<number>;
  open(context: RuntimeContext): void {
    this.#count = context.getState(valueState<number>('count', { defaultValue: 0 }));
  }
  processElement(r: Rec, _ctx: KeyedContext<number>, out: Collector<string>): void {
    const count = (this.#count.value() ?? 0) + 1;
    this.#count.update(count);
    out.collect(`${r.key}:${r.seq}:${count}`);
  }
}

function expectedLines(spec: SeqSpec): string[] {
  const lines: string[] = [];
  for (let key = 0; key < spec.splits * spec.keysPerSplit; key++) {
    for (let seq = 0; seq < spec.seqsPerKey; seq++) lines.push(`${key}:${seq}:${seq + 1}`);
  }
  return lines.sort();
}

/** Every file below `dir`: committed lines (sorted) and the names of hidden in-progress files. */
async function readOutput(dir: string): Promise<{ lines: string[]; inProgress: string[]; files: string[] }> {
  const lines: string[] = [];
  const inProgress: string[] = [];
  const files: string[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (entry.name.startsWith('.')) {
      inProgress.push(path);
      continue;
    }
    files.push(path);
    const text = await readFile(path, 'utf8');
    for (const line of text.split('\n')) if (line !== '') lines.push(line);
  }
  return { lines: lines.sort(), inProgress, files };
}

interface FileJobOptions {
  readonly dir: string;
  readonly seed: number;
  readonly plan: FailurePlan;
  readonly checkpointIntervalMs: number | undefined;
  readonly sinkParallelism: number;
  readonly spec: SeqSpec;
}

async function runFileJob(options: FileJobOptions) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    maxParallelism: 8,
    clock,
    randomSeed: options.seed,
    checkpointing:
      options.checkpointIntervalMs === undefined ? {} : { intervalMs: options.checkpointIntervalMs },
    restartStrategy: { kind: 'fixed-delay', attempts: 50, delayMs: 0 },
    logger: { log: () => {} },
  });
  const probe = new Probe();
  sequenceSource(env, options.spec, { ratePerSecond: 50_000 })
    .transform('Failure Injector', () => new FailureInjector<Rec>(options.plan, probe, 'injector'))
    .uid('injector')
    .keyBy((r) => r.key)
    .process(() => new RunningCount())
    .uid('count')
    .sinkTo(
      new FileSink<string>(join(options.dir, 'out'), {
        suffix: '.txt',
        rollSizeBytes: 700,
        clock,
        bucketAssigner: dateTimeBucketAssigner({ format: 'yyyy-MM-dd--HH-mm' }),
      }),
      'Sink: Files',
    )
    .setParallelism(options.sinkParallelism)
    .uid('files');
  const client = env.executeAsync(`file-sink ${options.seed}`);
  const result = await driveUntil(clock, client.result(), `seed ${options.seed}: the job ends`, {
    pace: 'timer',
    onHang: async () => {
      await client.cancel();
    },
  });
  return { result, output: await readOutput(join(options.dir, 'out')) };
}

describe('exactly-once FileSink in a job', () => {
  const spec: SeqSpec = { name: 'F', splits: 2, keysPerSplit: 3, seqsPerKey: 150 };
  const expected = expectedLines(spec);

  it('failure-free, checkpointing off: every line committed at end of input', async () => {
    await withTempDir(async (dir) => {
      const { output } = await runFileJob({
        dir,
        seed: SEED,
        plan: FailurePlan.none(),
        checkpointIntervalMs: undefined,
        sinkParallelism: 2,
        spec,
      });
      expect(output.inProgress).toEqual([]);
      expect(output.lines).toEqual(expected);
      expect(output.files.length).toBeGreaterThan(2); // rolled by size
    });
  });

  for (let run = 0; run < 4; run++) {
    it(`failures at random records, restarts: committed lines equal a failure-free run (run ${run})`, async () => {
      const seed = derivedSeed(SEED, run);
      const what = `seed ${seed} (WEIR_FT_SEED=${SEED})`;
      await withTempDir(async (dir) => {
        const plan = new FailurePlan(seed, {});
        const total = seqCount(spec);
        for (let i = 0; i < 3; i++) plan.recordTargets.push(1 + plan.random.nextInt(total * 2));
        plan.recordTargets.sort((a, b) => a - b);
        const { result, output } = await runFileJob({
          dir,
          seed,
          plan,
          checkpointIntervalMs: 5,
          sinkParallelism: 1 + (run % 3),
          spec,
        });
        expect(output.lines, what).toEqual(expected);
        expect(output.inProgress, what).toEqual([]);
        expect(result.restarts, what).toBe(plan.injected.record);
      });
    });
  }
});
