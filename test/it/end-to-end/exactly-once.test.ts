/**
 * End-to-end exactly-once against the real Kafka broker and PostgreSQL server: `weir run` of
 * Kafka → running totals per key → Kafka (transactions) and PostgreSQL (prepared transactions),
 * under seeded record failures and lost commits, compared with the plain-JS expectation; and
 * the same job at at-least-once, where nothing may be missing and duplicates are counted.
 *
 * WEIR_E2E_SEED=<n> replays the failure points of a run (printed in the test names).
 */
import { describe, expect, it } from 'vitest';
import {
  COMPLETED_CHECKPOINT,
  compare,
  describe as describeComparison,
  e2eSuite,
  expectExactlyOnce,
  expectedOutputs,
  type JobOptions,
  JobRun,
  jobArgs,
  RESTARTING,
  readTable,
  readTopic,
  suiteSeed,
  type Target,
} from './support.ts';

const SEED = suiteSeed();
const RECORD_FAILURES = 3;
const expected = expectedOutputs();

const suite = e2eSuite('exactly-once', SEED);

/** Runs the job to its end; returns the run and the target it wrote to. */
async function runToEnd(options: JobOptions): Promise<{ run: JobRun; target: Target; durationMs: number }> {
  const target = await suite.newTarget();
  const run = new JobRun(jobArgs(suite.s, suite.input, target, options));
  const exit = await run.finish();
  expect(exit.code, run.show()).toBe(0);
  return { run, target, durationMs: exit.durationMs };
}

describe(`end-to-end exactly-once, Kafka → keyed state → Kafka + PostgreSQL (WEIR_E2E_SEED=${SEED})`, () => {
  it('a failure-free run writes exactly the plain-JS expectation to both sinks', async () => {
    const { run, target, durationMs } = await runToEnd({});
    console.log(`failure-free: ${durationMs} ms, ${run.count(COMPLETED_CHECKPOINT)} checkpoints`);
    expect(run.count(RESTARTING)).toBe(0);
    await expectExactlyOnce(suite.s, target, run, expected);
  });

  it(`exceptions at ${RECORD_FAILURES} seeded random records, restarts by the restart strategy: exactly once (WEIR_E2E_SEED=${SEED})`, async () => {
    const { run, target, durationMs } = await runToEnd({ seed: SEED, recordFailures: RECORD_FAILURES });
    const restarts = run.count(RESTARTING);
    console.log(
      `record failures (WEIR_E2E_SEED=${SEED}): ${durationMs} ms, ${run.count(/WEIR_E2E_INJECTED record/g)} injected, ` +
        `${restarts} restarts, ${run.count(COMPLETED_CHECKPOINT)} checkpoints`,
    );
    expect(run.count(/WEIR_E2E_INJECTED record/g), run.show()).toBe(RECORD_FAILURES);
    expect(restarts, run.show()).toBe(RECORD_FAILURES);
    await expectExactlyOnce(suite.s, target, run, expected);
  });

  it('a failure after a checkpoint completed and before each sink committed: the restore commits it', async () => {
    const { run, target, durationMs } = await runToEnd({ commitFailures: 1 });
    const injected = run.count(/WEIR_E2E_INJECTED commit failure/g);
    console.log(
      `lost commits: ${durationMs} ms, ${injected} injected, ${run.count(RESTARTING)} restarts, ` +
        `${run.count(COMPLETED_CHECKPOINT)} checkpoints`,
    );
    // One per sink: the Kafka committer and the PostgreSQL committer each threw once, before EndTxn / COMMIT PREPARED.
    expect(run.count(/WEIR_E2E_INJECTED commit failure in kafka/g), run.show()).toBe(1);
    expect(run.count(/WEIR_E2E_INJECTED commit failure in postgres/g), run.show()).toBe(1);
    expect(run.count(RESTARTING), run.show()).toBeGreaterThanOrEqual(1);
    await expectExactlyOnce(suite.s, target, run, expected);
  });

  it(`at-least-once with the same failures: nothing missing, duplicates counted (WEIR_E2E_SEED=${SEED})`, async () => {
    const { run, target, durationMs } = await runToEnd({
      guarantee: 'at-least-once',
      seed: SEED,
      recordFailures: RECORD_FAILURES,
    });
    const topic = compare(await readTopic(suite.s.bootstrap, target.output, true), expected);
    const table = compare(await readTable(suite.s.pgUrl, target.table), expected);
    console.log(
      `at-least-once (WEIR_E2E_SEED=${SEED}): ${durationMs} ms, ${run.count(RESTARTING)} restarts; ` +
        `Kafka ${topic.total} records, ${topic.duplicates} duplicates; ` +
        `PostgreSQL ${table.total} rows, ${table.duplicates} duplicates`,
    );
    expect(run.count(RESTARTING), run.show()).toBe(RECORD_FAILURES);
    for (const c of [topic, table]) {
      expect(c.missing, describeComparison(c)).toEqual([]);
      // State is still exactly-once (aligned checkpoints): a replayed output repeats its values exactly.
      expect(c.unexpected, describeComparison(c)).toEqual([]);
      expect(c.total).toBe(expected.length + c.duplicates);
    }
    // Each failure replays what the sinks wrote after the last completed checkpoint.
    expect(topic.duplicates + table.duplicates, `WEIR_E2E_SEED=${SEED}`).toBeGreaterThan(0);
  });
});
