/** Quoting of SQL identifiers, and the rules for prepared transactions' names. */

/**
 * Quotes one identifier (a column, a table, a schema) so that any name is taken literally:
 * double quotes around it, inner double quotes doubled. Case is kept, as with a quoted name
 * in SQL; a NUL character cannot be part of an identifier and is refused.
 */
export function quoteIdentifier(name: string): string {
  if (name.length === 0) throw new Error('an SQL identifier must not be empty');
  if (name.includes('\0')) throw new Error(`an SQL identifier must not contain NUL: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A table name as given by the user: `'orders'` or `{ schema: 'sales', table: 'orders' }`. */
export type TableName = string | { readonly schema: string; readonly table: string };

/** The quoted, schema-qualified name of a table (unqualified names resolve through `search_path`). */
export function quoteTableName(name: TableName): string {
  return typeof name === 'string'
    ? quoteIdentifier(name)
    : `${quoteIdentifier(name.schema)}.${quoteIdentifier(name.table)}`;
}

/** PostgreSQL's limit on a prepared transaction's identifier (GIDSIZE), in bytes. */
export const GID_LENGTH_MAX_BYTES = 199;

/** Characters a transaction name may use: safe for every client and every quoting rule. */
const GID_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Throws unless `gid` is usable as a prepared transaction's identifier. */
export function checkGid(gid: string): void {
  if (!GID_PATTERN.test(gid)) {
    throw new Error(
      `PostgreSQL sink: transaction name '${gid}' may use only letters, digits, '.', '_' and '-' ` +
        '(choose a transactionalIdPrefix of those characters)',
    );
  }
  if (Buffer.byteLength(gid) > GID_LENGTH_MAX_BYTES) {
    throw new Error(
      `PostgreSQL sink: transaction name '${gid}' is longer than PostgreSQL's ${GID_LENGTH_MAX_BYTES} bytes ` +
        '(choose a shorter transactionalIdPrefix)',
    );
  }
}
