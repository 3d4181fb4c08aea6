/** The committing half of the exactly-once sink: COMMIT PREPARED on completion, ROLLBACK PREPARED for lingering ones. */
import type { Committer, LingeringContext } from '../../api/sink.ts';
import { parseTransactionName } from '../../api/sink.ts';
import { type PostgresConnectionOptions, SqlConnection } from './connection.ts';
import { commitPrepared, listPrepared, rollbackPrepared } from './prepared-transactions.ts';

/**
 * Commits prepared transactions by name, from its own connection: `COMMIT PREPARED` works
 * from any session, so a restarted process commits what a killed one prepared. The
 * connection opens on first use (a subtask with nothing to commit never opens one).
 */
export class PostgresCommitter implements Committer<string> {
  readonly #options: PostgresConnectionOptions;
  /** Undefined when the sink prepares nothing (not exactly-once): no lingering transactions to find. */
  readonly #prefix: string | undefined;
  readonly #purpose: string;
  #connection: Promise<SqlConnection> | undefined;

  constructor(options: PostgresConnectionOptions, prefix: string | undefined, purpose: string) {
    this.#options = options;
    this.#prefix = prefix;
    this.#purpose = purpose;
  }

  async commit(gids: readonly string[]): Promise<void> {
    if (gids.length === 0) return;
    const connection = await this.#open();
    for (const gid of gids) await commitPrepared(connection, gid);
  }

  /**
   * Rolls back this subtask's share of the prepared transactions no completed checkpoint
   * covers (left by a process that was killed or failed after PREPARE and before its
   * checkpoint completed). Their records are replayed from the restored checkpoint.
   */
  async abortLingering(context: LingeringContext): Promise<void> {
    const prefix = this.#prefix;
    if (prefix === undefined) return;
    const connection = await this.#open();
    for (const gid of await listPrepared(connection, `${prefix}-`)) {
      const name = parseTransactionName(prefix, gid);
      if (name !== undefined && context.isLingering(name.subtaskIndex, name.k)) {
        await rollbackPrepared(connection, gid);
      }
    }
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection !== undefined) await (await connection.catch(() => undefined))?.close();
  }

  #open(): Promise<SqlConnection> {
    this.#connection ??= SqlConnection.open(this.#options, this.#purpose);
    // A failed connect is retried by the next call rather than remembered.
    this.#connection.catch(() => {
      this.#connection = undefined;
    });
    return this.#connection;
  }
}
