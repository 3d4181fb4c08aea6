/**
 * The writing half of the sink: one connection per subtask, records buffered in bounded
 * batches and sent in `flush`, one database transaction per checkpoint interval, ended at
 * the barrier by `PREPARE TRANSACTION` (exactly-once) or `COMMIT` (at-least-once, none).
 */
import type { DeliveryGuarantee } from '../../api/sink.ts';
import type { BatchStatement } from './batch-statements.ts';
import type { SqlConnection } from './connection.ts';
import { checkGid } from './identifiers.ts';
import { RowBatch } from './row-batch.ts';
import type { TableMapping } from './table-mapping.ts';

/**
 * The interval's transaction: `idle` before the first batch of an interval (nothing is
 * open: an empty interval prepares nothing), `open` once BEGIN was sent, `failed` after a
 * write failed (the transaction is doomed; the task fails and the server aborts it).
 */
type TransactionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'open' }
  | { readonly kind: 'failed'; readonly error: unknown };

const IDLE: TransactionState = { kind: 'idle' };

export interface TransactionWriterSettings<T> {
  readonly connection: SqlConnection;
  readonly mapping: TableMapping<T>;
  readonly statement: BatchStatement<T>;
  readonly guarantee: DeliveryGuarantee;
  /** Rows per statement at most, and the buffer size at which `flush` sends. */
  readonly batchRowsMax: number;
  /** The name for the transaction prepared at a barrier (exactly-once only). */
  readonly transactionName: (checkpointId: number) => string;
}

export class PostgresTransactionWriter<T> {
  readonly #settings: TransactionWriterSettings<T>;
  #batch = new RowBatch<T>();
  #state: TransactionState = IDLE;

  constructor(settings: TransactionWriterSettings<T>) {
    this.#settings = settings;
  }

  /** Buffers the record's row (the row function runs here, so its errors name the record). */
  write(record: T): void {
    this.#batch.add(record, this.#settings.mapping.row(record));
  }

  /**
   * Called after each input batch and awaited before more input is taken: sends full batches
   * into the open transaction, so at most one input batch more than `batchRowsMax` stays
   * buffered; at end of input sends everything (`prepareCommit` follows).
   */
  async flush(endOfInput: boolean): Promise<void> {
    await this.#send(endOfInput ? 0 : this.#settings.batchRowsMax);
  }

  /**
   * At the barrier: sends what is buffered and ends the interval's transaction. Exactly-once
   * prepares it and returns its name; otherwise it commits it and returns nothing. An interval
   * without records has no transaction and returns nothing.
   */
  async prepareCommit(checkpointId: number): Promise<string[]> {
    await this.#send(0);
    const state = this.#state;
    if (state.kind === 'failed') throw state.error;
    if (state.kind === 'idle') return [];
    const { connection, guarantee } = this.#settings;
    this.#state = IDLE;
    if (guarantee !== 'exactly-once') {
      await connection.query('COMMIT');
      return [];
    }
    const gid = this.#settings.transactionName(checkpointId);
    checkGid(gid);
    await connection.query(`PREPARE TRANSACTION ${connection.literal(gid)}`);
    return [gid];
  }

  /** Closes the connection; an open (unprepared) transaction dies with it, invisible. */
  async close(): Promise<void> {
    this.#batch = new RowBatch<T>();
    await this.#settings.connection.close();
  }

  /** Sends the buffer in batches of at most `batchRowsMax` while it holds at least `thresholdRows` (0: everything). */
  async #send(thresholdRows: number): Promise<void> {
    const { connection, statement, batchRowsMax } = this.#settings;
    while (this.#batch.size >= thresholdRows && this.#batch.size > 0) {
      if (this.#state.kind === 'failed') throw this.#state.error;
      const batch = this.#batch.take(batchRowsMax);
      try {
        if (this.#state.kind === 'idle') {
          await connection.query('BEGIN');
          this.#state = { kind: 'open' };
        }
        await statement.write(connection, batch, true);
      } catch (error) {
        this.#state = { kind: 'failed', error };
        throw error;
      }
    }
  }
}
