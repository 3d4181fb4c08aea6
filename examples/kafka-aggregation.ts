/**
 * Kafka → keyed aggregation → Kafka, exactly-once: reads orders (`{"user":"u3","amount":12.5}`)
 * from a topic, keeps each user's order count and total in keyed state, and writes every
 * updated total to another topic in Kafka transactions that commit when a checkpoint completes.
 * A read_committed consumer of the output sees each order's effect exactly once, also across
 * failures and restarts.
 *
 * Against the test broker (`npm run services:start`, 127.0.0.1:39092):
 *
 *   node examples/kafka-aggregation-input.ts --orders 1000          # creates the topics, writes orders
 *   npm run build
 *   weir run examples/kafka-aggregation.ts --checkpoint-interval 1000 --checkpoint-dir .weir/checkpoints
 *
 * Job arguments (after `--`): `--bootstrap host:port`, `--input orders`, `--output user-totals`,
 * `--bounded` (stop at the end of the input as it is at start, then commit and exit), and
 * `--postgres postgres://weir@127.0.0.1:39432/weir` to also keep each user's latest total in
 * the table `user_totals` (`--table`; created by the input script with `--postgres`): upserts inside
 * prepared transactions, committed with the same checkpoints as the Kafka transactions.
 * Exactly-once output needs checkpoints: without `--checkpoint-interval` the totals become
 * visible only at the end of a bounded run.
 */
import { parseArgs } from 'node:util';
import type { StreamExecutionEnvironment } from 'weir';
import { KafkaSink, KafkaSource, kafkaDeserializers, kafkaSerializers } from 'weir/kafka';
import { postgresSink } from 'weir/postgres';

export interface Order {
  readonly user: string;
  readonly amount: number;
}

export interface UserTotal {
  readonly user: string;
  readonly orders: number;
  readonly amount: number;
}

export const DEFAULT_BOOTSTRAP = '127.0.0.1:39092';
export const TOTALS_TABLE = 'user_totals';

export default function kafkaAggregation(env: StreamExecutionEnvironment, args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      bootstrap: { type: 'string', default: DEFAULT_BOOTSTRAP },
      input: { type: 'string', default: 'orders' },
      output: { type: 'string', default: 'user-totals' },
      bounded: { type: 'boolean', default: false },
      postgres: { type: 'string' },
      table: { type: 'string', default: TOTALS_TABLE },
    },
  });
  const bootstrapServers = values.bootstrap;
  const totals = env
    .fromSource(
      new KafkaSource({
        bootstrapServers,
        topics: [values.input],
        deserializer: kafkaDeserializers.json<Order>(),
        startingOffsets: 'earliest',
        bounded: values.bounded,
        // A record that is not an order goes to a dead-letter topic instead of failing the job.
        onDeserializationError: { deadLetterTopic: `${values.input}-dead-letters` },
      }),
      undefined,
      'Source: orders',
    )
    .uid('orders')
    .map((o): UserTotal => ({ user: o.user, orders: 1, amount: o.amount }))
    .uid('to-total')
    .keyBy((t) => t.user)
    .reduce((a, b) => ({ user: a.user, orders: a.orders + b.orders, amount: a.amount + b.amount }))
    .name('Totals per user')
    .uid('totals');
  totals
    .sinkTo(
      new KafkaSink<UserTotal>({
        bootstrapServers,
        topic: values.output,
        key: (t) => t.user,
        serializer: kafkaSerializers.json<UserTotal>(),
        deliveryGuarantee: 'exactly-once',
      }),
      'Sink: user totals',
    )
    .uid('user-totals');
  if (values.postgres !== undefined) {
    totals
      .sinkTo(
        postgresSink<UserTotal>({
          connectionString: values.postgres,
          table: values.table,
          columns: ['user_id', 'orders', 'amount'],
          row: (t) => [t.user, t.orders, t.amount],
          // The latest total per user; exactly-once makes a checkpoint's upserts visible together.
          upsert: { keyColumns: ['user_id'] },
          deliveryGuarantee: 'exactly-once',
        }),
        'Sink: user totals table',
      )
      .uid('user-totals-table');
  }
}
