/** Turning Kafka records into stream values: built-in deserializers and the record view custom ones get. */

/** A record as the source read it, before deserialization. */
export interface KafkaRecordView {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly (readonly [Buffer | null, Buffer | null])[];
}

/**
 * Maps one record to one value. Throwing rejects the record: the source then fails naming
 * topic, partition and offset, or routes the raw record to a dead-letter topic.
 */
export type KafkaDeserializer<T> = (record: KafkaRecordView) => T;

function recordValue(record: KafkaRecordView): Buffer {
  if (record.value === null) throw new Error('the record has no value (a tombstone)');
  return record.value;
}

/**
 * Built-in deserializers of the record's value.
 *
 * @example
 * ```ts
 * import { kafkaDeserializers } from 'weir/kafka';
 * const parse = kafkaDeserializers.json<{ user: string; amount: number }>();
 * ```
 */
export const kafkaDeserializers = {
  /** The value as UTF-8 text. */
  string: (): KafkaDeserializer<string> => (record) => recordValue(record).toString('utf8'),
  /** The value parsed as JSON; invalid JSON rejects the record. */
  json:
    <T = unknown>(): KafkaDeserializer<T> =>
    (record) =>
      JSON.parse(recordValue(record).toString('utf8')) as T,
  /** The value's bytes, copied out of the fetch buffer. */
  bytes: (): KafkaDeserializer<Uint8Array> => (record) => new Uint8Array(recordValue(record)),
} as const;
