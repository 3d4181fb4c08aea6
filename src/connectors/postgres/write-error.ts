/** The error a failed write raises: the table, the server's message and, when known, the offending record. */
import { sqlErrorFields } from './connection.ts';
import { describeRecord } from './table-mapping.ts';

/** A write the server refused; `record` is the input record whose row it refused, when known. */
export class PostgresWriteError extends Error {
  override name = 'PostgresWriteError';
  readonly table: string;
  readonly sqlState: string | undefined;
  readonly record: unknown;

  constructor(table: string, cause: unknown, record?: { readonly value: unknown }) {
    const fields = sqlErrorFields(cause);
    const message = cause instanceof Error ? cause.message : String(cause);
    const detail = fields?.detail === undefined ? '' : ` (${fields.detail})`;
    const row = record === undefined ? '' : `; offending record: ${describeRecord(record.value)}`;
    super(`PostgreSQL sink: writing to table ${table} failed: ${message}${detail}${row}`, { cause });
    this.table = table;
    this.sqlState = fields?.code;
    this.record = record?.value;
  }
}

/** The 1-based COPY input line an error's context names (`COPY t, line 3…`), if any. */
export function copyErrorLine(error: unknown): number | undefined {
  const where = sqlErrorFields(error)?.where;
  const match = where === undefined ? null : /^COPY [^\n]*?, line (\d+)/.exec(where);
  return match === null ? undefined : Number(match[1]);
}
