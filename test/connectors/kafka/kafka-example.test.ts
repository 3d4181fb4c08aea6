/** examples/kafka-aggregation.ts through `weir run` against the test broker (uses the built `weir/kafka`: `npm run build` first, as `npm test` does). */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { UserTotal } from '../../../examples/kafka-aggregation.ts';
import { createTotalsTable, writeOrders } from '../../../examples/kafka-aggregation-input.ts';
import { ensurePostgres, SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import { bootstrap, noOpenTransactions, readAll, uniqueTopic } from './kafka-support.ts';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

let servers = '';
let postgres = '';
beforeAll(async () => {
  servers = await bootstrap();
  postgres = (await ensurePostgres()).connectionString;
}, SERVICE_START_TIMEOUT_MS);

describe('weir run examples/kafka-aggregation.ts', () => {
  it('writes every order once into the running totals (read_committed) and the table, and the final totals match', async () => {
    const input = uniqueTopic('example-orders');
    const output = uniqueTopic('example-totals');
    const table = `user_totals_${output.replace(/[^a-z0-9]/gi, '_')}`.toLowerCase();
    const orders = 120;
    const expected = await writeOrders(servers, input, output, orders, 6);
    await createTotalsTable(postgres, table);
    const args = [
      join(REPO_ROOT, 'bin/weir.js'),
      'run',
      'examples/kafka-aggregation.ts',
      '--checkpoint-interval',
      '100',
      '--',
      '--bootstrap',
      servers,
      '--input',
      input,
      '--output',
      output,
      '--bounded',
      '--postgres',
      postgres,
      '--table',
      table,
    ];
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, args, { cwd: REPO_ROOT }, (error, _out, err) =>
        resolve({ code: error === null ? 0 : Number(error.code), stderr: err }),
      );
    });
    expect(code, stderr).toBe(0);
    const totals = (await readAll(servers, output)).map((v) => JSON.parse(v) as UserTotal);
    // One output per order: per user, order counts 1..n each exactly once.
    expect(totals).toHaveLength(orders);
    for (const [user, amount] of expected) {
      const mine = totals.filter((t) => t.user === user).sort((a, b) => a.orders - b.orders);
      expect(mine.map((t) => t.orders)).toEqual(Array.from({ length: mine.length }, (_, i) => i + 1));
      expect(mine.at(-1)?.amount).toBeCloseTo(amount, 6);
    }
    expect(await noOpenTransactions(servers, output)).toBe(true);
    const client = new pg.Client({ connectionString: postgres });
    await client.connect();
    try {
      const rows = (await client.query(`SELECT user_id, orders, amount FROM ${table} ORDER BY user_id`))
        .rows as {
        user_id: string;
        orders: number;
        amount: number;
      }[];
      expect(rows.map((r) => r.user_id)).toEqual([...expected.keys()].sort());
      for (const row of rows) {
        expect(row.orders).toBe(totals.filter((t) => t.user === row.user_id).length);
        expect(row.amount).toBeCloseTo(expected.get(row.user_id)!, 6);
      }
      const prepared = await client.query(
        "SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE gid LIKE 'weir-kafka-aggregation-%'",
      );
      expect(prepared.rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  }, 60_000);
});
