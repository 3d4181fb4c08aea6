/** Helpers for the Kafka connector tests: unique topics, producing, and read_committed reads of a whole topic. */
import { Connection, listTransactionsV1, Producer } from '@platformatic/kafka';
import { KafkaAdmin } from '../../../src/connectors/kafka/client/kafka-admin.ts';
import { PartitionFetcher } from '../../../src/connectors/kafka/client/partition-fetcher.ts';
import { ensureKafka } from '../../services/services.ts';

let counter = 0;
export function uniqueTopic(name: string): string {
  counter++;
  return `weir-test-${name}-${process.pid}-${Date.now()}-${counter}`;
}

export async function bootstrap(): Promise<string> {
  return (await ensureKafka()).bootstrap;
}

export async function createTopic(
  bootstrapServers: string,
  topic: string,
  partitions: number,
): Promise<void> {
  const admin = new KafkaAdmin({ bootstrapServers }, 'test-admin');
  try {
    await admin.client.createTopics({ topics: [topic], partitions, replicas: 1 });
    // A just-created topic's partitions get leaders in steps; wait for all, so tests do not
    // start with retries. (A partition that is still not ready makes the client resend the
    // whole Produce request: without idempotence that duplicated the other partitions' records.)
    // Right after creation the broker may not know the topic at all yet (seen on a busy machine).
    const all = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
    const led = async (): Promise<boolean> => {
      try {
        return (await admin.leaders(all, true)).size === partitions;
      } catch (error) {
        if (error instanceof Error && error.message.includes('Unknown topic')) return false;
        throw error;
      }
    };
    for (let i = 0; i < 100 && !(await led()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Metadata names the leader before the broker has taken the partitions over: a produce
    // then gets NOT_LEADER_OR_FOLLOWER, which the client retries only a few times (seen on a
    // freshly started broker under load). ListOffsets is answered by the leader itself, so
    // once it succeeds for every partition, they accept records.
    for (let i = 0; ; i++) {
      try {
        await admin.latestOffsets(all, false);
        break;
      } catch (error) {
        if (i >= 200) throw new Error(`topic ${topic}: partitions not ready after 10 s`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    await admin.close();
  }
}

export async function addPartitions(bootstrapServers: string, topic: string, count: number): Promise<void> {
  const admin = new KafkaAdmin({ bootstrapServers }, 'test-admin');
  try {
    await admin.client.createPartitions({ topics: [{ name: topic, count }] });
  } finally {
    await admin.close();
  }
}

/** Produces `values` round-robin over `partitions` partitions (acks=all). */
export async function produce(
  bootstrapServers: string,
  topic: string,
  values: readonly string[],
  partitions: number,
): Promise<void> {
  const producer = new Producer({
    clientId: 'test-producer',
    bootstrapBrokers: [bootstrapServers],
    idempotent: true,
  });
  try {
    await producer.send({
      acks: -1,
      messages: values.map((v, i) => ({ topic, value: Buffer.from(v), partition: i % partitions })),
    });
  } finally {
    await producer.close();
  }
}

/** Every record a read_committed (or read_uncommitted) reader sees now, as UTF-8 strings. */
export async function readAll(
  bootstrapServers: string,
  topic: string,
  readCommitted = true,
): Promise<string[]> {
  const admin = new KafkaAdmin({ bootstrapServers }, 'test-reader');
  try {
    const partitions = await admin.partitionsOf([topic]);
    const end = await admin.latestOffsets(partitions, readCommitted);
    const fetcher = new PartitionFetcher(admin, readCommitted);
    const values: string[] = [];
    let positions = partitions.map((partition) => ({ partition, offset: 0n }));
    for (let round = 0; round < 1000 && positions.length > 0; round++) {
      const fetched = await fetcher.fetch(positions);
      const next = new Map(fetched.map((f) => [`${f.partition.topic}-${f.partition.partition}`, f]));
      positions = positions
        .map((p) => {
          const f = next.get(`${p.partition.topic}-${p.partition.partition}`);
          if (f === undefined) return p;
          for (const r of f.records) values.push(r.value?.toString() ?? '');
          return { partition: p.partition, offset: f.nextOffset };
        })
        .filter((p) => p.offset < (end.get(`${p.partition.topic}-${p.partition.partition}`) ?? 0n));
    }
    return values;
  } finally {
    await admin.close();
  }
}

/** How long a transaction may stay between EndTxn's answer and its markers being written. */
const COMMIT_MARKERS_WAIT_MS_MAX = 30_000;

/**
 * Resolves once no transaction whose id starts with `transactionalIdPrefix` is PrepareCommit or
 * PrepareAbort. The coordinator answers EndTxn as soon as it logged the decision and writes the
 * commit markers into the partitions afterwards, so a read_committed read right after a commit
 * may still stop short of it (seen on a freshly started broker: a whole subtask's transaction
 * missing). Open (Ongoing) transactions are not waited for: they must stay invisible.
 */
export async function awaitCommitMarkers(
  bootstrapServers: string,
  transactionalIdPrefix: string,
): Promise<void> {
  const [host, port] = bootstrapServers.split(',')[0].split(':');
  const connection = new Connection('weir-test-markers');
  await connection.connect(host, Number(port));
  try {
    const deadline = Date.now() + COMMIT_MARKERS_WAIT_MS_MAX;
    for (;;) {
      // One broker: it coordinates every transactional id, so one answer covers them all.
      const { transactionStates } = await listTransactionsV1.api.async(
        connection,
        ['PrepareCommit', 'PrepareAbort'],
        [],
        -1n,
        null,
      );
      const pending = transactionStates.filter((t) => t.transactionalId.startsWith(transactionalIdPrefix));
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const names = pending.map((t) => `${t.transactionalId} ${t.transactionState}`).join(', ');
        throw new Error(`transaction markers not written within ${COMMIT_MARKERS_WAIT_MS_MAX} ms: ${names}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await connection.close();
  }
}

/** Last stable offset equals the high watermark: no transaction is open on any partition. */
export async function noOpenTransactions(bootstrapServers: string, topic: string): Promise<boolean> {
  const admin = new KafkaAdmin({ bootstrapServers }, 'test-lso');
  try {
    const partitions = await admin.partitionsOf([topic]);
    const stable = await admin.latestOffsets(partitions, true);
    const high = await admin.latestOffsets(partitions, false);
    return [...high].every(([key, offset]) => stable.get(key) === offset);
  } finally {
    await admin.close();
  }
}
