/**
 * The two ways a batch reaches the table, one round trip per batch: COPY (plain inserts, the
 * fastest path) and a multi-row `INSERT … SELECT FROM unnest(…) ON CONFLICT … DO UPDATE`
 * (upserts, whose conflicts COPY cannot resolve).
 */
import type { SqlConnection } from './connection.ts';
import { quoteIdentifier } from './identifiers.ts';
import { RowBatch } from './row-batch.ts';
import type { TableMapping } from './table-mapping.ts';
import { copyText, toPgText } from './text-values.ts';
import { copyErrorLine, PostgresWriteError } from './write-error.ts';

/** Writes one batch; a refused batch throws a {@link PostgresWriteError} naming the offending record. */
export interface BatchStatement<T> {
  /** `inTransaction`: the connection is inside BEGIN (a failure aborts the transaction). */
  write(connection: SqlConnection, batch: RowBatch<T>, inTransaction: boolean): Promise<void>;
}

/** COPY in text format: the server names the failing input line, which is the batch's row index + 1. */
export class CopyStatement<T> implements BatchStatement<T> {
  readonly #mapping: TableMapping<T>;
  readonly #sql: string;

  constructor(mapping: TableMapping<T>) {
    this.#mapping = mapping;
    this.#sql = `COPY ${mapping.tableSql} (${mapping.columnsSql.join(', ')}) FROM STDIN`;
  }

  async write(connection: SqlConnection, batch: RowBatch<T>): Promise<void> {
    try {
      await connection.copyIn(this.#sql, copyText(batch.rows));
    } catch (error) {
      const line = copyErrorLine(error);
      const known = line !== undefined && line >= 1 && line <= batch.size;
      throw new PostgresWriteError(
        this.#mapping.tableLabel,
        error,
        known ? { value: batch.records[line - 1] } : undefined,
      );
    }
  }
}

/**
 * Upserts by key: one statement per batch with a `text[]` parameter per column, each element
 * cast to the column's type (types read from the catalog at start). Rows with the same key
 * within a batch are merged first, the last one winning, because one INSERT … ON CONFLICT
 * cannot update a row twice. A refused batch is retried row by row, only to find the
 * culprit; then the write fails.
 */
export class UpsertStatement<T> implements BatchStatement<T> {
  readonly #mapping: TableMapping<T>;
  readonly #keyIndexes: readonly number[];
  readonly #sql: string;

  constructor(
    mapping: TableMapping<T>,
    types: readonly string[],
    keyColumns: readonly string[],
    update?: readonly string[],
  ) {
    if (keyColumns.length === 0)
      throw new Error('PostgreSQL sink: upsert mode needs at least one key column');
    this.#mapping = mapping;
    this.#keyIndexes = mapping.indexesOf(keyColumns, 'key');
    const updateColumns = update ?? mapping.columns.filter((c) => !keyColumns.includes(c));
    mapping.indexesOf(updateColumns, 'update');
    const aliases = mapping.columns.map((_c, i) => `c${i}`);
    const select = aliases.map((a, i) => `s.${a}::${types[i]}`).join(', ');
    const unnest = aliases.map((_a, i) => `$${i + 1}::text[]`).join(', ');
    const action =
      updateColumns.length === 0
        ? 'DO NOTHING'
        : `DO UPDATE SET ${updateColumns.map((c) => `${quoteIdentifier(c)} = EXCLUDED.${quoteIdentifier(c)}`).join(', ')}`;
    this.#sql =
      `INSERT INTO ${mapping.tableSql} (${mapping.columnsSql.join(', ')}) ` +
      `SELECT ${select} FROM unnest(${unnest}) AS s(${aliases.join(', ')}) ` +
      `ON CONFLICT (${keyColumns.map(quoteIdentifier).join(', ')}) ${action}`;
  }

  async write(connection: SqlConnection, batch: RowBatch<T>, inTransaction: boolean): Promise<void> {
    const merged = this.#mergeByKey(batch);
    try {
      await connection.query(this.#sql, columnArrays(merged));
    } catch (error) {
      throw await this.#findCulprit(connection, merged, inTransaction, error);
    }
  }

  /** The last row of each key, in the order of each key's last row. */
  #mergeByKey(batch: RowBatch<T>): RowBatch<T> {
    const last = new Map<string, number>();
    const keys = this.#keyIndexes;
    for (let i = 0; i < batch.size; i++) {
      const row = batch.rows[i];
      const key =
        keys.length === 1
          ? String(toPgText(row[keys[0]]))
          : JSON.stringify(keys.map((k) => toPgText(row[k])));
      last.delete(key);
      last.set(key, i);
    }
    if (last.size === batch.size) return batch;
    const merged = new RowBatch<T>();
    for (const i of last.values()) merged.add(batch.records[i], batch.rows[i]);
    return merged;
  }

  /**
   * Replays the refused batch one row at a time, each under a savepoint, inside a transaction
   * that is rolled back, to name the first row the server refuses. Row by row is slow, which
   * is why it happens only after a failure. The failed transaction is rolled back first (the
   * write fails either way, and its records are replayed after the restart), so a conflict
   * with a row of an earlier batch of the same transaction is reported without the row: the
   * price of not setting a savepoint before every batch (a round trip each, and a
   * subtransaction each, which PostgreSQL slows down on past 64 per transaction).
   */
  async #findCulprit(
    connection: SqlConnection,
    batch: RowBatch<T>,
    inTransaction: boolean,
    error: unknown,
  ): Promise<PostgresWriteError> {
    const table = this.#mapping.tableLabel;
    try {
      if (inTransaction) await connection.query('ROLLBACK');
      await connection.query('BEGIN');
      for (let i = 0; i < batch.size; i++) {
        await connection.query('SAVEPOINT weir_row');
        try {
          await connection.query(this.#sql, columnArrays(batch, i, i + 1));
        } catch (rowError) {
          return new PostgresWriteError(table, rowError, { value: batch.records[i] });
        }
        await connection.query('RELEASE SAVEPOINT weir_row');
      }
    } catch (diagnosisError) {
      void diagnosisError; // the original error is what the user needs; the connection is dropped
    } finally {
      await connection.query('ROLLBACK').catch(() => {});
    }
    return new PostgresWriteError(table, error);
  }
}

/** One `text[]` per column over rows `[from, to)`. */
function columnArrays<T>(batch: RowBatch<T>, from = 0, to = batch.size): (string | null)[][] {
  const width = batch.rows.length === 0 ? 0 : batch.rows[0].length;
  const columns: (string | null)[][] = Array.from({ length: width }, () => []);
  for (let i = from; i < to; i++) {
    const row = batch.rows[i];
    for (let c = 0; c < width; c++) columns[c].push(toPgText(row[c]));
  }
  return columns;
}
