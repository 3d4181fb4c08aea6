/** Options of the Kafka sink, serializers, and the transaction-timeout rule. */
import type { DeliveryGuarantee } from '../../../api/sink.ts';
import { ConfigurationError } from '../../../core/errors.ts';
import type { KafkaConnectionOptions } from '../client/connection-options.ts';

/** Turns a value into the bytes of a record's value (or key). */
export type KafkaSerializer<T> = (value: T) => Buffer | string;

/**
 * Built-in value serializers.
 *
 * @example
 * ```ts
 * import { kafkaSerializers } from 'weir/kafka';
 * const toJson = kafkaSerializers.json<{ user: string }>();
 * ```
 */
export const kafkaSerializers = {
  string: (): KafkaSerializer<string> => (value) => value,
  json:
    <T>(): KafkaSerializer<T> =>
    (value) =>
      JSON.stringify(value),
  bytes: (): KafkaSerializer<Uint8Array> => (value) =>
    Buffer.from(value.buffer, value.byteOffset, value.byteLength),
} as const;

export interface KafkaSinkOptions<T> extends KafkaConnectionOptions {
  /** The topic, or a function choosing it per record (topic selector). */
  readonly topic: string | ((value: T) => string);
  /** Default: JSON. */
  readonly serializer?: KafkaSerializer<T>;
  /** The record key (decides the partition with Kafka's default partitioner); none by default. */
  readonly key?: (value: T) => Buffer | string | undefined;
  /** Default `'at-least-once'`. */
  readonly deliveryGuarantee?: DeliveryGuarantee;
  /** Exactly-once: the prefix of transactional ids; default `weir-<job name>-<operator id>`. */
  readonly transactionalIdPrefix?: string;
  /**
   * Exactly-once: how long the broker keeps a transaction open before aborting it. Must exceed
   * the checkpoint interval plus the checkpoint timeout (a transaction stays open from one
   * barrier until the next checkpoint completes), and at most the broker's
   * `transaction.max.timeout.ms` (15 min by default). Default 900000 ms.
   */
  readonly transactionTimeoutMs?: number;
  /**
   * Exactly-once: the checkpointing this sink runs under, checked against the transaction
   * timeout when the sink is built. Not needed in a job: the sink checks the job's own interval
   * and timeout when it starts.
   */
  readonly checkpointing?: { readonly intervalMs: number; readonly timeoutMs: number };
}

export const TRANSACTION_TIMEOUT_MS_DEFAULT = 900_000;

/**
 * The rule Flink's KafkaSink documents: a transaction that outlives its timeout is aborted by
 * the broker, losing pre-committed data. A transaction is open from the barrier of checkpoint
 * n-1 until checkpoint n completes: up to one interval plus one checkpoint duration.
 */
export function validateTransactionTimeout(
  transactionTimeoutMs: number,
  intervalMs: number,
  timeoutMs: number,
): void {
  if (!(transactionTimeoutMs > intervalMs + timeoutMs)) {
    throw new ConfigurationError(
      `Kafka sink: transactionTimeoutMs (${transactionTimeoutMs} ms) must exceed the checkpoint interval ` +
        `(${intervalMs} ms) plus the checkpoint timeout (${timeoutMs} ms): otherwise the broker may abort a ` +
        'pre-committed transaction before its checkpoint completes, and its records are lost. Raise ' +
        "transactionTimeoutMs (up to the broker's transaction.max.timeout.ms) or lower the checkpoint timeout.",
    );
  }
}
