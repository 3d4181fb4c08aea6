/**
 * Issue 5's Kafka benchmark: Kafka → map → Kafka throughput with the exactly-once sink
 * (a transaction per checkpoint) divided by the same job with the at-least-once sink (flush at
 * the barrier), same checkpoint interval, in one run. Starts the test broker through
 * scripts/services/kafka.sh unless WEIR_KAFKA_BOOTSTRAP names one.
 *
 * Each run writes to a fresh topic and reads it back (read_committed, no consumer group) for
 * the checksum; the job alone is also timed, and those rates go to standard error.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Producer } from '@platformatic/kafka';
import { KafkaAdmin, partitionKey } from '../src/connectors/kafka/client/kafka-admin.ts';
import { PartitionFetcher } from '../src/connectors/kafka/client/partition-fetcher.ts';
import { KafkaSink, KafkaSource, kafkaDeserializers } from '../src/connectors/kafka/index.ts';
import { type DeliveryGuarantee, StreamExecutionEnvironment } from '../src/index.ts';
import type { BenchCase, Benchmark, Checksum } from './harness.ts';

const CHECKPOINT_INTERVAL_MS = 1_000;
const PARTITIONS = 2;
const PARALLELISM = 1;
/** Records per produce request while writing the input. */
const PRODUCE_CHUNK_RECORDS = 10_000;
/** Fetch rounds of one read-back, at most. */
const READ_ROUNDS_MAX = 100_000;

/** The broker: WEIR_KAFKA_BOOTSTRAP, else the repository's test broker (started if needed). */
function brokerBootstrap(): string {
  const fromEnv = process.env.WEIR_KAFKA_BOOTSTRAP;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const script = join(import.meta.dirname, '..', 'scripts', 'services', 'kafka.sh');
  execFileSync('bash', [script, 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const line = execFileSync('bash', [script, 'env'], { encoding: 'utf8' });
  const bootstrap = /WEIR_KAFKA_BOOTSTRAP=(\S+)/.exec(line)?.[1];
  if (bootstrap === undefined) throw new Error(`kafka.sh env printed no WEIR_KAFKA_BOOTSTRAP: ${line}`);
  return bootstrap;
}

let topicCounter = 0;
const uniqueTopic = (what: string): string =>
  `weir-bench-${what}-${process.pid}-${Date.now().toString(36)}-${topicCounter++}`;

async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const admin = new KafkaAdmin({ bootstrapServers: bootstrap }, 'bench-admin');
  try {
    await admin.client.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
    const all = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }));
    for (let i = 0; i < 100 && (await admin.leaders(all, true)).size < PARTITIONS; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await admin.close();
  }
}

/** The input topic: the numbers 0 … records-1 as text, round-robin over the partitions. */
async function produceInput(bootstrap: string, records: number): Promise<string> {
  const topic = uniqueTopic('in');
  await createTopic(bootstrap, topic);
  const producer = new Producer({ clientId: 'bench-input', bootstrapBrokers: [bootstrap], idempotent: true });
  try {
    for (let from = 0; from < records; from += PRODUCE_CHUNK_RECORDS) {
      const messages = [];
      for (let i = from; i < Math.min(records, from + PRODUCE_CHUNK_RECORDS); i++) {
        messages.push({ topic, value: Buffer.from(String(i)), partition: i % PARTITIONS });
      }
      await producer.send({ acks: -1, messages });
    }
  } finally {
    await producer.close();
  }
  return topic;
}

/** Count and sum of the numbers a read_committed reader sees in `topic`. */
async function readBack(bootstrap: string, topic: string): Promise<Checksum> {
  const admin = new KafkaAdmin({ bootstrapServers: bootstrap }, 'bench-reader');
  try {
    const partitions = await admin.partitionsOf([topic]);
    const end = await admin.latestOffsets(partitions, true);
    const fetcher = new PartitionFetcher(admin, true);
    let count = 0;
    let sum = 0;
    let positions = partitions.map((partition) => ({ partition, offset: 0n }));
    const notDone = (p: { partition: (typeof partitions)[number]; offset: bigint }): boolean =>
      p.offset < (end.get(partitionKey(p.partition)) ?? 0n);
    positions = positions.filter(notDone);
    for (let round = 0; round < READ_ROUNDS_MAX && positions.length > 0; round++) {
      const fetched = new Map((await fetcher.fetch(positions)).map((f) => [partitionKey(f.partition), f]));
      positions = positions
        .map((p) => {
          const f = fetched.get(partitionKey(p.partition));
          if (f === undefined) return p;
          for (const r of f.records) {
            count++;
            sum += Number(r.value?.toString('utf8'));
          }
          return { partition: p.partition, offset: f.nextOffset };
        })
        .filter(notDone);
    }
    return { count, sum };
  } finally {
    await admin.close();
  }
}

