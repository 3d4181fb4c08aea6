// Smoke test of the real Kafka test broker (scripts/services/kafka.sh) with @platformatic/kafka:
// topics, produce/consume, transactions seen by read_committed, the resume-commit the exactly-once
// sink relies on (EndTxn by transactional id, producer id and epoch from a fresh connection), the
// abort of a lingering transaction, and reading a partition from an offset without a consumer
// group. test/services/NOTES.md explains each recipe.

import {
  Admin,
  Connection,
  Consumer,
  endTxnV4,
  FetchIsolationLevels,
  FindCoordinatorKeyTypes,
  findCoordinatorV6,
  IS_CONTROL,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureKafka, SERVICE_START_TIMEOUT_MS } from './services.ts';

const unique = `${process.pid}-${Date.now()}`;

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

interface ReadRecord {
  offset: bigint;
  key: string | undefined;
  value: string | undefined;
}

/**
 * Reads one partition from `fromOffset` up to its end (the last stable offset for read_committed,
 * the high watermark otherwise) with raw Fetch requests: no consumer group, no committed offsets.
 * `consumer.fetch` filters aborted transactions for READ_COMMITTED; control batches are skipped
 * here, but they advance the position.
 */
async function readPartition(
  consumer: Consumer,
  topic: string,
  partition: number,
  fromOffset: bigint,
  isolationLevel: number,
): Promise<ReadRecord[]> {
  const metadata = await consumer.metadata({ topics: [topic] });
  const topicMetadata = metadata.topics.get(topic)!;
  const records: ReadRecord[] = [];
  let position = fromOffset;
  for (let round = 0; round < 1000; round++) {
    const response = await consumer.fetch({
      node: topicMetadata.partitions[partition].leader,
      isolationLevel,
      maxWaitTime: 100,
      topics: [
        {
          topicId: topicMetadata.id,
          partitions: [
            {
              partition,
              fetchOffset: position,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
              partitionMaxBytes: 1 << 20,
            },
          ],
        },
      ],
    });
    const data = response.responses[0].partitions[0];
    expect(data.errorCode).toBe(0);
    const end =
      isolationLevel === FetchIsolationLevels.READ_COMMITTED ? data.lastStableOffset : data.highWatermark;
    for (const batch of data.records ?? []) {
      if (!(batch.attributes & IS_CONTROL)) {
        for (const record of batch.records) {
          const offset = batch.firstOffset + BigInt(record.offsetDelta);
          // A fetch from the middle of a batch returns the whole batch.
          if (offset >= position) {
            records.push({ offset, key: record.key?.toString(), value: record.value?.toString() });
          }
        }
      }
      const next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
      if (next > position) position = next;
    }
    if (position >= end) return records;
  }
  throw new Error(`readPartition(${topic}, ${partition}) made no progress at offset ${position}`);
}

/**
 * Ends a transaction left open by a producer that is gone, from a fresh connection: FindCoordinator
 * for the transactional id, then EndTxn v4 with the saved producer id and epoch.
 */
async function endTransaction(
  bootstrap: string,
  transactionalId: string,
  producerId: bigint,
  producerEpoch: number,
  commit: boolean,
): Promise<void> {
  const boot = new Connection('weir-resume');
  const { host, port } = hostPort(bootstrap);
  await boot.connect(host, port);
  let coordinator: { host: string; port: number; errorCode: number };
  try {
    const found = await findCoordinatorV6.api.async(boot, FindCoordinatorKeyTypes.TRANSACTION, [
      transactionalId,
    ]);
    coordinator = found.coordinators[0];
  } finally {
    await boot.close();
  }
  expect(coordinator.errorCode).toBe(0);
  const connection = new Connection('weir-resume');
  await connection.connect(coordinator.host, coordinator.port);
  try {
    await endTxnV4.api.async(connection, transactionalId, producerId, producerEpoch, commit);
  } finally {
    await connection.close();
  }
}

