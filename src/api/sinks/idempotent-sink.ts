/** The idempotent-sink pattern: upsert by a deterministic record id, so replays overwrite instead of repeating. */
import type { DeliveryGuarantee, Sink, SinkWriter, SinkWriterContext } from '../sink.ts';

export interface IdempotentSinkOptions<T, K> {
  /**
   * The record's deterministic id: a function of its content, or of its source position. A
   * replayed record must get the same id, or the end state is not exactly-once.
   */
  readonly id: (value: T) => K;
  /**
   * Writes a batch, inserting or overwriting each record by id (`INSERT … ON CONFLICT DO
   * UPDATE`, a key-value PUT). Within a batch the last record of an id wins. Resolve only once
   * the batch is durable: the sink flushes at every checkpoint barrier (at-least-once).
   */
  readonly upsert: (records: ReadonlyMap<K, T>, context: SinkWriterContext) => void | Promise<void>;
}

/**
 * For systems without transactions: at-least-once delivery plus upserts by a deterministic id
 * gives an exactly-once end state. Replays after a restore overwrite rows with the same values,
 * so readers may see a replayed value again meanwhile, never a duplicate row.
 *
 * @example
 * ```ts
 * const table = new Map<string, number>();
 * const sink = new IdempotentSink<{ user: string; total: number }, string>({
 *   id: (r) => r.user,
 *   upsert: (records) => {
 *     for (const [id, r] of records) table.set(id, r.total);
 *   },
 * });
 * ```
 */
export class IdempotentSink<T, K> implements Sink<T> {
  readonly deliveryGuarantee: DeliveryGuarantee = 'at-least-once';
  readonly #options: IdempotentSinkOptions<T, K>;

  constructor(options: IdempotentSinkOptions<T, K>) {
    this.#options = options;
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    const { id, upsert } = this.#options;
    let batch = new Map<K, T>();
    return {
      write(value: T): void {
        batch.set(id(value), value);
      },
      flush(): void | Promise<void> {
        if (batch.size === 0) return;
        const records = batch;
        batch = new Map();
        return upsert(records, context);
      },
      close(): void {},
    };
  }
}
