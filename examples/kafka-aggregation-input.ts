/**
 * Input for examples/kafka-aggregation.ts: creates the input, output and dead-letter topics
 * (3 partitions each) when missing and writes `--orders N` random orders of `--users N` users.
 *
 *   node examples/kafka-aggregation-input.ts [--bootstrap 127.0.0.1:39092] [--orders 1000] [--users 10]
 *     [--postgres postgres://weir@127.0.0.1:39432/weir]   # also (re)creates the table user_totals
 */
import { parseArgs } from 'node:util';
import { Admin, Producer } from '@platformatic/kafka';
import pg from 'pg';

const PARTITIONS = 3;

/** Creates the topics that do not exist yet and writes `orders` orders; resolves with their total amount per user. */
export async function writeOrders(
  bootstrap: string,
  input: string,
  output: string,
  orders: number,
  users: number,
): Promise<Map<string, number>> {
  const admin = new Admin({ clientId: 'weir-example', bootstrapBrokers: [bootstrap] });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [input, output, `${input}-dead-letters`].filter((t) => !existing.has(t));
    if (missing.length > 0)
      await admin.createTopics({ topics: missing, partitions: PARTITIONS, replicas: 1 });
  } finally {
    await admin.close();
  }
  const totals = new Map<string, number>();
  const messages = Array.from({ length: orders }, (_, i) => {
    const user = `u${i % users}`;
    const amount = Math.round(Math.random() * 10_000) / 100;
    totals.set(user, (totals.get(user) ?? 0) + amount);
    return { topic: input, key: Buffer.from(user), value: Buffer.from(JSON.stringify({ user, amount })) };
  });
  const producer = new Producer({
    clientId: 'weir-example',
    bootstrapBrokers: [bootstrap],
    idempotent: true,
  });
  try {
    await producer.send({ messages });
  } finally {
    await producer.close();
  }
  return totals;
}

/** Drops and creates the table the example's PostgreSQL sink upserts into. */
export async function createTotalsTable(connectionString: string, table = 'user_totals'): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const name = client.escapeIdentifier(table);
    await client.query(`DROP TABLE IF EXISTS ${name}`);
    await client.query(
      `CREATE TABLE ${name} (user_id text PRIMARY KEY, orders integer NOT NULL, amount double precision NOT NULL)`,
    );
  } finally {
    await client.end();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      bootstrap: { type: 'string', default: '127.0.0.1:39092' },
      input: { type: 'string', default: 'orders' },
      output: { type: 'string', default: 'user-totals' },
      orders: { type: 'string', default: '1000' },
      users: { type: 'string', default: '10' },
      postgres: { type: 'string' },
    },
  });
  if (values.postgres !== undefined) await createTotalsTable(values.postgres);
  const totals = await writeOrders(
    values.bootstrap,
    values.input,
    values.output,
    Number(values.orders),
    Number(values.users),
  );
  console.log(`wrote ${values.orders} orders of ${totals.size} users to '${values.input}'`);
}
