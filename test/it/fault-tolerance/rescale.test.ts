/**
 * Rescaling through a savepoint: the job runs at parallelism 3 (rate-limited sources), stops
 * with a savepoint mid-run, and resumes at 1, 2 and 5. Keyed state (checkers, windows,
 * timers) moves by key groups; the generator's splits (operator list state) are dealt out
 * again, so some subtasks read several splits and some none; the failure injector's union
 * list state reaches every new subtask whole. Each resumed run publishes, together with what
 * the first run published, exactly what a failure-free run publishes. Also: a savepoint
 * copied elsewhere restores; a savepoint with state of an operator the job no longer has is
 * refused with an error naming it, unless allowNonRestoredState.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driveUntil, driveWhile, expectedOutput, type JobShape, startJob } from './job.ts';
import { baseSeed, FailurePlan, FailureTally, Probe, type TxnStore } from './support.ts';

const BASE_SEED = baseSeed();
const MAX_PARALLELISM = 128;

/** The job at parallelism `p` everywhere; the specs (hence splits and keys) stay those of the first run. */
function shapeAt(p: number, extra: Partial<JobShape> = {}): JobShape {
  return {
    specA: { name: 'A', splits: 3, keysPerSplit: 4, seqsPerKey: 400 },
    specB: { name: 'B', splits: 3, keysPerSplit: 3, seqsPerKey: 300 },
    injectorAt: 'keyed',
    injectorParallelism: p,
    checkerParallelism: p,
    windowParallelism: p,
    coParallelism: p,
    windowMs: 10,
    sourceParallelism: p,
    ratePerSecond: 24_000,
    // A reader with several splits interleaves their (different) seq ranges.
    outOfOrdernessMs: 100,
    ...extra,
  };
}

const tally = new FailureTally();
let dir: string;
let savepoint: string;
let firstRun: TxnStore;
const what = (detail: string) => `${detail} (seed ${BASE_SEED}, WEIR_FT_SEED=${BASE_SEED})`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weir-ft-rescale-'));
  const probe = new Probe();
  const job = startJob({
    shape: shapeAt(3),
    mode: 'exactly-once',
    probe,
    plan: FailurePlan.none(),
    seed: BASE_SEED,
    checkpointing: { intervalMs: 7 },
    checkpointStorage: join(dir, 'checkpoints'),
    environment: { maxParallelism: MAX_PARALLELISM },
    pace: 'timer',
  });
  const total = 3 * 4 * 400;
  await driveWhile(job.clock, () => probe.records < total / 3, 'a third of source A is checked', 'timer');
  savepoint = await driveUntil(
    job.clock,
    job.client.stopWithSavepoint(join(dir, 'savepoints')),
    what('stop with savepoint'),
    // Time stands still: the rate-limited sources pause, so the savepoint is where we stopped.
    { pace: 'timer', advanceMs: 0 },
  );
  const result = await driveUntil(job.clock, job.client.result(), what('the stopped job ends'), {
    pace: 'timer',
  });
  expect(result.savepointPath, what('detail')).toBe(savepoint);
  expect(probe.violations, what('first run')).toEqual([]);
  firstRun = job.store;
  expect(firstRun.published().length, what('mid-run: part of the output is published')).toBeLessThan(
    expectedOutput(shapeAt(3)).length,
  );
});

afterAll(async () => {
  console.log(`rescale (WEIR_FT_SEED=${BASE_SEED}): ${tally.summary()}`);
  await rm(dir, { recursive: true, force: true });
});

async function resume(
  p: number,
  options: { path?: string; shape?: JobShape; allowNonRestoredState?: boolean; failures?: number } = {},
) {
  const shape = options.shape ?? shapeAt(p);
  const probe = new Probe();
  const recordsLeft = 3 * 4 * 400 - 400;
  const plan = new FailurePlan(BASE_SEED + p, {
    recordTargets: Array.from({ length: options.failures ?? 0 }, (_, i) => ((i + 1) * recordsLeft) / 4),
  });
  const job = startJob({
    shape,
    mode: 'exactly-once',
    probe,
    plan,
    store: firstRun.fork(),
    seed: BASE_SEED + p,
    checkpointing: { intervalMs: 7 },
    checkpointStorage: join(dir, `checkpoints-${p}`),
    pace: 'timer',
    environment: {
      maxParallelism: MAX_PARALLELISM,
      restore: {
        kind: 'path',
        path: options.path ?? savepoint,
        allowNonRestoredState: options.allowNonRestoredState,
      },
    },
  });
  const result = await job.finish();
  tally.add(plan, result.restarts);
  return { probe, plan, published: job.store.published(), result };
}

describe(`rescaling from a savepoint taken at parallelism 3 (WEIR_FT_SEED=${BASE_SEED})`, () => {
  for (const p of [1, 2, 5]) {
    it(`resumes at parallelism ${p}`, async () => {
      const { probe, plan, published, result } = await resume(p, { failures: 2 });
      const at = what(`parallelism 3 -> ${p}`);
      expect(probe.violations, at).toEqual([]);
      expect(published, at).toEqual(expectedOutput(shapeAt(3)));
      expect(plan.recordTargets, `${at}: injected failures that never fired`).toEqual([]);
      expect(result.restarts, at).toBe(2);
      // Union list state: every new injector subtask got all three old subtasks' entries.
      const fromSavepoint = probe.restoredUnion.slice(0, p);
      expect(fromSavepoint.map((r) => r.subtask).sort(), at).toEqual(Array.from({ length: p }, (_, i) => i));
      for (const restored of fromSavepoint) expect(restored.from, at).toEqual([0, 1, 2]);
    });
  }

  it('refuses state of an operator the job no longer has, naming it', async () => {
    const error = await resume(2, { shape: shapeAt(2, { withoutWindows: true }) }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message, what('restore without the window operator')).toMatch(/'windows' \(Window Count\)/);
    expect(error?.message, what('detail')).toContain(savepoint);
    expect(error?.message, what('detail')).toMatch(/allow-non-restored-state|allowNonRestoredState/);
  });

  it('with allowNonRestoredState, drops that state and runs', async () => {
    const shape = shapeAt(2, { withoutWindows: true });
    const { probe, published } = await resume(2, { shape, allowNonRestoredState: true });
    const noWindows = (values: readonly string[]) => values.filter((v) => !v.includes('"window"'));
    expect(probe.violations, what('allowNonRestoredState')).toEqual([]);
    expect(noWindows(published), what('allowNonRestoredState')).toEqual(expectedOutput(shape));
  });

  it('restores from a copy of the savepoint directory, the original deleted', async () => {
    const copy = join(dir, 'elsewhere', 'copied-savepoint');
    await cp(savepoint, copy, { recursive: true });
    await rm(savepoint, { recursive: true });
    const { probe, published } = await resume(2, { path: copy, failures: 1 });
    expect(probe.violations, what('copied savepoint')).toEqual([]);
    expect(published, what('copied savepoint')).toEqual(expectedOutput(shapeAt(3)));
  });
});
