/**
 * The sink inside real jobs against the real server: visibility only on checkpoint
 * completion, exactly-once under seeded random failures (the table equals a failure-free
 * run's exactly), commits lost to a crash recovered on restore, upserts converging, and a
 * constraint violation failing the job with the offending row.
 *
 * WEIR_PG_SEED=<n> replays a base seed; WEIR_PG_RUNS=<n> changes the number of failure runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresSink } from '../../../src/connectors/postgres/index.ts';
import { type JobClient, StreamExecutionEnvironment } from '../../../src/index.ts';
import { baseSeed, derivedSeed, FailurePlan } from '../../it/fault-tolerance/support.ts';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import { freshTable, postgresUrl, preparedNames, tableRows, withClient } from './database.ts';
import { FlakyCommitSink, type Item, item, runSinkJob } from './sink-job.ts';

const BASE_SEED = baseSeedFrom(process.env.WEIR_PG_SEED);
const RUNS = Number(process.env.WEIR_PG_RUNS ?? 2);
const COUNT = 3000;
const KEYS = 40;
const RATE_PER_SECOND = 4000;

function baseSeedFrom(fixed: string | undefined): number {
  return fixed === undefined || fixed === '' ? baseSeed() : Number(fixed) >>> 0;
}

let prefixCounter = 0;
const uniquePrefix = () => `weir-pgjob-${process.pid}-${prefixCounter++}`;
const ITEM_COLUMNS = 'id int NOT NULL, key int NOT NULL, v text NOT NULL';

/** What a failure-free run of the insert job writes (checked once against a real run below). */
const expectedRows = Array.from({ length: COUNT }, (_, i) => item(i, KEYS));

afterAll(() => {
  console.log(`PostgreSQL sink jobs: WEIR_PG_SEED=${BASE_SEED}`);
});

