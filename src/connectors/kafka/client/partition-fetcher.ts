/**
 * Reads partitions from given offsets with raw Fetch requests, without a consumer group:
 * Weir's checkpoint, not Kafka, owns the positions.
 */
import {
  type Connection,
  FetchIsolationLevels,
  fetchV13,
  fetchV14,
  fetchV15,
  fetchV16,
  fetchV17,
  IS_CONTROL,
  IS_TRANSACTIONAL,
  type RecordsBatch,
} from '@platformatic/kafka';
import type { KafkaAdmin, PartitionLeader, TopicPartition } from './kafka-admin.ts';
import { partitionKey } from './kafka-admin.ts';

/** One record as read from the log; bytes are decoded later by the source's deserializer. */
export interface FetchedRecord {
  readonly offset: bigint;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly (readonly [Buffer | null, Buffer | null])[];
}

/** What one fetch returned for one partition. */
export interface PartitionFetch {
  readonly partition: TopicPartition;
  readonly records: FetchedRecord[];
  /** The offset to fetch next: past every batch seen, including control and aborted ones. */
  readonly nextOffset: bigint;
}

export interface FetchPosition {
  readonly partition: TopicPartition;
  readonly offset: bigint;
}

/** Bounds of one Fetch request (one per leader). */
const FETCH_BYTES_MAX = 8 * 1024 * 1024;
export const PARTITION_FETCH_BYTES_MAX_DEFAULT = 1024 * 1024;
const FETCH_WAIT_MS_MAX = 250;

/** Kafka error codes a fetch handles by refreshing metadata and trying again later. */
const STALE_LEADER_ERRORS = new Set([3, 5, 6, 74, 75, 100, 103]);
const OFFSET_OUT_OF_RANGE = 1;
/** The LogAppendTime bit of a batch's attributes: the broker's time replaces the producer's. */
const LOG_APPEND_TIME = 1 << 3;
const CONTROL_TYPE_ABORT = 0;

type FetchApi = typeof fetchV17.api;
type FetchResponse = fetchV17.FetchResponse;
const FETCH_APIS = new Map<number, FetchApi>([
  [13, fetchV13.api],
  [14, fetchV14.api],
  [15, fetchV15.api],
  [16, fetchV16.api],
  [17, fetchV17.api],
]);

export class PartitionFetcher {
  readonly #admin: KafkaAdmin;
  readonly #readCommitted: boolean;
  readonly #partitionFetchBytesMax: number;
  #api: FetchApi | undefined;
  #leaders = new Map<string, PartitionLeader>();
  #refreshLeaders = true;

  constructor(
    admin: KafkaAdmin,
    readCommitted: boolean,
    partitionFetchBytesMax = PARTITION_FETCH_BYTES_MAX_DEFAULT,
  ) {
    this.#admin = admin;
    this.#readCommitted = readCommitted;
    this.#partitionFetchBytesMax = partitionFetchBytesMax;
  }

