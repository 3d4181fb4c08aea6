/** The Kafka source's reader: the partition reader behind the source contract, plus dead letters and offset commits. */
import { Producer } from '@platformatic/kafka';
import type {
  InputStatus,
  ReaderOutput,
  SourceOutput,
  SourceReader,
  SourceReaderContext,
} from '../../../api/source.ts';
import { baseOptions, idempotentRetries } from '../client/connection-options.ts';
import { KafkaAdmin, type TopicPartition } from '../client/kafka-admin.ts';
import { PartitionFetcher } from '../client/partition-fetcher.ts';
import type { KafkaRecordView } from './deserializers.ts';
import type { KafkaSourceOptions } from './kafka-source-options.ts';
import type { KafkaPartitionSplit } from './kafka-split.ts';
import { type DeadLetterSender, PartitionReader, type PartitionRecordOutput } from './partition-reader.ts';

/** Offsets kept for checkpoints not yet complete, at most (older ones are dropped: monitoring only). */
const PENDING_OFFSET_COMMITS_MAX = 16;

export class KafkaSourceReader<T> implements SourceReader<T, KafkaPartitionSplit> {
  readonly #options: KafkaSourceOptions<T>;
  readonly #admin: KafkaAdmin;
  readonly #reader: PartitionReader<T>;
  readonly #outputs = new Map<string, SourceOutput<T>>();
  readonly #offsetsByCheckpoint = new Map<number, Map<TopicPartition, bigint>>();
  #deadLetterProducer: Producer | undefined;
  #output: ReaderOutput<T> | undefined;
  readonly #recordOutput: PartitionRecordOutput<T>;

  constructor(context: SourceReaderContext, options: KafkaSourceOptions<T>) {
    this.#options = options;
    this.#admin = new KafkaAdmin(options, `source-${context.subtaskIndex}`);
    const fetcher = new PartitionFetcher(
      this.#admin,
      options.readCommitted ?? true,
      options.partitionFetchBytesMax,
    );
    this.#reader = new PartitionReader(fetcher, options.deserializer, this.#deadLetterSender(context));
    this.#recordOutput = {
      emit: (splitId, value, timestampMs) => this.#splitOutput(splitId).collect(value, timestampMs),
      finished: (splitId) => {
        this.#outputs.delete(splitId);
        this.#output?.releaseOutputForSplit(splitId);
      },
    };
  }

  start(): void {}

  pollNext(output: ReaderOutput<T>, maxRecords: number): InputStatus {
    this.#output = output;
    return this.#reader.pollNext(this.#recordOutput, maxRecords);
  }

  isAvailable(): Promise<void> {
    return this.#reader.isAvailable();
  }

  addSplits(splits: readonly KafkaPartitionSplit[]): void {
    this.#reader.addSplits(splits);
  }

  notifyNoMoreSplits(): void {
    this.#reader.notifyNoMoreSplits();
  }

  snapshotSplits(checkpointId: number): KafkaPartitionSplit[] {
    if (this.#options.commitOffsetsOnCheckpoint) {
      this.#offsetsByCheckpoint.set(checkpointId, this.#reader.positions());
      for (const id of this.#offsetsByCheckpoint.keys()) {
        if (this.#offsetsByCheckpoint.size <= PENDING_OFFSET_COMMITS_MAX) break;
        this.#offsetsByCheckpoint.delete(id);
      }
    }
    return this.#reader.snapshotSplits();
  }

  /** Monitoring only: a failed commit is ignored, the next checkpoint commits newer offsets. */
  notifyCheckpointComplete(checkpointId: number): void {
    const offsets = this.#offsetsByCheckpoint.get(checkpointId);
    for (const id of [...this.#offsetsByCheckpoint.keys()])
      if (id <= checkpointId) this.#offsetsByCheckpoint.delete(id);
    if (offsets === undefined || this.#options.groupId === undefined) return;
    this.#admin.commitGroupOffsets(this.#options.groupId, offsets).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#reader.close();
    await this.#deadLetterProducer?.close(true);
    await this.#admin.close();
  }

  #splitOutput(splitId: string): SourceOutput<T> {
    let output = this.#outputs.get(splitId);
    if (output === undefined) {
      output = (this.#output as ReaderOutput<T>).createOutputForSplit(splitId);
      this.#outputs.set(splitId, output);
    }
    return output;
  }

  #deadLetterSender(context: SourceReaderContext): DeadLetterSender | undefined {
    const policy = this.#options.onDeserializationError;
    if (policy === undefined || policy === 'fail') return undefined;
    return async (record: KafkaRecordView, error: unknown) => {
      // Idempotent for the same reason as the at-least-once sink's producer (a resent request
      // would otherwise repeat dead letters of other partitions).
      const base = baseOptions(this.#options, `source-${context.subtaskIndex}-dlq`);
      this.#deadLetterProducer ??= new Producer({ ...base, ...idempotentRetries(base), idempotent: true });
      const headers = new Map<Buffer, Buffer>([
        [Buffer.from('weir.error'), Buffer.from(error instanceof Error ? error.message : String(error))],
        [Buffer.from('weir.source.topic'), Buffer.from(record.topic)],
        [Buffer.from('weir.source.partition'), Buffer.from(String(record.partition))],
        [Buffer.from('weir.source.offset'), Buffer.from(String(record.offset))],
      ]);
      await this.#deadLetterProducer.send({
        acks: -1,
        messages: [
          {
            topic: policy.deadLetterTopic,
            value: record.value ?? Buffer.alloc(0),
            ...(record.key === null ? {} : { key: record.key }),
            headers,
            timestamp: BigInt(record.timestampMs),
          },
        ],
      });
    };
  }
}
