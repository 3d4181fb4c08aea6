/** The PostgreSQL sink: exactly-once by prepared transactions, idempotent upserts, or plain batched inserts. */
import {
  type CommittingSinkWriter,
  type DeliveryGuarantee,
  firstTransactionNumber,
  type SinkWriterContext,
  type TwoPhaseCommittingSink,
  transactionalIdPrefix,
  transactionName,
} from '../../api/sink.ts';
import { type BatchStatement, CopyStatement, UpsertStatement } from './batch-statements.ts';
import { type PostgresConnectionOptions, SqlConnection } from './connection.ts';
import { checkGid } from './identifiers.ts';
import { PostgresCommitter } from './postgres-committer.ts';
import { checkPreparedTransactionsEnabled } from './prepared-transactions.ts';
import { type PostgresTable, TableMapping } from './table-mapping.ts';
import { columnTypes } from './table-schema.ts';
import { PostgresTransactionWriter } from './transaction-writer.ts';

/** Upsert by key instead of plain inserts: `INSERT … ON CONFLICT (keyColumns) DO UPDATE`. */
export interface PostgresUpsert {
  /** The columns of a unique index or primary key of the table. */
  readonly keyColumns: readonly string[];
  /** Columns overwritten on conflict; default every mapped column that is not a key (none: DO NOTHING). */
  readonly updateColumns?: readonly string[];
}

/** Options of {@link postgresSink}. */
export interface PostgresSinkOptions<T> extends PostgresTable<T>, PostgresConnectionOptions {
  /**
   * Default `'exactly-once'` for inserts (prepared transactions, visible when the checkpoint
   * completes) and `'at-least-once'` for upserts (replays overwrite rows with equal values).
   */
  readonly deliveryGuarantee?: DeliveryGuarantee;
  readonly upsert?: PostgresUpsert;
  /** Rows per statement at most, and the buffered rows at which a batch is sent; default 5000. */
  readonly batchRowsMax?: number;
  /**
   * Prefix of prepared transactions' names (letters, digits, `.`, `_`, `-`); default
   * `weir-<job name>-<operator id>` with other characters replaced by `_`. Two sinks writing
   * to one server at once must not share it.
   */
  readonly transactionalIdPrefix?: string;
}

const BATCH_ROWS_MAX_DEFAULT = 5000;
/** The longest `-<subtask>-<k>` suffix a transaction name gets (checked against the gid limit at start). */
const LONGEST_SUFFIX_SAMPLE = `-${2 ** 16}-${Number.MAX_SAFE_INTEGER}`;

/**
 * Writes records as rows of one table, in batches (COPY, or multi-row upserts), never a round
 * trip per row.
 *
 * - `'exactly-once'`: one transaction per checkpoint interval, `PREPARE TRANSACTION` at the
 *   barrier, `COMMIT PREPARED` when the checkpoint completes; on restart the prepared
 *   transactions that no completed checkpoint covers are rolled back (needs
 *   `max_prepared_transactions > 0` on the server, checked at start).
 * - `'at-least-once'` (and `'none'`, which behaves the same): the same transaction per
 *   interval, committed at the barrier; replays after a restore write again (use `upsert` for
 *   an idempotent effect).
 *
 * Without exactly-once the writer ends its transaction in `snapshotPreBarrier` (a `flush`
 * comes after every input batch too, and committing there would wait for a WAL flush per
 * batch) and at end of input; nothing is ever handed to the committer.
 *
 * @example
 * ```ts
 * const sink = postgresSink<{ id: number; total: number }>({
 *   connectionString: 'postgres://weir@127.0.0.1:5432/weir',
 *   table: 'totals',
 *   columns: ['id', 'total'],
 *   upsert: { keyColumns: ['id'] },
 * });
 * ```
 */
export function postgresSink<T>(options: PostgresSinkOptions<T>): PostgresSink<T> {
  return new PostgresSink(options);
}

