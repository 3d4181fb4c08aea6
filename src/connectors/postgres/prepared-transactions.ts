/** Prepared transactions on the server: the setting they need, listing, committing and rolling back by name. */
import { type SqlConnection, SqlState, sqlErrorFields } from './connection.ts';
import { checkGid } from './identifiers.ts';

/**
 * Throws unless the server allows prepared transactions. With `max_prepared_transactions = 0`
 * (PostgreSQL's default) `PREPARE TRANSACTION` fails only at the first barrier; checking at
 * start turns that into a clear configuration error before any record is written.
 */
export async function checkPreparedTransactionsEnabled(
  connection: Pick<SqlConnection, 'query'>,
  parallelism: number,
): Promise<void> {
  const [row] = await connection.query("SELECT current_setting('max_prepared_transactions')::int AS max");
  const max = Number(row?.max ?? 0);
  if (max <= 0) {
    throw new Error(
      'PostgreSQL sink: exactly-once needs prepared transactions, but the server has max_prepared_transactions = 0. ' +
        'Set max_prepared_transactions in postgresql.conf (at least the sink parallelism times the checkpoints ' +
        `that may be pending at once, plus one; here at least ${2 * parallelism}) and restart the server, ` +
        "or use the 'at-least-once' guarantee or the upsert mode.",
    );
  }
}

/** Names of the prepared transactions in the current database that start with `prefix`. */
export async function listPrepared(connection: SqlConnection, prefix: string): Promise<string[]> {
  const rows = await connection.query(
    'SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) ORDER BY gid',
    [prefix],
  );
  return rows.map((r) => String(r.gid));
}

/**
 * Commits a prepared transaction. Idempotent: a name the server does not know (42704) was
 * committed before (by the notification that preceded a failure, or by another subtask after
 * a rescale), since a transaction covered by a completed checkpoint is never rolled back.
 */
export async function commitPrepared(
  connection: SqlConnection,
  gid: string,
): Promise<'committed' | 'already-gone'> {
  checkGid(gid);
  try {
    await connection.query(`COMMIT PREPARED ${connection.literal(gid)}`);
    return 'committed';
  } catch (error) {
    if (sqlErrorFields(error)?.code === SqlState.undefinedObject) return 'already-gone';
    throw new Error(`PostgreSQL sink: COMMIT PREPARED '${gid}' failed: ${String(error)}`, { cause: error });
  }
}

/** Rolls back a prepared transaction; one that is gone already counts as rolled back. */
export async function rollbackPrepared(
  connection: SqlConnection,
  gid: string,
): Promise<'rolled-back' | 'already-gone'> {
  checkGid(gid);
  try {
    await connection.query(`ROLLBACK PREPARED ${connection.literal(gid)}`);
    return 'rolled-back';
  } catch (error) {
    if (sqlErrorFields(error)?.code === SqlState.undefinedObject) return 'already-gone';
    throw new Error(`PostgreSQL sink: ROLLBACK PREPARED '${gid}' failed: ${String(error)}`, { cause: error });
  }
}
