/** The SQL layer without the job runtime: quoting, text encoding, and batches against the real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyStatement, UpsertStatement } from '../../../src/connectors/postgres/batch-statements.ts';
import { SqlConnection } from '../../../src/connectors/postgres/connection.ts';
import { checkGid, quoteIdentifier, quoteTableName } from '../../../src/connectors/postgres/identifiers.ts';
import { RowBatch } from '../../../src/connectors/postgres/row-batch.ts';
import { TableMapping } from '../../../src/connectors/postgres/table-mapping.ts';
import { columnTypes } from '../../../src/connectors/postgres/table-schema.ts';
import { copyText, toPgText } from '../../../src/connectors/postgres/text-values.ts';
import { PostgresWriteError } from '../../../src/connectors/postgres/write-error.ts';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import { freshTable, postgresUrl, tableRows } from './database.ts';

describe('quoting and names', () => {
  it('quotes identifiers literally and refuses unsafe transaction names', () => {
    expect(quoteIdentifier('Weird "name"')).toBe('"Weird ""name"""');
    expect(quoteTableName({ schema: 's', table: 't' })).toBe('"s"."t"');
    expect(() => checkGid("weir-x'; DROP TABLE t; --")).toThrow(/letters, digits/);
    expect(() => checkGid('a'.repeat(200))).toThrow(/199 bytes/);
    expect(() => checkGid('weir-job.v1_sink-0-12')).not.toThrow();
  });

  it('encodes values as PostgreSQL text input and escapes COPY fields', () => {
    expect(toPgText(null)).toBeNull();
    expect(toPgText(12n)).toBe('12');
    expect(toPgText(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(toPgText(new Uint8Array([1, 255]))).toBe('\\x01ff');
    expect(toPgText(['a', null, 'b"c'])).toBe('{"a",NULL,"b\\"c"}');
    expect(toPgText({ a: 1 })).toBe('{"a":1}');
    expect(copyText([['a\tb', null, 'x\\y\nz']])).toBe('a\\tb\t\\N\tx\\\\y\\nz\n');
  });
});

describe('batches against the server', () => {
  let connection: SqlConnection;
  beforeAll(async () => {
    connection = await SqlConnection.open({ connectionString: await postgresUrl() }, 'weir sql-layer test');
  }, SERVICE_START_TIMEOUT_MS);
  afterAll(async () => {
    await connection?.close();
  });

  interface Row {
    readonly id: number;
    readonly name: string | null;
    readonly tags?: readonly string[];
  }
  const batchOf = (records: readonly Row[], mapping: TableMapping<Row>) => {
    const batch = new RowBatch<Row>();
    for (const r of records) batch.add(r, mapping.row(r));
    return batch;
  };

  it('COPY writes awkward values exactly and names the record on a constraint violation', async () => {
    const table = await freshTable("id int PRIMARY KEY, name text CHECK (name <> 'bad'), tags text[]");
    const mapping = new TableMapping<Row>({ table, columns: ['id', 'name', 'tags'] });
    expect(await columnTypes(connection, mapping)).toEqual(['integer', 'text', 'text[]']);
    const copy = new CopyStatement(mapping);
    const awkward = [
      { id: 1, name: 'tab\there\nnewline \\ backslash', tags: ['a,b', '{c}', 'd"e'] },
      { id: 2, name: null, tags: [] },
      { id: 3, name: '\\N' },
    ];
    await copy.write(connection, batchOf(awkward, mapping));
    expect(await tableRows(table, 'id')).toEqual(awkward.map((r) => ({ ...r, tags: r.tags ?? null })));
    const failing = copy.write(
      connection,
      batchOf(
        [
          { id: 4, name: 'ok' },
          { id: 5, name: 'bad' },
        ],
        mapping,
      ),
    );
    await expect(failing).rejects.toThrow(PostgresWriteError);
    await expect(failing).rejects.toThrow(
      /table weir_test_.*check constraint.*offending record: \{"id":5,"name":"bad"\}/,
    );
  });

  it('upserts merge repeated keys in a batch and find the culprit row by row', async () => {
    const table = await freshTable('id int PRIMARY KEY, name varchar(5) NOT NULL');
    const mapping = new TableMapping<Row>({ table, columns: ['id', 'name'], row: (r) => [r.id, r.name] });
    const upsert = new UpsertStatement(mapping, await columnTypes(connection, mapping), ['id']);
    await upsert.write(
      connection,
      batchOf(
        [
          { id: 1, name: 'a' },
          { id: 2, name: 'b' },
          { id: 1, name: 'c' },
        ],
        mapping,
      ),
      false,
    );
    await upsert.write(connection, batchOf([{ id: 2, name: 'd' }], mapping), false);
    expect(await tableRows(table, 'id')).toEqual([
      { id: 1, name: 'c' },
      { id: 2, name: 'd' },
    ]);
    // varchar(5) is checked, not truncated: the bare type is cast, then assigned.
    const failing = upsert.write(
      connection,
      batchOf(
        [
          { id: 3, name: 'ok' },
          { id: 4, name: 'too long' },
        ],
        mapping,
      ),
      false,
    );
    await expect(failing).rejects.toThrow(
      /too long for type character varying\(5\).*offending record: \{"id":4/,
    );
    expect(await tableRows(table, 'id')).toHaveLength(2);
  });
});
