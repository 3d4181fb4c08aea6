/**
 * End-to-end exactly-once across process crashes: `kill -9` of the `weir run` child, then
 * `weir run … --from-checkpoint latest` to the end; and the abort path: what a killed job left
 * open (a Kafka transaction, prepared PostgreSQL transactions) is never visible and is resolved
 * by the restart.
 *
 * WEIR_E2E_SEED=<n> replays the kill point (printed in the test names).
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/index.ts';
import { FROZEN } from './fixtures/e2e-job.ts';
import {
  COMPLETED_CHECKPOINT,
  completedOnDisk,
  e2eSuite,
  expectExactlyOnce,
  expectedOutputs,
  hasOpenTransaction,
  isCommittedPrefix,
  JobRun,
  jobArgs,
  preparedTransactions,
  readTable,
  readTopic,
  suiteSeed,
  type Target,
} from './support.ts';

const SEED = suiteSeed();
/** The kill lands this long after the first completed checkpoint, at most (seeded). */
const KILL_DELAY_MS_MAX = 400;
/** The frozen run pre-commits for this checkpoint or a later one, after earlier ones completed. */
const FREEZE_AT_CHECKPOINT = 3;
const expected = expectedOutputs();

const suite = e2eSuite('process-crash', SEED);

async function kill(run: JobRun): Promise<void> {
  run.child.kill('SIGKILL');
  expect((await run.exit).signal).toBe('SIGKILL');
}

/** Resumes from the newest completed checkpoint and runs to the end; returns the restored id. */
async function resume(target: Target): Promise<{ run: JobRun; restoredId: number; durationMs: number }> {
  const run = new JobRun(jobArgs(suite.s, suite.input, target, { fromLatestCheckpoint: true }));
  const exit = await run.finish();
  expect(exit.code, run.show()).toBe(0);
  const restored = /restoring from checkpoint (\d+) /.exec(run.stderr);
  expect(restored, run.show()).not.toBeNull();
  return { run, restoredId: Number(restored![1]), durationMs: exit.durationMs };
}

describe(`end-to-end exactly-once across kill -9 (WEIR_E2E_SEED=${SEED})`, () => {
  it(`kill -9 mid-run after a completed checkpoint, then --from-checkpoint latest: exactly once (WEIR_E2E_SEED=${SEED})`, async () => {
    const target = await suite.newTarget();
    const crashed = new JobRun(jobArgs(suite.s, suite.input, target, {}));
    await crashed.waitFor(COMPLETED_CHECKPOINT, 1);
    const delayMs = new SeededRandom(SEED).nextInt(KILL_DELAY_MS_MAX);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    await kill(crashed);
    const completed = await completedOnDisk(target.checkpointDir);
    expect(completed.length, crashed.show()).toBeGreaterThan(0);

    // What a read_committed reader sees after the crash: per key a prefix, each record once.
    const topicAfterKill = await readTopic(suite.s.bootstrap, target.output, true);
    const tableAfterKill = await readTable(suite.s.pgUrl, target.table);
    expect(isCommittedPrefix(topicAfterKill, expected), 'Kafka after the kill').toBeUndefined();
    expect(isCommittedPrefix(tableAfterKill, expected), 'PostgreSQL after the kill').toBeUndefined();
    // The kill was mid-run: not everything was committed yet.
    expect(topicAfterKill.length, crashed.show()).toBeLessThan(expected.length);

    const { run, restoredId, durationMs } = await resume(target);
    console.log(
      `kill -9 (WEIR_E2E_SEED=${SEED}): killed ${delayMs} ms after the first completed checkpoint, ` +
        `${Math.max(...completed)} checkpoints on disk, Kafka ${topicAfterKill.length} / PostgreSQL ` +
        `${tableAfterKill.length} records committed at the kill; resumed from checkpoint ${restoredId} ` +
        `and finished in ${durationMs} ms`,
    );
    expect(restoredId).toBe(Math.max(...completed));
    const idsAfter = [...run.stderr.matchAll(COMPLETED_CHECKPOINT)].map((m) => Number(m[1]));
    expect(Math.min(...idsAfter), run.show()).toBeGreaterThan(restoredId);
    await expectExactlyOnce(suite.s, target, run, expected);
  });

  it('abort path: a pre-committed transaction of a checkpoint that never completed stays invisible, and the restart resolves it', async () => {
    const target = await suite.newTarget();
    const frozen = new JobRun(
      jobArgs(suite.s, suite.input, target, { freezeAtCheckpoint: FREEZE_AT_CHECKPOINT }),
    );
    // The process blocks inside the snapshot of checkpoint `frozenId`, after both sinks pre-committed for it.
    const [match] = await frozen.waitFor(new RegExp(`${FROZEN} checkpoint (\\d+)`, 'g'));
    const frozenId = Number(match[1]);
    const completed = await completedOnDisk(target.checkpointDir);
    expect(completed.length, frozen.show()).toBeGreaterThan(0);
    expect(Math.max(...completed)).toBeLessThan(frozenId);

    const lingeringBefore = await preparedTransactions(suite.s.pgUrl, target.prefix);
    const uncommitted = await readTopic(suite.s.bootstrap, target.output, false);
    const committed = await readTopic(suite.s.bootstrap, target.output, true);
    await kill(frozen);

    // The open Kafka transaction holds records a read_uncommitted reader sees and a read_committed one does not.
    expect(
      await hasOpenTransaction(suite.s.bootstrap, target.output),
      'an open transaction at the kill',
    ).toBe(true);
    expect(uncommitted.length).toBeGreaterThan(committed.length);
    const committedAfterKill = await readTopic(suite.s.bootstrap, target.output, true);
    expect(isCommittedPrefix(committedAfterKill, expected), 'Kafka after the kill').toBeUndefined();
    expect(committedAfterKill.length, 'the killed transaction became visible').toBe(committed.length);
    // PostgreSQL: the frozen checkpoint's transaction is prepared (durable, invisible) and outlives the process.
    expect(lingeringBefore.length, frozen.show()).toBeGreaterThan(0);
    expect(
      lingeringBefore.some((gid) => gid.endsWith(`-${frozenId}`)),
      lingeringBefore.join(', '),
    ).toBe(true);
    expect(await preparedTransactions(suite.s.pgUrl, target.prefix)).toEqual(lingeringBefore);
    expect(isCommittedPrefix(await readTable(suite.s.pgUrl, target.table), expected)).toBeUndefined();

    const { run, restoredId, durationMs } = await resume(target);
    console.log(
      `abort path: froze in checkpoint ${frozenId} (completed ${completed.join(',')}), ` +
        `${uncommitted.length - committed.length} Kafka records in open transactions and ` +
        `${lingeringBefore.length} prepared PostgreSQL transactions (${lingeringBefore.join(', ')}) at the kill; ` +
        `resumed from checkpoint ${restoredId}, finished in ${durationMs} ms`,
    );
    expect(restoredId).toBeLessThan(frozenId);
    // Every record the killed transactions held was aborted: read_uncommitted shows them, read_committed never does.
    const rawAfter = await readTopic(suite.s.bootstrap, target.output, false);
    expect(rawAfter.length).toBeGreaterThan(expected.length);
    await expectExactlyOnce(suite.s, target, run, expected);
  });
});