describe(`PostgreSQL sink in jobs (WEIR_PG_SEED=${BASE_SEED})`, () => {
  let url: string;
  beforeAll(async () => {
    url = await postgresUrl();
  }, SERVICE_START_TIMEOUT_MS);

  it('nothing is visible before the checkpoint completes, everything after', async () => {
    const table = await freshTable(`${ITEM_COLUMNS}, PRIMARY KEY (id)`);
    const prefix = uniquePrefix();
    const savepoints = await mkdtemp(join(tmpdir(), 'weir-pg-savepoint-'));
    const env = StreamExecutionEnvironment.create({
      parallelism: 1,
      // Checkpoints only when the test triggers them.
      checkpointing: { mode: 'exactly-once', intervalMs: 3_600_000 },
      restartStrategy: { kind: 'none' },
      logger: { log: () => {} },
    });
    env.fromGenerator<Item>({ count: COUNT, generate: (i) => item(i, KEYS), ratePerSecond: 2000 }).sinkTo(
      postgresSink<Item>({
        connectionString: url,
        table,
        columns: ['id', 'key', 'v'],
        transactionalIdPrefix: prefix,
        batchRowsMax: 100,
      }),
      'Sink: PostgreSQL',
    );
    const client = env.executeAsync('visibility');
    try {
      await waitFor(async () => (await openTransactionRows()) > 0, 'the writer sends a batch');
      expect(await tableRows(table, 'id')).toEqual([]);
      // A savepoint pre-commits (PREPARE TRANSACTION) but never commits: still invisible.
      await client.triggerSavepoint(savepoints);
      expect(await preparedNames(prefix)).toHaveLength(1);
      expect(await tableRows(table, 'id')).toEqual([]);
      // A completed checkpoint commits everything pre-committed up to it.
      await client.triggerCheckpoint();
      await waitFor(async () => (await preparedNames(prefix)).length === 0, 'the commit');
      const visible = await tableRows(table, 'id');
      expect(visible.length).toBeGreaterThan(0);
      expect(visible.length).toBeLessThan(COUNT);
      expect(visible).toEqual(expectedRows.slice(0, visible.length));
      // The last transaction commits once a checkpoint covering the end of input completes.
      await checkpointUntilDone(client);
      expect(await tableRows(table, 'id')).toEqual(expectedRows);
      expect(await preparedNames(prefix)).toEqual([]);
    } finally {
      if (client.status() === 'RUNNING') await client.cancel();
      await rm(savepoints, { recursive: true, force: true });
    }
  });

  it.each(Array.from({ length: RUNS }, (_, i) => i))(
    'exactly-once under random failures and lost commits, equal to a failure-free run (run %i)',
    async (index) => {
      const seed = derivedSeed(BASE_SEED, index);
      const what = `WEIR_PG_SEED=${BASE_SEED} run ${index} (seed ${seed})`;
      const random = new FailurePlan(seed).random;
      const recordTargets = Array.from({ length: 3 }, () => 1 + random.nextInt(COUNT));
      const plan = new FailurePlan(seed, { recordTargets });
      const table = await freshTable(ITEM_COLUMNS); // no key: a duplicate would show as an extra row
      const prefix = uniquePrefix();
      const sink = new FlakyCommitSink(
        {
          connectionString: url,
          table,
          columns: ['id', 'key', 'v'],
          transactionalIdPrefix: prefix,
          batchRowsMax: 200,
        },
        1 + random.nextInt(2),
      );
      const { restarts } = await runSinkJob({
        name: `pg exactly-once ${seed}`,
        count: COUNT,
        keys: KEYS,
        ratePerSecond: RATE_PER_SECOND,
        sink,
        plan,
        seed,
      });
      console.log(
        `${what}: ${plan.injected.record} record failures, ${sink.failed} lost commits, ${restarts} restarts`,
      );
      expect(plan.recordTargets, `${what}: failures that never fired`).toEqual([]);
      expect(restarts, what).toBeGreaterThan(0);
      expect(await tableRows(table, 'id'), what).toEqual(expectedRows);
      expect(await preparedNames(prefix), `${what}: prepared transactions left behind`).toEqual([]);
    },
  );

  it('the failure-free reference run writes exactly the generated rows', async () => {
    const table = await freshTable(ITEM_COLUMNS);
    await runSinkJob({
      name: 'pg reference',
      count: COUNT,
      keys: KEYS,
      ratePerSecond: RATE_PER_SECOND,
      sink: postgresSink<Item>({
        connectionString: url,
        table,
        columns: ['id', 'key', 'v'],
        transactionalIdPrefix: uniquePrefix(),
      }),
      plan: FailurePlan.none(),
    });
    expect(await tableRows(table, 'id')).toEqual(expectedRows);
  });

  it('upsert mode (at-least-once) converges to the failure-free end state under failures', async () => {
    const seed = derivedSeed(BASE_SEED, 1000);
    const random = new FailurePlan(seed).random;
    const plan = new FailurePlan(seed, {
      recordTargets: [1 + random.nextInt(COUNT), 1 + random.nextInt(COUNT)],
    });
    const table = await freshTable('key int PRIMARY KEY, id int NOT NULL, v text NOT NULL');
    const { restarts } = await runSinkJob({
      name: `pg upsert ${seed}`,
      count: COUNT,
      keys: KEYS,
      ratePerSecond: RATE_PER_SECOND,
      sink: postgresSink<Item>({
        connectionString: url,
        table,
        columns: ['key', 'id', 'v'],
        upsert: { keyColumns: ['key'] },
        batchRowsMax: 64,
      }),
      plan,
      keyed: true,
      sourceParallelism: 1, // one source subtask: each key's records arrive in order
      seed,
    });
    expect(restarts, `seed ${seed}`).toBeGreaterThanOrEqual(2);
    // Each key's last record wins: ids COUNT-KEYS … COUNT-1.
    const last = expectedRows.slice(COUNT - KEYS).sort((a, b) => a.key - b.key);
    expect(await tableRows(table, 'key'), `seed ${seed}`).toEqual(last);
  });

  it.each(['exactly-once (COPY)', 'upsert (row-by-row search)'])(
    'a constraint violation fails the job naming the table and the row: %s',
    async (mode) => {
      const table = await freshTable(
        "id int PRIMARY KEY, key int NOT NULL, v text NOT NULL CHECK (v <> 'value-1234')",
      );
      const prefix = uniquePrefix();
      const sink = postgresSink<Item>({
        connectionString: url,
        table,
        columns: ['id', 'key', 'v'],
        transactionalIdPrefix: prefix,
        upsert: mode.startsWith('upsert') ? { keyColumns: ['id'] } : undefined,
        batchRowsMax: 500,
      });
      const run = runSinkJob({
        name: 'pg constraint',
        count: COUNT,
        keys: KEYS,
        sink,
        plan: FailurePlan.none(),
        restartAttempts: 0,
      });
      await expect(run).rejects.toThrow(
        new RegExp(
          `table ${table} failed: .*check constraint.*offending record: \\{"id":1234,"key":34,"v":"value-1234"\\}`,
        ),
      );
      // Intervals committed before the failure stay; the failed interval's transaction (with
      // the refused row) never becomes visible.
      const rows = await tableRows(table, 'id');
      expect(rows.some((r) => r.id === 1234)).toBe(false);
      // The job failed for good, so the other subtask's transaction of the pending checkpoint
      // stays prepared until a restart with this prefix rolls it back (as in Flink). None will
      // come: roll it back here, or every run would keep one of the server's
      // max_prepared_transactions slots (64) and, after enough runs, two-phase commit fails.
      await withClient(async (c) => {
        for (const gid of await preparedNames(prefix))
          await c.query(`ROLLBACK PREPARED ${c.escapeLiteral(gid)}`);
      });
    },
  );
});

/** Sink sessions inside a transaction (not yet prepared): proof the writer sent a batch. */
async function openTransactionRows(): Promise<number> {
  return withClient(async (c) => {
    const { rows } = await c.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction' AND application_name LIKE 'weir sink%'",
    );
    return rows[0].n as number;
  });
}

/** Triggers checkpoints until the job ends (a bounded job's last transaction waits for one). */
async function checkpointUntilDone(client: JobClient): Promise<void> {
  let done = false;
  const result = client.result().finally(() => {
    done = true;
  });
  while (!done) {
    await client.triggerCheckpoint().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
  }
  await result;
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
