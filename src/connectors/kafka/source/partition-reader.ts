/**
 * The fetching half of a Kafka source reader: owns its partitions' positions, keeps at most one
 * fetch in flight or buffered, and emits records synchronously from that buffer.
 */
import type { TopicPartition } from '../client/kafka-admin.ts';
import type { FetchedRecord, PartitionFetch, PartitionFetcher } from '../client/partition-fetcher.ts';
import type { KafkaDeserializer, KafkaRecordView } from './deserializers.ts';
import { type KafkaPartitionSplit, kafkaSplit } from './kafka-split.ts';

/** Where decoded records go; the split id lets the source keep one watermark per partition. */
export interface PartitionRecordOutput<T> {
  emit(splitId: string, value: T, timestampMs: number): void;
  /** The split reached its stopping offset and left the reader. */
  finished(splitId: string): void;
}

/** Sends a rejected record to the dead-letter topic; resolves once the broker acknowledged it. */
export type DeadLetterSender = (record: KafkaRecordView, error: unknown) => Promise<void>;

export type ReaderStatus = 'more-available' | 'nothing-available' | 'end-of-input';

interface PartitionState {
  readonly splitId: string;
  readonly partition: TopicPartition;
  /** Offset of the next record to emit: what a checkpoint records. */
  next: bigint;
  readonly stop: bigint | undefined;
}

/** A fetched partition being drained: `index` is the next record to look at. */
interface BufferedPartition {
  readonly fetch: PartitionFetch;
  index: number;
}

export class PartitionReader<T> {
  readonly #fetcher: PartitionFetcher;
  readonly #deserializer: KafkaDeserializer<T>;
  readonly #deadLetter: DeadLetterSender | undefined;
  readonly #partitions = new Map<string, PartitionState>();
  #buffer: BufferedPartition[] = [];
  #fetching: Promise<void> | undefined;
  #deadLetterInFlight: Promise<void> | undefined;
  #failure: Error | undefined;
  #noMoreSplits = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #available: Promise<void> | undefined;

  constructor(
    fetcher: PartitionFetcher,
    deserializer: KafkaDeserializer<T>,
    deadLetter: DeadLetterSender | undefined,
  ) {
    this.#fetcher = fetcher;
    this.#deserializer = deserializer;
    this.#deadLetter = deadLetter;
  }

