/**
 * The sink's two-phase-commit lifecycle driven by hand against the real server (the steps
 * the runtime takes, without a job): invisibility until commit, commit idempotence, and
 * recovery of prepared transactions left by a run that died between PREPARE and COMMIT.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lingeringContext, type SinkWriterContext } from '../../../src/api/sink.ts';
import { postgresSink } from '../../../src/connectors/postgres/index.ts';
import { checkPreparedTransactionsEnabled } from '../../../src/connectors/postgres/prepared-transactions.ts';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import { freshTable, postgresUrl, preparedNames, tableRows, withClient } from './database.ts';

// Start (or find) the server before the first case: a cold start may take minutes, the cases 60 s.
beforeAll(async () => {
  await postgresUrl();
}, SERVICE_START_TIMEOUT_MS);

interface Row {
  readonly id: number;
  readonly v: string;
}

function context(overrides: Partial<SinkWriterContext> = {}): SinkWriterContext {
  return {
    jobName: 'lifecycle',
    operatorName: 'Sink: pg',
    operatorId: 'pg-sink',
    subtaskIndex: 0,
    parallelism: 1,
    restoredCheckpointId: undefined,
    restoredParallelism: undefined,
    lineageId: 'test',
    ...overrides,
  };
}

let prefixCounter = 0;
async function setup(options: { batchRowsMax?: number } = {}) {
  const table = await freshTable('id int PRIMARY KEY, v text NOT NULL');
  const prefix = `weir-test-${process.pid}-${prefixCounter++}`;
  const sink = postgresSink<Row>({
    connectionString: await postgresUrl(),
    table,
    columns: ['id', 'v'],
    transactionalIdPrefix: prefix,
    batchRowsMax: options.batchRowsMax,
  });
  return { table, prefix, sink, rows: () => tableRows(table, 'id') };
}

const rec = (id: number): Row => ({ id, v: `v${id}` });

describe('two-phase commit lifecycle', () => {
  it('rows sent in batches stay invisible until COMMIT PREPARED; committing twice is harmless', async () => {
    const { sink, prefix, rows } = await setup({ batchRowsMax: 3 });
    const writer = await sink.createWriter(context());
    for (let i = 0; i < 10; i++) writer.write(rec(i), undefined);
    await writer.flush(false); // sends 3 full batches into the open transaction, keeps 1
    expect(await rows()).toEqual([]);
    const gids = await writer.prepareCommit(1);
    expect(gids).toEqual([`${prefix}-0-1`]);
    expect(await preparedNames(prefix)).toEqual(gids);
    expect(await rows()).toEqual([]);
    // An empty interval prepares nothing.
    expect(await writer.prepareCommit(2)).toEqual([]);
    writer.write(rec(10), undefined);
    const next = await writer.prepareCommit(3);
    expect(next).toEqual([`${prefix}-0-3`]);
    const committer = await sink.createCommitter(context());
    await committer.commit(gids);
    expect(await rows()).toHaveLength(10);
    await committer.commit([...gids, ...next]); // the first is gone already (42704): success
    expect(await rows()).toEqual(Array.from({ length: 11 }, (_, i) => rec(i)));
    expect(await preparedNames(prefix)).toEqual([]);
    await writer.close();
    await committer.close();
  });

  it('a killed run: its prepared transaction is committed on restore when the restored checkpoint covers it, rolled back when not', async () => {
    const { sink, prefix, rows } = await setup();
    const writer = await sink.createWriter(context());
    writer.write(rec(1), undefined);
    const covered = await writer.prepareCommit(5); // k = 1
    writer.write(rec(2), undefined);
    const uncovered = await writer.prepareCommit(6); // k = 6
    writer.write(rec(3), undefined);
    await writer.flush(true); // sent, never prepared
    // "Kill": the connection goes away without COMMIT; prepared transactions survive it.
    await writer.close();
    expect(await preparedNames(prefix)).toEqual([...covered, ...uncovered].sort());

    // Restore from checkpoint 5: the runtime commits its committables, then aborts lingering ones.
    const restored = context({ restoredCheckpointId: 5, restoredParallelism: 1 });
    const committer = await sink.createCommitter(restored);
    await committer.commit(covered);
    await committer.abortLingering(lingeringContext(restored));
    expect(await preparedNames(prefix)).toEqual([]);
    expect(await rows()).toEqual([rec(1)]);
    await committer.close();

    // The restarted writer names its first transaction k = 6 again: the name is free.
    const again = await sink.createWriter(restored);
    again.write(rec(2), undefined);
    expect(await again.prepareCommit(6)).toEqual([`${prefix}-0-6`]);
    await again.close();
    const cleanup = await sink.createCommitter(context());
    await cleanup.abortLingering(lingeringContext(context())); // a fresh start aborts every k
    expect(await preparedNames(prefix)).toEqual([]);
    await cleanup.close();
  });

  it('after a rescale from 3 to 2 subtasks each old subtask has exactly one owner', async () => {
    const { sink, prefix } = await setup();
    // The old run was itself restored from checkpoint 3, so its transactions have k = 4 > 3.
    const old = [0, 1, 2].map((i) => context({ subtaskIndex: i, parallelism: 3, restoredCheckpointId: 3 }));
    for (const ctx of old) {
      const w = await sink.createWriter(ctx);
      w.write(rec(ctx.subtaskIndex), undefined);
      await w.prepareCommit(4);
      await w.close();
    }
    const restored = (i: number) =>
      context({ subtaskIndex: i, parallelism: 2, restoredCheckpointId: 3, restoredParallelism: 3 });
    const c0 = await sink.createCommitter(restored(0));
    await c0.abortLingering(lingeringContext(restored(0)));
    expect(await preparedNames(prefix)).toEqual([`${prefix}-1-4`]);
    const c1 = await sink.createCommitter(restored(1));
    await c1.abortLingering(lingeringContext(restored(1)));
    expect(await preparedNames(prefix)).toEqual([]);
    await c0.close();
    await c1.close();
  });

  it('refuses to start exactly-once when the server has max_prepared_transactions = 0 (unit-level fake)', async () => {
    // The shared test server runs with prepared transactions on, and restarting it with 0
    // would disturb the suites running against it: the check runs against a fake session.
    const session = (max: number) => ({ query: async () => [{ max }] });
    await expect(checkPreparedTransactionsEnabled(session(0), 2)).rejects.toThrow(
      /max_prepared_transactions = 0.*Set max_prepared_transactions in postgresql.conf.*at least 4/,
    );
    await expect(checkPreparedTransactionsEnabled(session(64), 2)).resolves.toBeUndefined();
    // Against the real server (max_prepared_transactions > 0) the check passes.
    await withClient(async (c) => {
      const { rows } = await c.query("SELECT current_setting('max_prepared_transactions')::int AS max");
      expect(rows[0].max).toBeGreaterThan(0);
    });
  });

  it('connection refused at start fails with an error naming the server', async () => {
    const sink = postgresSink<Row>({
      connectionString: 'postgres://weir@127.0.0.1:9/weir',
      table: 't',
      columns: ['id', 'v'],
    });
    await expect(sink.createWriter(context())).rejects.toThrow(
      /cannot connect to 127\.0\.0\.1:9\/weir .*connection refused/,
    );
  });
});
