/** Public API of the Kafka connector (`weir/kafka`): a replayable source and an exactly-once sink. */
export type { KafkaConnectionOptions } from './client/connection-options.ts';
export type { TransactionHandle } from './client/transaction-control.ts';
export { KafkaSink } from './sink/kafka-sink.ts';
export {
  type KafkaSerializer,
  type KafkaSinkOptions,
  kafkaSerializers,
  validateTransactionTimeout,
} from './sink/kafka-sink-options.ts';
export { type KafkaDeserializer, type KafkaRecordView, kafkaDeserializers } from './source/deserializers.ts';
export { KafkaSource } from './source/kafka-source.ts';
export type {
  KafkaDeserializationErrorPolicy,
  KafkaPartitionOffset,
  KafkaSourceOptions,
  KafkaStartingOffsets,
} from './source/kafka-source-options.ts';
export type { KafkaPartitionSplit } from './source/kafka-split.ts';
export type { KafkaEnumeratorState } from './source/kafka-split-enumerator.ts';