  /** Fetches every position from its leader (one request per broker, concurrently). */
  async fetch(positions: readonly FetchPosition[]): Promise<PartitionFetch[]> {
    if (positions.length === 0) return [];
    const api = await this.#fetchApi();
    const missing = positions.some((p) => !this.#leaders.has(partitionKey(p.partition)));
    if (this.#refreshLeaders || missing) {
      this.#leaders = await this.#admin.leaders(
        positions.map((p) => p.partition),
        true,
      );
      this.#refreshLeaders = false;
    }
    const byBroker = new Map<string, { leader: PartitionLeader; positions: FetchPosition[] }>();
    for (const position of positions) {
      const leader = this.#leaders.get(partitionKey(position.partition));
      if (leader === undefined) {
        this.#refreshLeaders = true;
        continue;
      }
      const brokerKey = `${leader.host}:${leader.port}`;
      const group = byBroker.get(brokerKey) ?? { leader, positions: [] };
      group.positions.push(position);
      byBroker.set(brokerKey, group);
    }
    const results = await Promise.all(
      [...byBroker.values()].map((group) => this.#fetchFromBroker(api, group.leader, group.positions)),
    );
    return results.flat();
  }

  async #fetchFromBroker(
    api: FetchApi,
    broker: PartitionLeader,
    positions: FetchPosition[],
  ): Promise<PartitionFetch[]> {
    const connection: Connection = await this.#admin.client.connections.get({
      host: broker.host,
      port: broker.port,
    });
    const byTopicId = new Map<string, FetchPosition[]>();
    for (const position of positions) {
      const topicId = this.#leaders.get(partitionKey(position.partition))?.topicId ?? '';
      byTopicId.set(topicId, [...(byTopicId.get(topicId) ?? []), position]);
    }
    const request = [...byTopicId].map(([topicId, ps]) => ({
      topicId,
      partitions: ps.map((p) => ({
        partition: p.partition.partition,
        currentLeaderEpoch: -1,
        fetchOffset: p.offset,
        lastFetchedEpoch: -1,
        partitionMaxBytes: this.#partitionFetchBytesMax,
      })),
    }));
    const isolation = this.#readCommitted
      ? FetchIsolationLevels.READ_COMMITTED
      : FetchIsolationLevels.READ_UNCOMMITTED;
    let response: FetchResponse;
    try {
      // Session id 0 and epoch -1: a full, sessionless fetch (KIP-227), so no state on the broker.
      response = await api.async(
        connection,
        FETCH_WAIT_MS_MAX,
        1,
        FETCH_BYTES_MAX,
        isolation,
        0,
        -1,
        request,
        [],
        '',
      );
    } catch (error) {
      const partial = (error as { response?: FetchResponse }).response;
      if (partial === undefined) throw error;
      response = partial;
    }
    return this.#decode(response, byTopicId);
  }

  #decode(response: FetchResponse, byTopicId: Map<string, FetchPosition[]>): PartitionFetch[] {
    const result: PartitionFetch[] = [];
    for (const topic of response.responses) {
      const requested = byTopicId.get(topic.topicId) ?? [];
      for (const p of topic.partitions) {
        const position = requested.find((r) => r.partition.partition === p.partitionIndex);
        if (position === undefined) continue;
        if (p.errorCode === OFFSET_OUT_OF_RANGE) {
          throw new Error(
            `Kafka: offset ${position.offset} of ${partitionKey(position.partition)} is out of range ` +
              `(log start ${p.logStartOffset}, end ${p.highWatermark}); the records were deleted by retention ` +
              'or the topic was recreated',
          );
        }
        if (p.errorCode !== 0) {
          if (!STALE_LEADER_ERRORS.has(p.errorCode)) {
            throw new Error(
              `Kafka: fetching ${partitionKey(position.partition)} failed with error code ${p.errorCode}`,
            );
          }
          this.#refreshLeaders = true;
          continue;
        }
        result.push(decodePartition(position, p.records ?? [], p.abortedTransactions ?? []));
      }
    }
    return result;
  }

  async #fetchApi(): Promise<FetchApi> {
    if (this.#api !== undefined) return this.#api;
    const apis = await this.#admin.client.listApis();
    const fetch = apis.find((a) => a.name === 'Fetch');
    for (let v = Math.min(17, fetch?.maxVersion ?? -1); v >= (fetch?.minVersion ?? 0); v--) {
      const api = FETCH_APIS.get(v);
      if (api !== undefined) {
        this.#api = api;
        return api;
      }
    }
    throw new Error('Kafka: the broker does not support Fetch v13 or newer (Kafka 3.1+ is required)');
  }
}

/**
 * Turns the batches of one partition into records, dropping control batches and the batches
 * of aborted transactions. Kafka returns aborted data to read_committed fetchers together with
 * the list of aborted transactions, and leaves the filtering to the client; this is the Java
 * consumer's algorithm, correct also when one producer id aborted several transactions.
 */
export function decodePartition(
  position: FetchPosition,
  batches: readonly RecordsBatch[],
  abortedTransactions: readonly { producerId: bigint; firstOffset: bigint }[],
): PartitionFetch {
  const pendingAborts = [...abortedTransactions].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  const records: FetchedRecord[] = [];
  let nextOffset = position.offset;
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    if (lastOffset + 1n > nextOffset) nextOffset = lastOffset + 1n;
    const control = (batch.attributes & IS_CONTROL) !== 0;
    if ((batch.attributes & IS_TRANSACTIONAL) !== 0) {
      while (pendingAborts.length > 0 && (pendingAborts[0]?.firstOffset ?? 0n) <= lastOffset) {
        abortedProducers.add(pendingAborts.shift()?.producerId ?? -1n);
      }
      if (control) {
        const type = batch.records[0]?.key?.readInt16BE(2);
        if (type === CONTROL_TYPE_ABORT) abortedProducers.delete(batch.producerId);
        continue;
      }
      if (abortedProducers.has(batch.producerId)) continue;
    } else if (control) {
      continue;
    }
    const logAppendTime = (batch.attributes & LOG_APPEND_TIME) !== 0;
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta);
      // A fetch returns whole batches: skip records before the requested offset.
      if (offset < position.offset) continue;
      const timestamp = logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta;
      records.push({
        offset,
        timestampMs: Number(timestamp),
        key: record.key,
        value: record.value,
        headers: record.headers,
      });
    }
  }
  return { partition: position.partition, records, nextOffset };
}
