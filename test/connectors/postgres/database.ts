/** Test support: the real PostgreSQL server (started by the test services when needed) and fresh tables. */
import pg from 'pg';
import { ensurePostgres } from '../../services/services.ts';

let connectionStringPromise: Promise<string> | undefined;

/** The server's connection string; `WEIR_TEST_POSTGRES_URL` points the suite at another server. */
export function postgresUrl(): Promise<string> {
  connectionStringPromise ??= (async () => {
    const fromEnv = process.env.WEIR_TEST_POSTGRES_URL;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return (await ensurePostgres()).connectionString;
  })();
  return connectionStringPromise;
}

/** Runs `body` with a fresh client (closed afterwards). */
export async function withClient<R>(body: (client: pg.Client) => Promise<R>): Promise<R> {
  const client = new pg.Client({ connectionString: await postgresUrl() });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

let tableCounter = 0;

/** Creates a table with a unique name (`columnsSql` is its column list) and returns the name. */
export async function freshTable(columnsSql: string): Promise<string> {
  const name = `weir_test_${process.pid}_${Date.now().toString(36)}_${tableCounter++}`;
  await withClient((c) => c.query(`CREATE TABLE ${name} (${columnsSql})`));
  return name;
}

/** Every row of `table` ordered by `orderBy`, as plain objects. */
export async function tableRows(table: string, orderBy: string): Promise<Record<string, unknown>[]> {
  return withClient(async (c) => (await c.query(`SELECT * FROM ${table} ORDER BY ${orderBy}`)).rows);
}

/** Names of the prepared transactions whose gid starts with `prefix`. */
export async function preparedNames(prefix: string): Promise<string[]> {
  return withClient(async (c) =>
    (
      await c.query('SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1) ORDER BY gid', [prefix])
    ).rows.map((r: { gid: string }) => r.gid),
  );
}
