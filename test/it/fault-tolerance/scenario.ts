/** A seeded random scenario: the job's shape, its checkpointing, its storage, and the failures to inject. */
import {
  type CheckpointConfig,
  type CheckpointStorage,
  FaultInjectingFileSystem,
  FileSystemCheckpointStorage,
  InMemoryFileSystem,
  JobManagerCheckpointStorage,
  SeededRandom,
} from '../../../src/index.ts';
import { expectedOutput, type InjectorPlacement, type JobShape } from './job.ts';
import { FailurePlan, type SeqSpec } from './support.ts';

export interface Scenario {
  readonly seed: number;
  readonly shape: JobShape;
  readonly plan: FailurePlan;
  readonly checkpointing: Partial<CheckpointConfig>;
  readonly storage: CheckpointStorage;
  readonly storageName: string;
  readonly maxParallelism: number;
  readonly expected: string[];
}

const PLACEMENTS: readonly InjectorPlacement[] = ['source', 'keyed', 'sink'];

/** Manual-clock duration of the sources, in ms (they are rate-limited to take about this long). */
const SOURCE_DURATION_MS = 150;

export function scenario(seed: number): Scenario {
  const random = new SeededRandom(seed);
  const int = (min: number, max: number) => min + random.nextInt(max - min + 1);
  const pick = <T>(values: readonly T[]): T => values[random.nextInt(values.length)];
  const spec = (name: string, seqsPerKey: number): SeqSpec => ({
    name,
    splits: int(1, 4),
    keysPerSplit: int(2, 5),
    seqsPerKey,
  });
  const seqsPerKey = int(120, 360);
  const specA = spec('A', seqsPerKey);
  const specB = spec('B', int(60, seqsPerKey));
  const count = Math.max(
    specA.splits * specA.keysPerSplit * specA.seqsPerKey,
    specB.splits * specB.keysPerSplit * specB.seqsPerKey,
  );
  const shape: JobShape = {
    specA,
    specB,
    injectorAt: pick(PLACEMENTS),
    injectorParallelism: int(1, 4),
    checkerParallelism: int(1, 4),
    windowParallelism: int(1, 4),
    coParallelism: int(1, 4),
    windowMs: pick([5, 10, 25]),
    ratePerSecond: Math.ceil((count * 1000) / SOURCE_DURATION_MS),
  };
  const expected = expectedOutput(shape);
  const throughInjector =
    shape.injectorAt === 'sink' ? expected.length : specA.splits * specA.keysPerSplit * specA.seqsPerKey;
  const asyncWrites = random.next() < 0.5 ? int(1, 3) : 0;
  const tolerateAsync = asyncWrites > 0 && random.next() < 0.5;
  const plan = new FailurePlan(random.nextInt(2 ** 31), {
    recordTargets: Array.from({ length: int(2, 5) }, () => 1 + random.nextInt(throughInjector - 1)),
    snapshotTargets: Array.from({ length: int(0, 2) }, () => int(1, 12)),
    inFlight: int(0, 2),
    restore: int(0, 2),
    asyncWrites,
    inFlightSubtask: random.nextInt(
      shape.injectorAt === 'keyed'
        ? shape.injectorParallelism
        : shape.injectorAt === 'sink'
          ? 1
          : specA.splits,
    ),
  });
  let storage: CheckpointStorage;
  let storageName: string;
  if (asyncWrites > 0 || random.next() < 0.5) {
    const fileSystem = new FaultInjectingFileSystem(new InMemoryFileSystem());
    fileSystem.addRule((operation, path) =>
      operation === 'writeFile' ? plan.asyncWriteFault(path) : undefined,
    );
    storage = new FileSystemCheckpointStorage('/checkpoints', { fileSystem });
    storageName = 'filesystem (in memory, fault-injecting)';
  } else {
    storage = new JobManagerCheckpointStorage();
    storageName = 'job manager';
  }
  return {
    seed,
    shape,
    plan,
    checkpointing: {
      intervalMs: int(2, 10),
      tolerableConsecutiveFailures: tolerateAsync ? 1_000 : 0,
      retained: int(1, 3),
    },
    storage,
    storageName,
    maxParallelism: pick([8, 8, 32, 128]),
    expected,
  };
}

/** One line describing a scenario, for assertion messages. */
export function describeScenario(s: Scenario): string {
  const { shape } = s;
  const spec = (x: SeqSpec) => `${x.name}: ${x.splits} splits x ${x.keysPerSplit} keys x ${x.seqsPerKey}`;
  return (
    `seed ${s.seed} [${spec(shape.specA)}; ${spec(shape.specB)}; injector at ${shape.injectorAt}` +
    ` p=${shape.injectorParallelism}; checker p=${shape.checkerParallelism}; windows p=${shape.windowParallelism}` +
    ` ${shape.windowMs} ms; co p=${shape.coParallelism}; max parallelism ${s.maxParallelism};` +
    ` checkpoints every ${s.checkpointing.intervalMs} ms, tolerable ${s.checkpointing.tolerableConsecutiveFailures}` +
    `, retained ${s.checkpointing.retained}; ${s.storageName}]`
  );
}