describe('Kafka test broker', () => {
  let bootstrap: string;
  let admin: Admin;
  let reader: Consumer;
  const closeables: { close(): Promise<void> }[] = [];

  function transactionalProducer(transactionalId: string): Producer<string, string, string, string> {
    const producer = new Producer({
      clientId: 'weir-smoke',
      bootstrapBrokers: [bootstrap],
      transactionalId,
      idempotent: true,
      // InitProducerId must carry "no producer id" (-1/-1): the client's default 0/0 is taken by
      // the broker as a KIP-360 epoch-bump request and fails with PRODUCER_FENCED whenever the
      // transactional id already exists on the broker.
      producerId: -1n,
      producerEpoch: -1,
      // Also the transaction timeout sent in InitProducerId (default 5 s, after which the broker
      // aborts an open transaction): a pre-committed transaction must outlive a checkpoint and a restart.
      timeout: 600_000,
      serializers: stringSerializers,
    });
    closeables.push(producer);
    return producer;
  }

  async function newTopic(name: string): Promise<string> {
    const topic = `${name}-${unique}`;
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    return topic;
  }

  const committed = (topic: string, from = 0n) =>
    readPartition(reader, topic, 0, from, FetchIsolationLevels.READ_COMMITTED);
  const uncommitted = (topic: string, from = 0n) =>
    readPartition(reader, topic, 0, from, FetchIsolationLevels.READ_UNCOMMITTED);

  beforeAll(async () => {
    ({ bootstrap } = await ensureKafka());
    admin = new Admin({ clientId: 'weir-smoke', bootstrapBrokers: [bootstrap] });
    // groupId is required by the constructor; fetch() never joins the group.
    reader = new Consumer({
      clientId: 'weir-smoke',
      groupId: `weir-reader-${unique}`,
      bootstrapBrokers: [bootstrap],
    });
  }, SERVICE_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const c of closeables.reverse()) await c.close().catch(() => {});
    await reader?.close();
    await admin?.close();
  });

  it('creates a topic, produces and consumes through a consumer group', async () => {
    const topic = await newTopic('plain');
    const producer = new Producer({
      clientId: 'weir-smoke',
      bootstrapBrokers: [bootstrap],
      serializers: stringSerializers,
    });
    closeables.push(producer);
    await producer.send({
      messages: [0, 1, 2].map((i) => ({ topic, key: `k${i}`, value: `v${i}` })),
    });

    const consumer = new Consumer({
      clientId: 'weir-smoke',
      groupId: `weir-smoke-group-${unique}`,
      bootstrapBrokers: [bootstrap],
      deserializers: stringDeserializers,
    });
    closeables.push(consumer);
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST });
    const values: string[] = [];
    for await (const message of stream) {
      values.push(message.value);
      if (values.length === 3) break;
    }
    await stream.close();
    expect(values).toEqual(['v0', 'v1', 'v2']);
  });

  it('commits a transaction visibly and aborts one invisibly for read_committed', async () => {
    const topic = await newTopic('tx');
    const producer = transactionalProducer(`weir-smoke-tx-${unique}`);

    let tx = await producer.beginTransaction();
    await tx.send({
      messages: [
        { topic, key: 'a', value: 'committed-1' },
        { topic, key: 'a', value: 'committed-2' },
      ],
    });
    await tx.commit();

    tx = await producer.beginTransaction();
    await tx.send({ messages: [{ topic, key: 'b', value: 'aborted' }] });
    await tx.abort();

    expect((await committed(topic)).map((r) => r.value)).toEqual(['committed-1', 'committed-2']);
    expect((await uncommitted(topic)).map((r) => r.value)).toEqual(['committed-1', 'committed-2', 'aborted']);
  });

  it('commits a transaction of a dropped producer by transactional id, producer id and epoch', async () => {
    const topic = await newTopic('resume');
    const transactionalId = `weir-smoke-resume-${unique}`;

    const producerA = transactionalProducer(transactionalId);
    const tx = await producerA.beginTransaction();
    await tx.send({
      messages: [
        { topic, key: 'r', value: 'pre-committed-1' },
        { topic, key: 'r', value: 'pre-committed-2' },
      ],
    });
    // What the sink checkpoints at pre-commit.
    const producerId = producerA.producerId!;
    const producerEpoch = producerA.producerEpoch!;
    expect(typeof producerId).toBe('bigint');
    expect(producerEpoch).toBeGreaterThanOrEqual(0);
    // Drop A: close() only closes its sockets, it does not end the open transaction.
    await producerA.close();

    expect(await committed(topic)).toEqual([]);
    expect(await uncommitted(topic)).toHaveLength(2);

    await endTransaction(bootstrap, transactionalId, producerId, producerEpoch, true);
    expect((await committed(topic)).map((r) => r.value)).toEqual(['pre-committed-1', 'pre-committed-2']);

    // Committing again (a restart after the commit but before the next checkpoint) succeeds.
    await endTransaction(bootstrap, transactionalId, producerId, producerEpoch, true);

    // Aborting a committed transaction is refused.
    await expect(
      endTransaction(bootstrap, transactionalId, producerId, producerEpoch, false),
    ).rejects.toMatchObject({ errors: [expect.objectContaining({ apiId: 'INVALID_TXN_STATE' })] });
  });

  it('aborts a lingering transaction by initializing a new producer with the same transactional id', async () => {
    const topic = await newTopic('lingering');
    const transactionalId = `weir-smoke-lingering-${unique}`;

    const crashed = transactionalProducer(transactionalId);
    const tx = await crashed.beginTransaction();
    await tx.send({ messages: [{ topic, key: 'l', value: 'lingering' }] });
    const oldEpoch = crashed.producerEpoch!;
    const oldProducerId = crashed.producerId!;
    await crashed.close();

    // InitProducerId (inside beginTransaction) aborts the open transaction and fences the old
    // epoch. Nothing else is needed: the new transaction is empty and EndTxn on an empty
    // transaction is refused (see the next test), so it is only dropped on the client side.
    const successor = transactionalProducer(transactionalId);
    const fresh = await successor.beginTransaction();
    await fresh.cancel();
    expect(successor.producerId === oldProducerId && successor.producerEpoch === oldEpoch).toBe(false);

    expect(await committed(topic)).toEqual([]);
    expect(await uncommitted(topic)).toHaveLength(1);
    // The old producer can no longer commit.
    await expect(
      endTransaction(bootstrap, transactionalId, oldProducerId, oldEpoch, true),
    ).rejects.toMatchObject({
      errors: [expect.objectContaining({ apiId: 'PRODUCER_FENCED' })],
    });
  });

  it('refuses to commit or abort an empty transaction (INVALID_TXN_STATE)', async () => {
    const producer = transactionalProducer(`weir-smoke-empty-${unique}`);
    const tx = await producer.beginTransaction();
    await expect(tx.commit()).rejects.toMatchObject({
      errors: [expect.objectContaining({ apiId: 'INVALID_TXN_STATE' })],
    });
    await tx.cancel();
    const again = await producer.beginTransaction();
    await expect(again.abort()).rejects.toMatchObject({
      errors: [expect.objectContaining({ apiId: 'INVALID_TXN_STATE' })],
    });
    await again.cancel();
  });

  it('reads a partition from a given offset without a consumer group', async () => {
    const topic = await newTopic('manual');
    const producer = transactionalProducer(`weir-smoke-manual-${unique}`);
    const tx = await producer.beginTransaction();
    await tx.send({ messages: Array.from({ length: 10 }, (_, i) => ({ topic, key: 'm', value: `m${i}` })) });
    await tx.commit();

    const fromFour = await committed(topic, 4n);
    expect(fromFour.map((r) => r.value)).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    expect(fromFour[0].offset).toBe(4n);

    // End offsets without a group: ListOffsets.
    const ends = await reader.listOffsets({
      topics: [topic],
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    // 10 records and the commit marker.
    expect(ends.get(topic)).toEqual([11n]);
  });
});
