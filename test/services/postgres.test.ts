// Smoke test of the real PostgreSQL test server (scripts/services/postgres.sh): the two-phase
// commit primitives and COPY that the PostgreSQL sink is built on.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePostgres, SERVICE_START_TIMEOUT_MS } from './services.ts';

describe('PostgreSQL test server', () => {
  let pool: pg.Pool;
  const table = `smoke_${process.pid}_${Date.now()}`;

  beforeAll(async () => {
    const { connectionString } = await ensurePostgres();
    pool = new pg.Pool({ connectionString, max: 4 });
    await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
  }, SERVICE_START_TIMEOUT_MS);

  afterAll(async () => {
    if (!pool) return;
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  });

  it('has prepared transactions enabled', async () => {
    const { rows } = await pool.query<{ max_prepared_transactions: string }>(
      'SHOW max_prepared_transactions',
    );
    expect(Number(rows[0].max_prepared_transactions)).toBeGreaterThan(0);
  });

  it('PREPARE TRANSACTION, then COMMIT PREPARED from another connection; a second commit is 42704', async () => {
    const gid = `weir-smoke-${process.pid}-${Date.now()}`;
    const writer = await pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO ${table} VALUES (1, 'prepared')`);
      // The gid cannot be a bind parameter: it is a literal.
      await writer.query(`PREPARE TRANSACTION ${writer.escapeLiteral(gid)}`);
    } finally {
      writer.release();
    }

    const prepared = await pool.query('SELECT gid FROM pg_prepared_xacts WHERE gid = $1', [gid]);
    expect(prepared.rowCount).toBe(1);
    expect((await pool.query(`SELECT * FROM ${table} WHERE id = 1`)).rowCount).toBe(0);

    const committer = new pg.Client({ connectionString: (await ensurePostgres()).connectionString });
    await committer.connect();
    try {
      await committer.query(`COMMIT PREPARED ${committer.escapeLiteral(gid)}`);
      const again = committer.query(`COMMIT PREPARED ${committer.escapeLiteral(gid)}`);
      await expect(again).rejects.toMatchObject({ code: '42704' });
    } finally {
      await committer.end();
    }

    expect((await pool.query(`SELECT v FROM ${table} WHERE id = 1`)).rows).toEqual([{ v: 'prepared' }]);
    expect((await pool.query('SELECT 1 FROM pg_prepared_xacts WHERE gid = $1', [gid])).rowCount).toBe(0);
  });

  it('ROLLBACK PREPARED discards a prepared transaction', async () => {
    const gid = `weir-smoke-rb-${process.pid}-${Date.now()}`;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${table} VALUES (2, 'rolled back')`);
      await client.query(`PREPARE TRANSACTION ${client.escapeLiteral(gid)}`);
      await client.query(`ROLLBACK PREPARED ${client.escapeLiteral(gid)}`);
    } finally {
      client.release();
    }
    expect((await pool.query(`SELECT * FROM ${table} WHERE id = 2`)).rowCount).toBe(0);
  });

  it('COPY FROM STDIN through pg-copy-streams', async () => {
    const client = await pool.connect();
    try {
      const rows = Array.from({ length: 1000 }, (_, i) => `${100 + i}\tcopied ${i}\n`);
      await pipeline(Readable.from(rows), client.query(copyFrom(`COPY ${table} (id, v) FROM STDIN`)));
    } finally {
      client.release();
    }
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE id >= 100`);
    expect(Number(rows[0].n)).toBe(1000);
  });
});
