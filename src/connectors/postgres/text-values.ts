/**
 * JavaScript values as PostgreSQL text input: the form COPY's text format and a `::type` cast
 * of a text parameter both read, so one encoding serves every write path.
 */

/**
 * What a row may hold per column. `null` and `undefined` are SQL NULL; strings, numbers,
 * bigints and booleans are written as their text; a `Date` as an ISO 8601 instant; bytes as
 * `bytea` hex; an array as an SQL array literal; any other object as JSON (for `json`/`jsonb`).
 */
export type ColumnValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | null
  | undefined
  | readonly ColumnValue[]
  | { readonly [key: string]: unknown };

/** The text input form of `value`, or `null` for SQL NULL. */
export function toPgText(value: ColumnValue): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array)
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (Array.isArray(value)) return arrayLiteral(value as readonly ColumnValue[]);
  return JSON.stringify(value);
}

/** `{"a","b",NULL}`: every element quoted, so commas, braces and spaces in elements are data. */
function arrayLiteral(values: readonly ColumnValue[]): string {
  const parts = values.map((v) => {
    if (Array.isArray(v)) return arrayLiteral(v as readonly ColumnValue[]);
    const text = toPgText(v);
    return text === null ? 'NULL' : `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  });
  return `{${parts.join(',')}}`;
}

/** Characters COPY's text format escapes inside a field. */
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_ALL = /[\\\n\r\t]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** One field of COPY's text format: `\N` for NULL, backslash escapes for the separators. */
export function copyField(value: ColumnValue): string {
  const text = toPgText(value);
  if (text === null) return '\\N';
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]) : text;
}

/** Rows in COPY's text format: tab-separated fields, one line per row. */
export function copyText(rows: readonly (readonly ColumnValue[])[]): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      if (i > 0) out += '\t';
      out += copyField(row[i]);
    }
    out += '\n';
  }
  return out;
}
