/** The Kafka sink: none, at-least-once (flush at the barrier) or exactly-once (two-phase commit by Kafka transactions). */
import type {
  Committer,
  CommittingSinkWriter,
  DeliveryGuarantee,
  SinkWriterContext,
  TwoPhaseCommittingSink,
} from '../../../api/sink.ts';
import { transactionalIdPrefix } from '../../../api/sink.ts';
import { bootstrapList } from '../client/connection-options.ts';
import { KafkaAdmin } from '../client/kafka-admin.ts';
import { TransactionControl, type TransactionHandle } from '../client/transaction-control.ts';
import { KafkaCommitter } from './kafka-committer.ts';
import {
  type KafkaSinkOptions,
  TRANSACTION_TIMEOUT_MS_DEFAULT,
  validateTransactionTimeout,
} from './kafka-sink-options.ts';
import { KafkaSinkWriter } from './kafka-sink-writer.ts';

/**
 * Writes a stream to Kafka.
 *
 * @example
 * ```ts
 * import { KafkaSink, kafkaSerializers } from 'weir/kafka';
 * const sink = new KafkaSink<{ user: string; total: number }>({
 *   bootstrapServers: '127.0.0.1:9092',
 *   topic: 'totals',
 *   key: (t) => t.user,
 *   serializer: kafkaSerializers.json(),
 *   deliveryGuarantee: 'exactly-once',
 * });
 * // stream.sinkTo(sink)
 * ```
 */
export class KafkaSink<T> implements TwoPhaseCommittingSink<T, TransactionHandle> {
  readonly deliveryGuarantee: DeliveryGuarantee;
  readonly #options: KafkaSinkOptions<T>;

  constructor(options: KafkaSinkOptions<T>) {
    bootstrapList(options);
    if (typeof options.topic === 'string' && options.topic === '')
      throw new Error('Kafka sink: topic is empty');
    this.#options = options;
    this.deliveryGuarantee = options.deliveryGuarantee ?? 'at-least-once';
    const timeoutMs = options.transactionTimeoutMs ?? TRANSACTION_TIMEOUT_MS_DEFAULT;
    if (this.deliveryGuarantee === 'exactly-once' && options.checkpointing !== undefined) {
      validateTransactionTimeout(
        timeoutMs,
        options.checkpointing.intervalMs,
        options.checkpointing.timeoutMs,
      );
    }
  }

  createWriter(context: SinkWriterContext): CommittingSinkWriter<T, TransactionHandle> {
    this.#validateAgainstJob(context);
    const control =
      this.deliveryGuarantee === 'exactly-once'
        ? new TransactionControl(new KafkaAdmin(this.#options, `sink-${context.subtaskIndex}-control`))
        : undefined;
    return new KafkaSinkWriter(this.#options, context, this.deliveryGuarantee, control);
  }

  createCommitter(context: SinkWriterContext): Committer<TransactionHandle> {
    // The committer is created first (it commits and aborts before the writer exists).
    this.#validateAgainstJob(context);
    const admin = new KafkaAdmin(this.#options, `sink-${context.subtaskIndex}-committer`);
    return new KafkaCommitter(
      new TransactionControl(admin),
      transactionalIdPrefix(context, this.#options.transactionalIdPrefix),
      this.#options.transactionTimeoutMs ?? TRANSACTION_TIMEOUT_MS_DEFAULT,
    );
  }

  /**
   * Checks the transaction timeout against the job's checkpointing at job start (the sink
   * operator puts the interval and timeout in the context when periodic checkpoints are on).
   */
  #validateAgainstJob(context: SinkWriterContext): void {
    const { checkpointIntervalMs, checkpointTimeoutMs } = context;
    if (this.deliveryGuarantee !== 'exactly-once' || checkpointIntervalMs === undefined) return;
    validateTransactionTimeout(
      this.#options.transactionTimeoutMs ?? TRANSACTION_TIMEOUT_MS_DEFAULT,
      checkpointIntervalMs,
      checkpointTimeoutMs ?? 0,
    );
  }
}
