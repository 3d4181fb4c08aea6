/** Reads the target table's column types from the catalog at start, and checks the mapping against them. */
import type { SqlConnection } from './connection.ts';
import type { TableMapping } from './table-mapping.ts';

/**
 * The type of each mapped column, without type modifiers (`character varying`, not
 * `character varying(10)`): an explicit cast to the bare type, followed by the INSERT's
 * assignment to the column, checks lengths and precision as COPY does, where a cast to
 * `varchar(10)` would silently truncate.
 */
export async function columnTypes<T>(connection: SqlConnection, mapping: TableMapping<T>): Promise<string[]> {
  const [found] = await connection.query('SELECT to_regclass($1)::oid AS oid', [mapping.tableSql]);
  if (found?.oid === null || found?.oid === undefined) {
    throw new Error(
      `PostgreSQL sink: table ${mapping.tableLabel} does not exist (looked up as ${mapping.tableSql})`,
    );
  }
  const rows = await connection.query(
    `SELECT attname, format_type(atttypid, NULL) AS type FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
    [String(found.oid)],
  );
  const types = new Map(rows.map((r) => [String(r.attname), String(r.type)]));
  return mapping.columns.map((column) => {
    const type = types.get(column);
    if (type === undefined) {
      throw new Error(
        `PostgreSQL sink: table ${mapping.tableLabel} has no column '${column}' (it has ${[...types.keys()].join(', ')})`,
      );
    }
    return type;
  });
}
