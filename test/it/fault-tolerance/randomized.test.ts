/**
 * Many small seeded runs of the full job (keyed state, timers, windows, a two-input operator)
 * at parallelism 1–4, each with failures injected at random records, in snapshotState, right
 * after a snapshot (in-flight checkpoint), in open() after a restore, and on state-file
 * writes (the asynchronous phase). Exactly-once: the checkers never see a gap or a duplicate,
 * and the sink publishes exactly what a failure-free run publishes.
 *
 * WEIR_FT_SEED=<n> replays a base seed; WEIR_FT_RUNS=<n> changes the number of runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runJob } from './job.ts';
import { describeScenario, scenario } from './scenario.ts';
import { baseSeed, derivedSeed, FailureTally, Probe } from './support.ts';

const BASE_SEED = baseSeed();
const RUNS = Number(process.env.WEIR_FT_RUNS ?? 40);
/** At-least-once runs: no gap ever; every checker's final state as in a failure-free run. */
const RUNS_AT_LEAST_ONCE = Math.ceil(RUNS / 4);
const tally = new FailureTally();

afterAll(() => {
  console.log(`randomized (WEIR_FT_SEED=${BASE_SEED}): ${tally.summary()}`);
});

describe(`randomized failure injection, exactly-once (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it.each(Array.from({ length: RUNS }, (_, i) => i))('run %i', async (index) => {
    const s = scenario(derivedSeed(BASE_SEED, index));
    const what = `${describeScenario(s)} (WEIR_FT_SEED=${BASE_SEED}, run ${index})`;
    const { probe, published } = await runScenario(s, 'exactly-once', what);
    expect(probe.violations, what).toEqual([]);
    expect(s.plan.recordTargets, `${what}: record failures that never fired`).toEqual([]);
    expect(published, what).toEqual(s.expected);
  });
});

describe(`randomized failure injection, at-least-once (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it.each(Array.from({ length: RUNS_AT_LEAST_ONCE }, (_, i) => RUNS + i))('run %i', async (index) => {
    const s = scenario(derivedSeed(BASE_SEED, index));
    const what = `at-least-once, ${describeScenario(s)} (WEIR_FT_SEED=${BASE_SEED}, run ${index})`;
    const { probe, published } = await runScenario(s, 'at-least-once', what);
    expect(probe.violations, `${what}: gaps`).toEqual([]);
    // Windows may count a replayed record twice, and the sink may publish a replayed result
    // twice; the checkers' final states (duplicates ignored) are exact.
    const finals = (values: readonly string[]) =>
      [...new Set(values.filter((v) => v.includes('"final"')))].sort();
    expect(finals(published), what).toEqual(finals(s.expected));
  });
});

/** Runs scenario `s` in `mode` with up to 100 restarts and tallies its failures; `what` names it in errors. */
async function runScenario(
  s: ReturnType<typeof scenario>,
  mode: 'exactly-once' | 'at-least-once',
  what: string,
) {
  const probe = new Probe();
  const { published, result } = await runJob({
    shape: s.shape,
    mode,
    probe,
    plan: s.plan,
    seed: s.seed,
    checkpointing: s.checkpointing,
    checkpointStorage: s.storage,
    restartAttempts: 100,
    environment: { maxParallelism: s.maxParallelism },
  }).catch((error: unknown) => {
    throw new Error(`${what}: the job failed: ${String(error)}`, { cause: error });
  });
  tally.add(s.plan, result.restarts);
  return { probe, published };
}