/** Job-only times per case (ms), reported on stderr: the driver's times include the read-back. */
const jobTimesMs = new Map<DeliveryGuarantee, number[]>();

async function run(
  bootstrap: string,
  input: Promise<string>,
  guarantee: DeliveryGuarantee,
): Promise<Checksum> {
  const inputTopic = await input;
  const output = uniqueTopic(guarantee);
  await createTopic(bootstrap, output);
  const env = StreamExecutionEnvironment.create({
    parallelism: PARALLELISM,
    checkpointing: { intervalMs: CHECKPOINT_INTERVAL_MS },
    logger: { log: () => {} },
  });
  env
    .fromSource(
      new KafkaSource<string>({
        bootstrapServers: bootstrap,
        topics: [inputTopic],
        deserializer: kafkaDeserializers.string(),
        bounded: true,
        partitionDiscoveryIntervalMs: 0,
      }),
      undefined,
      'Source: Kafka',
    )
    .map((text) => String(Number(text) * 2))
    .sinkTo(
      new KafkaSink<string>({
        bootstrapServers: bootstrap,
        topic: output,
        serializer: (v) => v,
        deliveryGuarantee: guarantee,
        transactionalIdPrefix: output,
      }),
      'Sink: Kafka',
    );
  const started = performance.now();
  await env.execute(`bench: kafka ${guarantee}`);
  const jobMs = performance.now() - started;
  jobTimesMs.set(guarantee, [...(jobTimesMs.get(guarantee) ?? []), jobMs]);
  process.stderr.write(`  [${guarantee}] job ${jobMs.toFixed(0)} ms\n`);
  return readBack(bootstrap, output);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The job-only rates and their ratio (every run so far, warm-ups included), at exit. */
function reportJobTimes(records: number): void {
  const eo = jobTimesMs.get('exactly-once') ?? [];
  const alo = jobTimesMs.get('at-least-once') ?? [];
  if (eo.length === 0 || alo.length === 0) return;
  const rate = (ms: number): string => `${((records / ms) * 1000).toFixed(0)} records/s`;
  process.stderr.write(
    `  job only (medians of ${eo.length} runs each): exactly-once ${rate(median(eo))}, ` +
      `at-least-once ${rate(median(alo))}, ratio ${(median(alo) / median(eo)).toFixed(3)} (target ≥ 0.8)\n`,
  );
}

export const kafkaExactlyOnce: Benchmark = {
  name: 'kafka-exactly-once',
  title: `Kafka → map → Kafka (p=${PARALLELISM}, ${PARTITIONS} partitions, checkpoints every ${CHECKPOINT_INTERVAL_MS} ms): exactly-once sink vs at-least-once sink (× = throughput ratio; target ≥ 0.8)`,
  // Enough that the wait for the checkpoint covering the end of input (up to one interval, exactly-once
  // only: its last transaction commits then) is a small share of the run.
  recordsDefault: 1_000_000,
  headline: [{ caseName: 'exactly-once (transactions)', targetRatio: 0.8 }],
  setup(records: number): readonly BenchCase[] {
    const bootstrap = brokerBootstrap();
    // Written once, during the first (warm-up) run: setup cannot wait.
    let input: Promise<string> | undefined;
    const inputTopic = (): Promise<string> => {
      input ??= produceInput(bootstrap, records);
      return input;
    };
    process.on('beforeExit', () => reportJobTimes(records));
    const expected: Checksum = { count: records, sum: records * (records - 1) };
    return [
      {
        name: 'at-least-once (flush at the barrier)',
        reference: true,
        expected,
        run: () => run(bootstrap, inputTopic(), 'at-least-once'),
      },
      {
        name: 'exactly-once (transactions)',
        expected,
        run: () => run(bootstrap, inputTopic(), 'exactly-once'),
      },
    ];
  },
};
