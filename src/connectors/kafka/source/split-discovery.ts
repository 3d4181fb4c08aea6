/** Finds the partitions to read and turns new ones into splits with concrete start (and stop) offsets. */
import type { KafkaAdmin, TopicPartition } from '../client/kafka-admin.ts';
import { partitionKey } from '../client/kafka-admin.ts';
import type { KafkaSourceOptions, KafkaStartingOffsets } from './kafka-source-options.ts';
import { type KafkaPartitionSplit, kafkaSplit, splitIdOf } from './kafka-split.ts';

export class SplitDiscovery<T> {
  readonly #admin: KafkaAdmin;
  readonly #options: KafkaSourceOptions<T>;
  /** Ids of every split ever handed out (restored from the enumerator's checkpointed state). */
  readonly #known: Set<string>;

  constructor(admin: KafkaAdmin, options: KafkaSourceOptions<T>, known: Iterable<string>) {
    this.#admin = admin;
    this.#options = options;
    this.#known = new Set(known);
  }

  get knownSplitIds(): string[] {
    return [...this.#known];
  }

  /**
   * The splits of partitions not seen before. `initial` is the first discovery of a fresh job:
   * those partitions start at the configured starting offsets, later ones at earliest.
   */
  async discover(initial: boolean): Promise<KafkaPartitionSplit[]> {
    const partitions = (await this.#admin.partitionsOf(await this.#topics())).filter(
      (tp) => !this.#known.has(splitIdOf(tp)),
    );
    if (partitions.length === 0) return [];
    const start = initial ? (this.#options.startingOffsets ?? 'earliest') : 'earliest';
    const starts = await this.#startOffsets(partitions, start);
    const stops = this.#options.bounded
      ? await this.#admin.latestOffsets(partitions, this.#options.readCommitted ?? true)
      : undefined;
    const splits: KafkaPartitionSplit[] = [];
    for (const tp of partitions) {
      const key = partitionKey(tp);
      const offset = starts.get(key);
      if (offset === undefined) throw new Error(`Kafka source: no start offset for ${key}`);
      const stop = stops?.get(key);
      splits.push(kafkaSplit(tp, stop !== undefined && offset > stop ? stop : offset, stop));
      this.#known.add(splitIdOf(tp));
    }
    return splits;
  }

  async #topics(): Promise<string[]> {
    const { topics, topicPattern } = this.#options;
    if (topics !== undefined && topics.length > 0) return [...topics];
    const pattern = topicPattern as RegExp;
    return (await this.#admin.listTopics()).filter((t) => !t.startsWith('__') && pattern.test(t)).sort();
  }

  async #startOffsets(
    partitions: TopicPartition[],
    start: KafkaStartingOffsets,
  ): Promise<Map<string, bigint>> {
    const readCommitted = this.#options.readCommitted ?? true;
    if (start === 'earliest') return this.#admin.earliestOffsets(partitions);
    if (start === 'latest') return this.#admin.latestOffsets(partitions, readCommitted);
    if (start.kind === 'timestamp')
      return this.#admin.offsetsForTimestamp(partitions, BigInt(start.timestampMs), readCommitted);
    const chosen =
      start.kind === 'committed'
        ? await this.#admin.committedOffsets(this.#options.groupId ?? '', partitions)
        : new Map(start.offsets.map((o) => [partitionKey(o), BigInt(o.offset)]));
    const missing = partitions.filter((tp) => !chosen.has(partitionKey(tp)));
    if (missing.length > 0) {
      const fallback = start.fallback ?? 'earliest';
      const filled =
        fallback === 'earliest'
          ? await this.#admin.earliestOffsets(missing)
          : await this.#admin.latestOffsets(missing, readCommitted);
      for (const [key, offset] of filled) chosen.set(key, offset);
    }
    return chosen;
  }
}
