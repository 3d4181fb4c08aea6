/** Options of the Kafka source, and their validation at job build time. */
import type { KafkaConnectionOptions } from '../client/connection-options.ts';
import type { KafkaDeserializer } from './deserializers.ts';

/** One partition's explicit start offset. */
export interface KafkaPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number | bigint;
}

/**
 * Where reading starts when a job starts without a checkpoint. A restored job always continues
 * from the offsets in its checkpoint. Partitions discovered while running start at earliest,
 * so records written before their discovery are not skipped (as in Flink).
 */
export type KafkaStartingOffsets =
  | 'earliest'
  | 'latest'
  | { readonly kind: 'timestamp'; readonly timestampMs: number }
  | { readonly kind: 'committed'; readonly fallback?: 'earliest' | 'latest' }
  | {
      readonly kind: 'specific';
      readonly offsets: readonly KafkaPartitionOffset[];
      readonly fallback?: 'earliest' | 'latest';
    };

/** What to do with a record the deserializer rejects. */
export type KafkaDeserializationErrorPolicy = 'fail' | { readonly deadLetterTopic: string };

export interface KafkaSourceOptions<T> extends KafkaConnectionOptions {
  /** Topics to read; give this or `topicPattern`. */
  readonly topics?: readonly string[];
  /** Every topic whose name matches (checked again at each partition discovery). */
  readonly topicPattern?: RegExp;
  readonly deserializer: KafkaDeserializer<T>;
  /** Default `'earliest'`. */
  readonly startingOffsets?: KafkaStartingOffsets;
  /**
   * Stop at the offsets that are latest when the job starts (the last stable offsets under
   * read_committed); the source is then bounded and the job can finish. Default false.
   */
  readonly bounded?: boolean;
  /** How often the enumerator looks for new partitions and topics; 0 disables. Default 30000 ms (unbounded only). */
  readonly partitionDiscoveryIntervalMs?: number;
  /** Read only committed transactional records. Default true. */
  readonly readCommitted?: boolean;
  /** Consumer group for `startingOffsets: { kind: 'committed' }` and `commitOffsetsOnCheckpoint`. */
  readonly groupId?: string;
  /**
   * When a checkpoint completes, store its offsets in `groupId` so lag monitors can follow the
   * job. Weir never reads them back while running: positions come from checkpoints. Default false.
   */
  readonly commitOffsetsOnCheckpoint?: boolean;
  /**
   * Bytes one fetch returns per partition, at most (Kafka's `max.partition.fetch.bytes`); the
   * broker still returns at least one whole record batch. Bounds the reader's buffer, and so
   * how many records a checkpoint barrier may have to wait behind. Default 1 MiB.
   */
  readonly partitionFetchBytesMax?: number;
  /** Default `'fail'`. */
  readonly onDeserializationError?: KafkaDeserializationErrorPolicy;
}

export const PARTITION_DISCOVERY_INTERVAL_MS_DEFAULT = 30_000;

export function validateSourceOptions<T>(options: KafkaSourceOptions<T>): void {
  const hasTopics = options.topics !== undefined && options.topics.length > 0;
  if (hasTopics === (options.topicPattern !== undefined)) {
    throw new Error('Kafka source: give either `topics` (a non-empty list) or `topicPattern`, not both');
  }
  const start = options.startingOffsets;
  const needsGroup =
    options.commitOffsetsOnCheckpoint === true || (typeof start === 'object' && start.kind === 'committed');
  if (needsGroup && (options.groupId === undefined || options.groupId === '')) {
    throw new Error(
      'Kafka source: `groupId` is required for committed starting offsets and commitOffsetsOnCheckpoint',
    );
  }
  const interval = options.partitionDiscoveryIntervalMs;
  if (interval !== undefined && (!Number.isFinite(interval) || interval < 0)) {
    throw new Error(`Kafka source: partitionDiscoveryIntervalMs must be >= 0, got ${interval}`);
  }
  const fetchBytes = options.partitionFetchBytesMax;
  if (fetchBytes !== undefined && (!Number.isInteger(fetchBytes) || fetchBytes < 1)) {
    throw new Error(`Kafka source: partitionFetchBytesMax must be a positive integer, got ${fetchBytes}`);
  }
  const policy = options.onDeserializationError;
  if (typeof policy === 'object' && policy.deadLetterTopic === '') {
    throw new Error('Kafka source: deadLetterTopic must not be empty');
  }
}