  addSplits(splits: readonly KafkaPartitionSplit[]): void {
    for (const split of splits) {
      const stop = split.stoppingOffset === undefined ? undefined : BigInt(split.stoppingOffset);
      const next = BigInt(split.offset);
      if (stop !== undefined && next >= stop) continue; // already complete (bounded mode)
      if (this.#partitions.has(split.splitId))
        throw new Error(`Kafka source: split ${split.splitId} assigned twice`);
      this.#partitions.set(split.splitId, {
        splitId: split.splitId,
        partition: { topic: split.topic, partition: split.partition },
        next,
        stop,
      });
    }
    this.#signal();
  }

  notifyNoMoreSplits(): void {
    this.#noMoreSplits = true;
    this.#signal();
  }

  /** Positions of the unfinished partitions, as splits (the reader's checkpointed state). */
  snapshotSplits(): KafkaPartitionSplit[] {
    return [...this.#partitions.values()].map((p) => kafkaSplit(p.partition, p.next, p.stop));
  }

  /** The offset to commit to Kafka per partition: the next record to read. */
  positions(): Map<TopicPartition, bigint> {
    return new Map([...this.#partitions.values()].map((p) => [p.partition, p.next]));
  }

  pollNext(output: PartitionRecordOutput<T>, maxRecords: number): ReaderStatus {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#deadLetterInFlight !== undefined) return 'nothing-available';
    const emitted = this.#drain(output, maxRecords);
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#buffer.length > 0 && this.#deadLetterInFlight === undefined) return 'more-available';
    if (this.#partitions.size === 0 && this.#noMoreSplits && this.#fetching === undefined)
      return 'end-of-input';
    this.#startFetch();
    return emitted > 0 && this.#deadLetterInFlight === undefined ? 'more-available' : 'nothing-available';
  }

  isAvailable(): Promise<void> {
    if (this.#failure !== undefined || (this.#buffer.length > 0 && this.#deadLetterInFlight === undefined)) {
      return Promise.resolve();
    }
    this.#available ??= new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    return this.#available;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#signal();
    await Promise.allSettled([this.#fetching, this.#deadLetterInFlight]);
  }

  #drain(output: PartitionRecordOutput<T>, maxRecords: number): number {
    let emitted = 0;
    while (this.#buffer.length > 0 && emitted < maxRecords && this.#deadLetterInFlight === undefined) {
      const buffered = this.#buffer[0] as BufferedPartition;
      const state = this.#partitions.get(
        buffered.fetch.partition.topic + '-' + buffered.fetch.partition.partition,
      );
      const records = buffered.fetch.records;
      while (state !== undefined && buffered.index < records.length && emitted < maxRecords) {
        const record = records[buffered.index++] as FetchedRecord;
        if (record.offset < state.next) continue;
        if (state.stop !== undefined && record.offset >= state.stop) {
          buffered.index = records.length;
          break;
        }
        if (!this.#emit(output, state, record)) return emitted;
        emitted++;
      }
      if (state === undefined || buffered.index >= records.length) {
        this.#buffer.shift();
        if (state !== undefined && this.#finishFetch(state, buffered.fetch.nextOffset))
          output.finished(state.splitId);
      }
    }
    return emitted;
  }

  /** Emits one record; false when it was rejected and went to the dead-letter topic (pause). */
  #emit(output: PartitionRecordOutput<T>, state: PartitionState, record: FetchedRecord): boolean {
    const view: KafkaRecordView = {
      topic: state.partition.topic,
      partition: state.partition.partition,
      offset: record.offset,
      timestampMs: record.timestampMs,
      key: record.key,
      value: record.value,
      headers: record.headers,
    };
    let value: T;
    try {
      value = this.#deserializer(view);
    } catch (error) {
      this.#reject(state, view, error);
      return false;
    }
    output.emit(state.splitId, value, record.timestampMs);
    state.next = record.offset + 1n;
    return true;
  }

  #reject(state: PartitionState, view: KafkaRecordView, error: unknown): void {
    const where = `${view.topic}-${view.partition} at offset ${view.offset}`;
    if (this.#deadLetter === undefined) {
      const detail = error instanceof Error ? error.message : String(error);
      this.#failure = new Error(`Kafka source: the deserializer rejected the record of ${where}: ${detail}`, {
        cause: error,
      });
      return;
    }
    // The position moves past the record only once the dead-letter topic has it: a checkpoint
    // taken meanwhile replays the record, so it is routed at least once, never lost.
    this.#deadLetterInFlight = this.#deadLetter(view, error).then(
      () => {
        if (state.next <= view.offset) state.next = view.offset + 1n;
        this.#deadLetterInFlight = undefined;
        this.#signal();
      },
      (cause: unknown) => {
        this.#failure = new Error(
          `Kafka source: routing the rejected record of ${where} to the dead-letter topic failed`,
          {
            cause,
          },
        );
        this.#deadLetterInFlight = undefined;
        this.#signal();
      },
    );
  }

  /** After a partition's fetched records are emitted: skip control markers and aborted data too. */
  #finishFetch(state: PartitionState, nextOffset: bigint): void {
    if (nextOffset > state.next)
      state.next = state.stop !== undefined && nextOffset > state.stop ? state.stop : nextOffset;
    if (state.stop !== undefined && state.next >= state.stop) this.#partitions.delete(state.splitId);
  }

  #startFetch(): void {
    if (this.#fetching !== undefined || this.#closed || this.#buffer.length > 0) return;
    const positions = [...this.#partitions.values()].map((p) => ({ partition: p.partition, offset: p.next }));
    if (positions.length === 0) return;
    this.#fetching = this.#fetcher.fetch(positions).then(
      (fetches) => {
        this.#fetching = undefined;
        this.#buffer = fetches
          .filter((f) => this.#partitions.has(`${f.partition.topic}-${f.partition.partition}`))
          .map((fetch) => ({ fetch, index: 0 }));
        this.#signal();
      },
      (error: unknown) => {
        this.#fetching = undefined;
        if (!this.#closed) this.#failure = error instanceof Error ? error : new Error(String(error));
        this.#signal();
      },
    );
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    this.#available = undefined;
    wake?.();
  }
}
