/**
 * Commits pre-committed Kafka transactions by EndTxn with their producer id and epoch (the same
 * path in the running job and after a restart), and aborts what earlier runs left open.
 */
import type { Committer, LingeringContext } from '../../../api/sink.ts';
import { transactionName } from '../../../api/sink.ts';
import type { TransactionControl, TransactionHandle } from '../client/transaction-control.ts';

/** Bound of the probe for lingering transactions of one old subtask. */
const PROBE_TRANSACTIONS_MAX = 100_000;

export class KafkaCommitter implements Committer<TransactionHandle> {
  readonly #control: TransactionControl;
  readonly #prefix: string;
  readonly #transactionTimeoutMs: number;

  constructor(control: TransactionControl, prefix: string, transactionTimeoutMs: number) {
    this.#control = control;
    this.#prefix = prefix;
    this.#transactionTimeoutMs = transactionTimeoutMs;
  }

  /**
   * "Already finished" answers (fenced, invalid state, unknown id) count as committed, as in
   * Flink: a retry after a commit whose answer was lost looks exactly like that.
   */
  async commit(committables: readonly TransactionHandle[]): Promise<void> {
    for (const handle of committables) await this.#control.end(handle, true);
  }

  /**
   * For every old subtask this subtask owns, probes transaction numbers upward from the first
   * one no completed checkpoint covers, initializing each id: that aborts its open transaction
   * and fences its producer. The first id whose epoch comes back 0 was never used, and the writer
   * keeps the used numbers contiguous, so nothing beyond it was used either (Flink's
   * TransactionAborter idea).
   */
  async abortLingering(context: LingeringContext): Promise<void> {
    const first = (context.restoredCheckpointId ?? 0) + 1;
    const oldParallelism = Math.max(context.restoredParallelism ?? context.parallelism, context.parallelism);
    for (let j = 0; j < oldParallelism; j++) {
      if (!context.ownsOldSubtask(j)) continue;
      for (let k = first; k < first + PROBE_TRANSACTIONS_MAX; k++) {
        if (!context.isLingering(j, k)) break;
        const { epoch } = await this.#control.fence(
          transactionName(this.#prefix, j, k),
          this.#transactionTimeoutMs,
        );
        if (epoch === 0) break;
      }
    }
  }

  async close(): Promise<void> {
    await this.#control.close();
  }
}
