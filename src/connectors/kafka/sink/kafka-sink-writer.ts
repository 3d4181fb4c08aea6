/**
 * The Kafka sink's writer: buffers serialized records, sends them between batches, and at each
 * barrier either makes them durable (at-least-once) or pre-commits the open transaction
 * (exactly-once: flush, keep the transaction open, hand out its id, producer id and epoch).
 */
import { type MessageToProduce, ProduceAcks, Producer } from '@platformatic/kafka';
import type { CommittingSinkWriter, DeliveryGuarantee, SinkWriterContext } from '../../../api/sink.ts';
import { firstTransactionNumber, transactionalIdPrefix, transactionName } from '../../../api/sink.ts';
import { baseOptions, idempotentRetries, kafkaError } from '../client/connection-options.ts';
import type { TransactionControl, TransactionHandle } from '../client/transaction-control.ts';
import { type KafkaSinkOptions, TRANSACTION_TIMEOUT_MS_DEFAULT } from './kafka-sink-options.ts';

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;
type Transaction = NonNullable<Producer<Buffer, Buffer, Buffer, Buffer>['transaction']>;

/**
 * Skipped transaction numbers the writer initializes before opening a new transaction, at most:
 * see {@link KafkaSinkWriter.#fillGap}. Beyond this (many checkpoints in a row that never
 * reached the sink) the broker's transaction timeout is the backstop.
 */
const GAP_FILL_MAX = 64;

interface OpenTransaction {
  readonly k: number;
  readonly transactionalId: string;
  readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  readonly transaction: Transaction;
  /** Whether any record went into it (an empty transaction is not committed, only dropped). */
  written: boolean;
}

export class KafkaSinkWriter<T> implements CommittingSinkWriter<T, TransactionHandle> {
  readonly #options: KafkaSinkOptions<T>;
  readonly #guarantee: DeliveryGuarantee;
  readonly #context: SinkWriterContext;
  readonly #control: TransactionControl | undefined;
  readonly #serialize: (value: T) => Buffer | string;
  #buffer: Message[] = [];
  #sending: Promise<void> | undefined;
  #plainProducer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;
  #open: Promise<OpenTransaction> | undefined;
  /** Number of the next transaction to open. */
  #nextK: number;
  /** Highest transaction number this writer initialized, for gap filling. */
  #lastK: number;

  constructor(
    options: KafkaSinkOptions<T>,
    context: SinkWriterContext,
    guarantee: DeliveryGuarantee,
    control: TransactionControl | undefined,
  ) {
    this.#options = options;
    this.#context = context;
    this.#guarantee = guarantee;
    this.#control = control;
    this.#serialize = options.serializer ?? ((value: T) => JSON.stringify(value));
    this.#nextK = firstTransactionNumber(context);
    this.#lastK = this.#nextK - 1;
  }

