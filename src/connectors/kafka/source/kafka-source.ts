/** The Kafka source: partitions as splits, offsets owned by Weir's checkpoints. */
import type {
  Boundedness,
  Source,
  SourceReader,
  SourceReaderContext,
  SplitEnumeratorContext,
} from '../../../api/source.ts';
import { bootstrapList } from '../client/connection-options.ts';
import { type KafkaSourceOptions, validateSourceOptions } from './kafka-source-options.ts';
import { KafkaSourceReader } from './kafka-source-reader.ts';
import type { KafkaPartitionSplit } from './kafka-split.ts';
import { type KafkaEnumeratorState, KafkaSplitEnumerator } from './kafka-split-enumerator.ts';

/**
 * Reads Kafka topics. Each partition is a split; the reader's checkpointed state holds the
 * offset of the next record per partition, so a restored job resumes exactly where its
 * checkpoint was taken. No consumer group is joined.
 *
 * @example
 * ```ts
 * import { KafkaSource, kafkaDeserializers } from 'weir/kafka';
 * const source = new KafkaSource({
 *   bootstrapServers: '127.0.0.1:9092',
 *   topics: ['orders'],
 *   deserializer: kafkaDeserializers.json<{ user: string; amount: number }>(),
 *   startingOffsets: 'earliest',
 * });
 * // env.fromSource(source, watermarkStrategy, 'orders')
 * ```
 */
export class KafkaSource<T> implements Source<T, KafkaPartitionSplit, KafkaEnumeratorState> {
  readonly boundedness: Boundedness;
  readonly #options: KafkaSourceOptions<T>;

  constructor(options: KafkaSourceOptions<T>) {
    bootstrapList(options);
    validateSourceOptions(options);
    this.#options = options;
    this.boundedness = options.bounded ? 'bounded' : 'unbounded';
  }

  createEnumerator(context: SplitEnumeratorContext<KafkaPartitionSplit>): KafkaSplitEnumerator<T> {
    return new KafkaSplitEnumerator(context, this.#options, undefined);
  }

  restoreEnumerator(
    context: SplitEnumeratorContext<KafkaPartitionSplit>,
    state: KafkaEnumeratorState,
  ): KafkaSplitEnumerator<T> {
    return new KafkaSplitEnumerator(context, this.#options, state);
  }

  createReader(context: SourceReaderContext): SourceReader<T, KafkaPartitionSplit> {
    return new KafkaSourceReader(context, this.#options);
  }
}
