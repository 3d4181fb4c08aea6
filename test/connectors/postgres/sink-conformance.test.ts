/** The framework's exactly-once sink conformance suite, run against the PostgreSQL sink (a fresh table and prefix per case). */
import { beforeAll } from 'vitest';
import { postgresSink } from '../../../src/connectors/postgres/index.ts';
import { runSinkConformance } from '../../api/sink-conformance.ts';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import { freshTable, postgresUrl, preparedNames, tableRows, withClient } from './database.ts';

// Start (or find) the server before the first case: a cold start may take minutes, the cases 60 s.
beforeAll(async () => {
  await postgresUrl();
}, SERVICE_START_TIMEOUT_MS);

let fixtures = 0;

runSinkConformance({
  name: 'PostgreSQL sink (exactly-once, prepared transactions)',
  setup: async () => {
    const table = await freshTable('v text NOT NULL');
    const prefix = `weir-conformance-${process.pid}-${fixtures++}`;
    const sink = postgresSink<string>({
      connectionString: await postgresUrl(),
      table,
      columns: ['v'],
      row: (v) => [v],
      transactionalIdPrefix: prefix,
      batchRowsMax: 3,
    });
    return {
      sink,
      readVisible: async () => (await tableRows(table, 'v')).map((r) => String(r.v)),
      teardown: async () => {
        // Whatever a case left prepared would hold locks and a slot of max_prepared_transactions.
        await withClient(async (c) => {
          for (const gid of await preparedNames(prefix)) await c.query(`ROLLBACK PREPARED '${gid}'`);
        });
      },
    };
  },
});
