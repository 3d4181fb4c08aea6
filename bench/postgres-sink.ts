/**
 * Issue 5's PostgreSQL benchmark: rows/s into a real server with two-phase commit
 * (exactly-once: PREPARE TRANSACTION / COMMIT PREPARED) and with upserts, each against plain
 * batched inserts (at-least-once COPY), in one run. Starts the test server through
 * scripts/services/postgres.sh unless WEIR_PG_URL names one.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { postgresSink } from '../src/connectors/postgres/index.ts';
import { type DeliveryGuarantee, StreamExecutionEnvironment } from '../src/index.ts';
import type { BenchCase, Benchmark, Checksum } from './harness.ts';

const CHECKPOINT_INTERVAL_MS = 200;
/** Distinct keys of the upsert case: most rows update an existing one. */
const UPSERT_KEYS = 50_000;

interface Row {
  readonly id: number;
  readonly key: number;
  readonly payload: string;
}

/** The server's URL: WEIR_PG_URL, else the repository's test server (started if needed). */
function serverUrl(): string {
  const fromEnv = process.env.WEIR_PG_URL;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const script = join(import.meta.dirname, '..', 'scripts', 'services', 'postgres.sh');
  execFileSync('bash', [script, 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const line = execFileSync('bash', [script, 'env'], { encoding: 'utf8' });
  const url = /WEIR_PG_URL=(\S+)/.exec(line)?.[1];
  if (url === undefined) throw new Error(`postgres.sh env printed no WEIR_PG_URL: ${line}`);
  return url;
}

async function sql<R>(url: string, body: (client: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

interface Mode {
  readonly guarantee: DeliveryGuarantee;
  readonly upsert: boolean;
}

/** Writes `rows` through the sink into a fresh table; the checksum is read back from the table. */
async function run(url: string, rows: readonly Row[], mode: Mode): Promise<Checksum> {
  const table = 'weir_bench_sink';
  await sql(url, (c) =>
    c.query(
      `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id bigint NOT NULL, key int ${
        mode.upsert ? 'PRIMARY KEY' : 'NOT NULL'
      }, payload text NOT NULL)`,
    ),
  );
  const env = StreamExecutionEnvironment.create({
    parallelism: 1,
    checkpointing: { intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  env.fromCollection(rows).sinkTo(
    postgresSink<Row>({
      connectionString: url,
      table,
      columns: ['id', 'key', 'payload'],
      row: (r) => [r.id, r.key, r.payload],
      deliveryGuarantee: mode.guarantee,
      upsert: mode.upsert ? { keyColumns: ['key'] } : undefined,
      transactionalIdPrefix: 'weir-bench',
    }),
  );
  await env.execute('bench: postgres sink');
  return sql(url, async (c) => {
    const { rows: result } = await c.query(
      `SELECT count(*)::int AS n, coalesce(sum(id), 0)::float8 AS s FROM ${table}`,
    );
    return { count: result[0].n as number, sum: result[0].s as number };
  });
}

export const postgresSinkBench: Benchmark = {
  name: 'postgres-sink',
  title: `PostgreSQL sink (p=1, checkpoints every ${CHECKPOINT_INTERVAL_MS} ms): two-phase commit and upserts vs plain batched inserts (COPY)`,
  recordsDefault: 1_000_000,
  headline: [{ caseName: 'exactly-once (two-phase commit)' }],
  setup(records: number): readonly BenchCase[] {
    const url = serverUrl();
    const rows: Row[] = Array.from({ length: records }, (_, id) => ({
      id,
      key: id % UPSERT_KEYS,
      payload: `payload-${id}`,
    }));
    const all: Checksum = { count: records, sum: (records * (records - 1)) / 2 };
    // Upserts keep each key's last row: ids records - keys … records - 1.
    const keys = Math.min(UPSERT_KEYS, records);
    const lastIds: Checksum = { count: keys, sum: keys * (records - keys) + (keys * (keys - 1)) / 2 };
    return [
      {
        name: 'plain batched inserts (at-least-once, COPY)',
        reference: true,
        expected: all,
        run: () => run(url, rows, { guarantee: 'at-least-once', upsert: false }),
      },
      {
        name: 'exactly-once (two-phase commit)',
        expected: all,
        run: () => run(url, rows, { guarantee: 'exactly-once', upsert: false }),
      },
      {
        name: 'upsert (ON CONFLICT, at-least-once)',
        expected: lastIds,
        run: () => run(url, rows, { guarantee: 'at-least-once', upsert: true }),
      },
    ];
  },
};
