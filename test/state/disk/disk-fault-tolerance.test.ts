/**
 * The fault-tolerance suite's randomized scenarios (keyed state, timers, windows, a two-input
 * operator; failures at records, in snapshots, in flight, on restore and on state-file writes)
 * on the disk backend with a 64-slot cache, so state goes through the store, is snapshotted
 * from it and restored into it again and again. Every fourth run starts the read-ahead
 * thread at the first cache miss (these jobs are too short for it to serve many reads, so
 * what they try is its start and stop around failures: a thread each start costs ~100 ms of
 * CPU); the others never start it. Exactly-once: no gap or duplicate at any
 * checker, and the sink publishes exactly what a failure-free run publishes.
 *
 * WEIR_FT_SEED=<n> replays a base seed; WEIR_FT_DISK_RUNS=<n> changes the number of runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diskStateBackend } from '../../../src/state/backends/disk/index.ts';
import { runJob } from '../../it/fault-tolerance/job.ts';
import { describeScenario, scenario } from '../../it/fault-tolerance/scenario.ts';
import { baseSeed, derivedSeed, FailureTally, Probe } from '../../it/fault-tolerance/support.ts';

const BASE_SEED = baseSeed();
const RUNS = Number(process.env.WEIR_FT_DISK_RUNS ?? 12);
/** Far fewer slots than keys × states × windows: evictions, write-backs and store reads all the time. */
const CACHE_ENTRIES = 64;
const directory = mkdtempSync(join(tmpdir(), 'weir-disk-ft-'));
const tally = new FailureTally();
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
  // scripts/soak.sh reads this line to report what each seed injected.
  console.log(`disk randomized (WEIR_FT_SEED=${BASE_SEED}): ${tally.summary()}`);
});

describe(`disk backend under randomized failure injection, exactly-once (WEIR_FT_SEED=${BASE_SEED})`, () => {
  it.each(Array.from({ length: RUNS }, (_, i) => i))('run %i', { timeout: 120_000 }, async (index) => {
    // Other seeds than the heap suite's runs of the same index.
    const s = scenario(derivedSeed(BASE_SEED, 10_000 + index));
    const what = `disk backend, ${describeScenario(s)} (WEIR_FT_SEED=${BASE_SEED}, disk run ${index})`;
    const probe = new Probe();
    const { published, result } = await runJob({
      shape: s.shape,
      mode: 'exactly-once',
      probe,
      plan: s.plan,
      seed: s.seed,
      checkpointing: s.checkpointing,
      checkpointStorage: s.storage,
      restartAttempts: 100,
      environment: {
        maxParallelism: s.maxParallelism,
        stateBackend: diskStateBackend({
          directory,
          cacheEntriesMax: CACHE_ENTRIES,
          readAheadAfterReads: index % 4 === 0 ? 0 : Number.POSITIVE_INFINITY,
        }),
      },
    }).catch((error: unknown) => {
      throw new Error(`${what}: the job failed: ${String(error)}`, { cause: error });
    });
    tally.add(s.plan, result.restarts);
    expect(probe.violations, what).toEqual([]);
    expect(s.plan.recordTargets, `${what}: record failures that never fired`).toEqual([]);
    expect(published, what).toEqual(s.expected);
  });
});