  write(value: T, timestampMs: number | undefined): void {
    const { topic, key } = this.#options;
    const k = key?.(value);
    this.#buffer.push({
      topic: typeof topic === 'string' ? topic : topic(value),
      value: toBuffer(this.#serialize(value)),
      ...(k === undefined ? {} : { key: toBuffer(k) }),
      ...(timestampMs === undefined || !Number.isFinite(timestampMs)
        ? {}
        : { timestamp: BigInt(Math.trunc(timestampMs)) }),
    });
  }

  /**
   * Exactly-once pipelines one send behind the task (the barrier awaits it); the other
   * guarantees await their sends here, which is also the at-least-once barrier flush.
   */
  async flush(endOfInput: boolean): Promise<void> {
    await this.#sending;
    this.#startSend();
    if (this.#guarantee !== 'exactly-once' || endOfInput) await this.#sending;
  }

  async prepareCommit(checkpointId: number): Promise<readonly TransactionHandle[]> {
    await this.#sending;
    this.#startSend();
    await this.#sending;
    const open = this.#open;
    this.#open = undefined;
    this.#nextK = checkpointId + 1;
    if (open === undefined) return [];
    const txn = await open;
    const handle: TransactionHandle = {
      transactionalId: txn.transactionalId,
      producerId: String(txn.producer.producerId),
      epoch: txn.producer.producerEpoch ?? -1,
    };
    // Closing the connections leaves the transaction open on the broker: Kafka ties it to the
    // transactional id, producer id and epoch, which the committer uses to end it.
    await txn.producer.close(true);
    return txn.written ? [handle] : [];
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#sending]);
    const open = this.#open;
    this.#open = undefined;
    if (open !== undefined) {
      // Left open on purpose: the next run aborts it as lingering (or the timeout does).
      await open.then((t) => t.producer.close(true)).catch(() => undefined);
    }
    await this.#plainProducer?.close(true);
    await this.#control?.close();
  }

  #startSend(): void {
    if (this.#buffer.length === 0) return;
    const messages = this.#buffer;
    this.#buffer = [];
    this.#sending = this.#send(messages).finally(() => {
      this.#sending = undefined;
    });
  }

  async #send(messages: Message[]): Promise<void> {
    try {
      if (this.#guarantee === 'exactly-once') {
        const txn = await this.#transaction();
        txn.written = true;
        await txn.transaction.send({ messages });
      } else {
        this.#plainProducer ??= this.#createPlainProducer();
        const acks = this.#guarantee === 'none' ? ProduceAcks.LEADER : ProduceAcks.ALL;
        await this.#plainProducer.send({ messages, acks });
      }
    } catch (error) {
      throw kafkaError(
        this.#options,
        `writing ${messages.length} records (sink ${this.#context.operatorName})`,
        error,
      );
    }
  }

  /**
   * At-least-once uses an idempotent producer. The client sends one Produce request per broker
   * for all partitions, and when any partition answers with a retriable error (a just-created
   * partition that is not ready yet, a leader change) it resends the whole request, so the
   * partitions that had succeeded are written again. With idempotence the resend carries the
   * same producer id and sequence numbers and the broker drops those batches as duplicates.
   * `'none'` (acks=1) cannot be idempotent and may duplicate.
   */
  #createPlainProducer(): Producer<Buffer, Buffer, Buffer, Buffer> {
    const base = baseOptions(this.#options, `sink-${this.#context.subtaskIndex}`);
    if (this.#guarantee === 'none') return new Producer(base);
    return new Producer({ ...base, ...idempotentRetries(base), idempotent: true });
  }

  #transaction(): Promise<OpenTransaction> {
    this.#open ??= this.#begin(this.#nextK);
    return this.#open;
  }

  async #begin(k: number): Promise<OpenTransaction> {
    await this.#fillGap(k);
    const transactionalId = this.#transactionalId(k);
    const base = baseOptions(this.#options, `sink-${this.#context.subtaskIndex}`);
    const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
      ...base,
      ...idempotentRetries(base),
      transactionalId,
      idempotent: true,
      // platformatic sends its `timeout` as the transaction timeout of InitProducerId.
      timeout: this.#options.transactionTimeoutMs ?? TRANSACTION_TIMEOUT_MS_DEFAULT,
    });
    // beginTransaction initializes the id: it fences older producers and aborts whatever an
    // earlier run left open under the same id. Producer id and epoch -1 ask for a new session;
    // the client's default (0, 0) claims to be producer 0 and is fenced when the id exists.
    const transaction = await producer.beginTransaction({ producerId: -1n, producerEpoch: -1 });
    this.#lastK = Math.max(this.#lastK, k);
    return { k, transactionalId, producer, transaction, written: false };
  }

  /**
   * Numbers between the last transaction and `k` belong to checkpoints that never reached this
   * sink. Initializing them keeps the used numbers contiguous, so the restart's probe for
   * lingering transactions (which stops at the first never-used number) cannot stop early.
   */
  async #fillGap(k: number): Promise<void> {
    const control = this.#control;
    if (control === undefined || k - this.#lastK - 1 > GAP_FILL_MAX) return;
    const timeoutMs = this.#options.transactionTimeoutMs ?? TRANSACTION_TIMEOUT_MS_DEFAULT;
    for (let skipped = this.#lastK + 1; skipped < k; skipped++) {
      await control.fence(this.#transactionalId(skipped), timeoutMs);
    }
  }

  #transactionalId(k: number): string {
    const prefix = transactionalIdPrefix(this.#context, this.#options.transactionalIdPrefix);
    return transactionName(prefix, this.#context.subtaskIndex, k);
  }
}

function toBuffer(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}
