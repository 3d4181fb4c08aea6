/**
 * End-to-end exactly-once against the real Kafka broker and PostgreSQL server: `weir run` of
 * Kafka → running totals per key → Kafka (transactions) and PostgreSQL (prepared transactions),
 * under seeded record failures and lost commits, compared with the plain-JS expectation; and
 * the same job at at-least-once, where nothing may be missing and duplicates are counted.
 *
 * WEIR_E2E_SEED=<n> replays the failure points of a run (printed in the test names).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import {
  COMPLETED_CHECKPOINT,
  compare,
  describe as describeComparison,
  dropTarget,
  expectedOutputs,
  freshTarget,
  hasOpenTransaction,
  type JobOptions,
  JobRun,
  jobArgs,
  preparedTransactions,
  produceInput,
  RESTARTING,
  readTable,
  readTopic,
  type Services,
  services,
  suiteSeed,
  type Target,
} from './support.ts';

const SEED = suiteSeed();
const RECORD_FAILURES = 3;
const expected = expectedOutputs();

let s: Services;
let input = '';
const targets: Target[] = [];

beforeAll(async () => {
  s = await services();
  input = await produceInput(s.bootstrap);
}, SERVICE_START_TIMEOUT_MS);

afterAll(async () => {
  for (const t of targets.splice(0)) await dropTarget(t);
  console.log(`end-to-end exactly-once suite: WEIR_E2E_SEED=${SEED}`);
});

/** Runs the job to its end; returns the run and the target it wrote to. */
async function runToEnd(options: JobOptions): Promise<{ run: JobRun; target: Target; durationMs: number }> {
  const target = await freshTarget(s);
  targets.push(target);
  const run = new JobRun(jobArgs(s, input, target, options));
  const exit = await run.finish();
  expect(exit.code, run.show()).toBe(0);
  return { run, target, durationMs: exit.durationMs };
}

/** Both outputs equal the failure-free expectation; nothing left open or prepared. */
async function expectExactlyOnce(target: Target, run: JobRun): Promise<void> {
  const topic = compare(await readTopic(s.bootstrap, target.output, true), expected);
  expect(describeComparison(topic), `Kafka topic\n${run.show()}`).toBe(
    describeComparison(compare(expected, expected)),
  );
  const table = compare(await readTable(s.pgUrl, target.table), expected);
  expect(describeComparison(table), `PostgreSQL table\n${run.show()}`).toBe(
    describeComparison(compare(expected, expected)),
  );
  expect(await hasOpenTransaction(s.bootstrap, target.output), 'an open Kafka transaction').toBe(false);
  expect(await preparedTransactions(s.pgUrl, target.prefix), 'prepared PostgreSQL transactions').toEqual([]);
}

describe(`end-to-end exactly-once, Kafka → keyed state → Kafka + PostgreSQL (WEIR_E2E_SEED=${SEED})`, () => {
  it('a failure-free run writes exactly the plain-JS expectation to both sinks', async () => {
    const { run, target, durationMs } = await runToEnd({});
    console.log(`failure-free: ${durationMs} ms, ${run.count(COMPLETED_CHECKPOINT)} checkpoints`);
    expect(run.count(RESTARTING)).toBe(0);
    await expectExactlyOnce(target, run);
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
    await expectExactlyOnce(target, run);
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
    await expectExactlyOnce(target, run);
  });

  it(`at-least-once with the same failures: nothing missing, duplicates counted (WEIR_E2E_SEED=${SEED})`, async () => {
    const { run, target, durationMs } = await runToEnd({
      guarantee: 'at-least-once',
      seed: SEED,
      recordFailures: RECORD_FAILURES,
    });
    const topic = compare(await readTopic(s.bootstrap, target.output, true), expected);
    const table = compare(await readTable(s.pgUrl, target.table), expected);
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
