/** How records become rows of one table: the table, its columns, and a record → values function. */
import { quoteIdentifier, quoteTableName, type TableName } from './identifiers.ts';
import type { ColumnValue } from './text-values.ts';

/**
 * The target table and how a record fills it.
 *
 * @example
 * ```ts
 * const table: PostgresTable<{ id: number; total: number }> = {
 *   table: { schema: 'public', table: 'totals' },
 *   columns: ['id', 'total'],
 *   row: (r) => [r.id, r.total],
 * };
 * ```
 */
export interface PostgresTable<T> {
  /** The table (quoted: case and special characters are kept as given). */
  readonly table: TableName;
  /** The columns written, in the order `row` returns values. */
  readonly columns: readonly string[];
  /**
   * A record's values, one per column. Default: the record is an object and each column's
   * value is its property of the same name.
   */
  readonly row?: (record: T) => readonly ColumnValue[];
}

/** A validated {@link PostgresTable} with its quoted names and a row function. */
export class TableMapping<T> {
  readonly tableSql: string;
  /** The table as users wrote it, for messages. */
  readonly tableLabel: string;
  readonly columns: readonly string[];
  readonly columnsSql: readonly string[];
  readonly #row: (record: T) => readonly ColumnValue[];

  constructor(table: PostgresTable<T>) {
    if (table.columns.length === 0) throw new Error('PostgreSQL sink: the table mapping has no columns');
    if (new Set(table.columns).size !== table.columns.length) {
      throw new Error(`PostgreSQL sink: repeated column in ${JSON.stringify(table.columns)}`);
    }
    this.tableSql = quoteTableName(table.table);
    this.tableLabel =
      typeof table.table === 'string' ? table.table : `${table.table.schema}.${table.table.table}`;
    this.columns = [...table.columns];
    this.columnsSql = this.columns.map(quoteIdentifier);
    const columns = this.columns;
    this.#row =
      table.row ??
      ((record: T) => {
        const object = record as Readonly<Record<string, ColumnValue>>;
        return columns.map((c) => object[c]);
      });
  }

  /** The row of `record`; throws if the function returns the wrong number of values. */
  row(record: T): readonly ColumnValue[] {
    const values = this.#row(record);
    if (values.length !== this.columns.length) {
      throw new Error(
        `PostgreSQL sink: the row function returned ${values.length} values for the ` +
          `${this.columns.length} columns of ${this.tableLabel} (record ${describeRecord(record)})`,
      );
    }
    return values;
  }

  /** Indexes of `names` among the mapped columns; throws for a name that is not mapped. */
  indexesOf(names: readonly string[], what: string): number[] {
    return names.map((name) => {
      const index = this.columns.indexOf(name);
      if (index < 0) {
        throw new Error(
          `PostgreSQL sink: ${what} column '${name}' is not among the mapped columns of ${this.tableLabel}`,
        );
      }
      return index;
    });
  }
}

/** Characters of a record shown in an error message at most. */
const RECORD_TEXT_CHARS_MAX = 500;

/** A record for an error message: JSON where possible (bigints as strings), cut to a bound. */
export function describeRecord(record: unknown): string {
  let text: string;
  try {
    text =
      JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(record);
  } catch {
    text = String(record);
  }
  return text.length > RECORD_TEXT_CHARS_MAX ? `${text.slice(0, RECORD_TEXT_CHARS_MAX)}…` : text;
}
