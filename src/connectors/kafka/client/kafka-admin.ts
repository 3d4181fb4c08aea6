/** The cluster-level questions the Kafka connector asks: partitions, offsets, group offsets, topic ids. */
import { Admin, FetchIsolationLevels } from '@platformatic/kafka';
import { baseOptions, type KafkaConnectionOptions, kafkaError } from './connection-options.ts';

/** One partition of one topic. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Where a partition's leader lives and what its topic is called on the wire (Fetch v13+). */
export interface PartitionLeader {
  readonly topicId: string;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly host: string;
  readonly port: number;
}

/** ListOffsets special timestamps (Kafka protocol). */
const LATEST_TIMESTAMP = -1n;
const EARLIEST_TIMESTAMP = -2n;

export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

/** A thin, typed facade over platformatic's Admin client; every failure names the brokers. */
export class KafkaAdmin {
  readonly #options: KafkaConnectionOptions;
  readonly #admin: Admin;

  constructor(options: KafkaConnectionOptions, role: string) {
    this.#options = options;
    this.#admin = new Admin(baseOptions(options, role));
  }

  get client(): Admin {
    return this.#admin;
  }

  /** Every partition of the given topics that exist; topics that do not exist are skipped. */
  async partitionsOf(topics: readonly string[]): Promise<TopicPartition[]> {
    if (topics.length === 0) return [];
    const existing = new Set(await this.listTopics());
    const wanted = topics.filter((t) => existing.has(t));
    if (wanted.length === 0) return [];
    const metadata = await this.#call('reading topic metadata', () =>
      this.#admin.metadata({ topics: wanted, forceUpdate: true }),
    );
    const result: TopicPartition[] = [];
    for (const topic of wanted) {
      const info = metadata.topics.get(topic);
      for (let p = 0; p < (info?.partitionsCount ?? 0); p++) result.push({ topic, partition: p });
    }
    return result;
  }

  async listTopics(): Promise<string[]> {
    return this.#call('listing topics', () => this.#admin.listTopics({ includeInternals: false }));
  }

  /** Leader and topic id of each partition (forces a metadata refresh when `refresh`). */
  async leaders(
    partitions: readonly TopicPartition[],
    refresh: boolean,
  ): Promise<Map<string, PartitionLeader>> {
    const topics = [...new Set(partitions.map((p) => p.topic))];
    const metadata = await this.#call('reading partition leaders', () =>
      this.#admin.metadata({ topics, forceUpdate: refresh }),
    );
    const result = new Map<string, PartitionLeader>();
    for (const tp of partitions) {
      const topic = metadata.topics.get(tp.topic);
      const info = topic?.partitions[tp.partition];
      const broker = info === undefined ? undefined : metadata.brokers.get(info.leader);
      if (topic === undefined || info === undefined || broker === undefined) continue;
      result.set(partitionKey(tp), {
        topicId: topic.id,
        leaderId: info.leader,
        leaderEpoch: info.leaderEpoch,
        host: broker.host,
        port: broker.port,
      });
    }
    return result;
  }

  earliestOffsets(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    return this.offsetsForTimestamp(partitions, EARLIEST_TIMESTAMP);
  }

  /** With read_committed, the last stable offset: records of open transactions are not counted. */
  latestOffsets(partitions: readonly TopicPartition[], readCommitted: boolean): Promise<Map<string, bigint>> {
    return this.offsetsForTimestamp(partitions, LATEST_TIMESTAMP, readCommitted);
  }

  /**
   * The first offset whose timestamp is at least `timestamp` (ms), or the latest offset when no
   * such record exists (Kafka answers -1 then).
   */
  async offsetsForTimestamp(
    partitions: readonly TopicPartition[],
    timestamp: bigint,
    readCommitted = true,
  ): Promise<Map<string, bigint>> {
    const result = new Map<string, bigint>();
    if (partitions.length === 0) return result;
    const byTopic = new Map<string, number[]>();
    for (const tp of partitions) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
    const listed = await this.#call('listing offsets', () =>
      this.#admin.listOffsets({
        topics: [...byTopic].map(([name, ps]) => ({
          name,
          partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp })),
        })),
        isolationLevel: readCommitted
          ? FetchIsolationLevels.READ_COMMITTED
          : FetchIsolationLevels.READ_UNCOMMITTED,
      }),
    );
    const missing: TopicPartition[] = [];
    for (const topic of listed) {
      for (const p of topic.partitions) {
        const tp = { topic: topic.name, partition: p.partitionIndex };
        if (p.offset < 0n) missing.push(tp);
        else result.set(partitionKey(tp), p.offset);
      }
    }
    if (missing.length > 0 && timestamp >= 0n) {
      for (const [key, offset] of await this.latestOffsets(missing, readCommitted)) result.set(key, offset);
    }
    return result;
  }

  /** Offsets a consumer group committed; partitions without a commit are absent. */
  async committedOffsets(
    groupId: string,
    partitions: readonly TopicPartition[],
  ): Promise<Map<string, bigint>> {
    const byTopic = new Map<string, number[]>();
    for (const tp of partitions) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
    const groups = await this.#call(`reading the offsets of consumer group ${groupId}`, () =>
      this.#admin.listConsumerGroupOffsets({
        groups: [
          { groupId, topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) },
        ],
      }),
    );
    const result = new Map<string, bigint>();
    for (const group of groups) {
      for (const topic of group.topics) {
        for (const p of topic.partitions) {
          if (p.committedOffset >= 0n)
            result.set(partitionKey({ topic: topic.name, partition: p.partitionIndex }), p.committedOffset);
        }
      }
    }
    return result;
  }

  /** Stores offsets for a group that has no active members (monitoring only: Weir never reads them back while running). */
  async commitGroupOffsets(groupId: string, offsets: ReadonlyMap<TopicPartition, bigint>): Promise<void> {
    const byTopic = new Map<string, { partition: number; offset: bigint }[]>();
    for (const [tp, offset] of offsets)
      byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), { partition: tp.partition, offset }]);
    if (byTopic.size === 0) return;
    await this.#call(`committing offsets for consumer group ${groupId}`, () =>
      this.#admin.alterConsumerGroupOffsets({
        groupId,
        topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })),
      }),
    );
  }

  async close(): Promise<void> {
    await this.#admin.close();
  }

  async #call<R>(doing: string, action: () => Promise<R>): Promise<R> {
    try {
      return await action();
    } catch (error) {
      throw kafkaError(this.#options, doing, error);
    }
  }
}
