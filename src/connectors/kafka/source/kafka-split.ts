/** A Kafka partition as a source split: the unit a reader owns and whose position a checkpoint records. */
import type { TopicPartition } from '../client/kafka-admin.ts';

/**
 * One partition and the offset of the next record to read. Offsets are decimal strings so
 * the split is plain JSON in checkpoints (bigint has no JSON form).
 */
export interface KafkaPartitionSplit {
  readonly splitId: string;
  readonly topic: string;
  readonly partition: number;
  /** Offset of the next record to emit. */
  readonly offset: string;
  /** Bounded mode: the reader finishes the split on reaching this offset (exclusive). */
  readonly stoppingOffset?: string;
}

export function splitIdOf(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

export function kafkaSplit(tp: TopicPartition, offset: bigint, stoppingOffset?: bigint): KafkaPartitionSplit {
  if (offset < 0n) throw new Error(`Kafka source: negative start offset ${offset} for ${splitIdOf(tp)}`);
  return {
    splitId: splitIdOf(tp),
    topic: tp.topic,
    partition: tp.partition,
    offset: offset.toString(),
    ...(stoppingOffset === undefined ? {} : { stoppingOffset: stoppingOffset.toString() }),
  };
}

/**
 * Which reader owns a partition: consecutive partitions of a topic go to consecutive readers,
 * starting at a reader chosen by the topic's name, so several topics spread evenly (the same
 * idea as Flink's KafkaSourceEnumerator.getSplitOwner). Deterministic, so a restarted job
 * assigns newly discovered partitions the same way.
 */
export function splitOwner(tp: TopicPartition, parallelism: number): number {
  let hash = 0;
  for (let i = 0; i < tp.topic.length; i++) hash = (Math.imul(hash, 31) + tp.topic.charCodeAt(i)) | 0;
  const start = (hash & 0x7fffffff) % parallelism;
  return (start + tp.partition) % parallelism;
}