/** See {@link postgresSink}. */
export class PostgresSink<T> implements TwoPhaseCommittingSink<T, string> {
  readonly deliveryGuarantee: DeliveryGuarantee;
  readonly #options: PostgresSinkOptions<T>;
  readonly #mapping: TableMapping<T>;
  readonly #batchRowsMax: number;

  constructor(options: PostgresSinkOptions<T>) {
    this.#options = options;
    this.#mapping = new TableMapping(options);
    this.deliveryGuarantee =
      options.deliveryGuarantee ?? (options.upsert === undefined ? 'exactly-once' : 'at-least-once');
    this.#batchRowsMax = options.batchRowsMax ?? BATCH_ROWS_MAX_DEFAULT;
    if (!(Number.isSafeInteger(this.#batchRowsMax) && this.#batchRowsMax >= 1)) {
      throw new Error(
        `PostgreSQL sink: batchRowsMax must be a positive integer, got ${options.batchRowsMax}`,
      );
    }
    if (options.transactionalIdPrefix !== undefined)
      checkGid(options.transactionalIdPrefix + LONGEST_SUFFIX_SAMPLE);
    if (options.upsert !== undefined) this.#mapping.indexesOf(options.upsert.keyColumns, 'key');
  }

  async createWriter(context: SinkWriterContext): Promise<CommittingSinkWriter<T, string>> {
    const purpose = `weir sink ${context.operatorName} ${context.subtaskIndex}`;
    const connection = await SqlConnection.open(this.#options, purpose);
    try {
      const exactlyOnce = this.deliveryGuarantee === 'exactly-once';
      if (exactlyOnce) await checkPreparedTransactionsEnabled(connection, context.parallelism);
      const statement = await this.#statement(connection);
      const prefix = this.#prefix(context);
      let k = firstTransactionNumber(context);
      const writer = new PostgresTransactionWriter<T>({
        connection,
        mapping: this.#mapping,
        statement,
        guarantee: this.deliveryGuarantee,
        batchRowsMax: this.#batchRowsMax,
        transactionName: () => transactionName(prefix, context.subtaskIndex, k),
      });
      if (!exactlyOnce) {
        return {
          write: (record) => writer.write(record),
          flush: async (endOfInput) => {
            await writer.flush(endOfInput);
            if (endOfInput) await writer.prepareCommit(0);
          },
          snapshotPreBarrier: async (checkpointId) => {
            await writer.prepareCommit(checkpointId);
          },
          prepareCommit: () => [],
          close: () => writer.close(),
        };
      }
      return {
        write: (record) => writer.write(record),
        flush: (endOfInput) => writer.flush(endOfInput),
        prepareCommit: async (checkpointId) => {
          const gids = await writer.prepareCommit(checkpointId);
          k = checkpointId + 1;
          return gids;
        },
        close: () => writer.close(),
      };
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  createCommitter(context: SinkWriterContext): PostgresCommitter {
    return new PostgresCommitter(
      this.#options,
      // Without exactly-once nothing is prepared, so there is nothing lingering to look for.
      this.deliveryGuarantee === 'exactly-once' ? this.#prefix(context) : undefined,
      `weir committer ${context.operatorName} ${context.subtaskIndex}`,
    );
  }

  async #statement(connection: SqlConnection): Promise<BatchStatement<T>> {
    // Read even for COPY: a missing table or column fails here, before any record is taken.
    const types = await columnTypes(connection, this.#mapping);
    const upsert = this.#options.upsert;
    if (upsert === undefined) return new CopyStatement(this.#mapping);
    return new UpsertStatement(this.#mapping, types, upsert.keyColumns, upsert.updateColumns);
  }

  #prefix(context: SinkWriterContext): string {
    const prefix =
      this.#options.transactionalIdPrefix ??
      transactionalIdPrefix({
        jobName: context.jobName.replace(/[^A-Za-z0-9._-]/g, '_'),
        operatorId: context.operatorId.replace(/[^A-Za-z0-9._-]/g, '_'),
      });
    checkGid(prefix + LONGEST_SUFFIX_SAMPLE);
    return prefix;
  }
}
