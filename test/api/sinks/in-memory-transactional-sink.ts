/** A reference two-phase-commit sink over an in-memory "external system" with named transactions. */
import {
  type Committer,
  type CommittingSinkWriter,
  firstTransactionNumber,
  type LingeringContext,
  parseTransactionName,
  type SinkWriterContext,
  type TwoPhaseCommittingSink,
  transactionalIdPrefix,
  transactionName,
} from '../../../src/api/sink.ts';

type TxnStatus = 'open' | 'prepared' | 'committed' | 'aborted';

interface StoredTxn {
  status: TxnStatus;
  values: string[];
}

/**
 * The external system: transactions by name, as a broker or database keeps them. Outlives
 * the writers (a crashed subtask leaves its transactions open or prepared), like Kafka's.
 */
export class TransactionStore {
  readonly transactions = new Map<string, StoredTxn>();
  commits = 0;

  /** Committed values, sorted. */
  visible(): string[] {
    return [...this.transactions.values()]
      .filter((t) => t.status === 'committed')
      .flatMap((t) => t.values)
      .sort();
  }

  /** Begins (or, after a restart, re-begins: fencing the old one) transaction `name`. */
  begin(name: string): StoredTxn {
    const existing = this.transactions.get(name);
    if (existing?.status === 'committed') throw new Error(`transaction ${name} reused after its commit`);
    const txn: StoredTxn = { status: 'open', values: [] };
    this.transactions.set(name, txn);
    return txn;
  }
}

/** Handles are transaction names. */
export class InMemoryTransactionalSink implements TwoPhaseCommittingSink<string, string> {
  readonly deliveryGuarantee = 'exactly-once';
  readonly store: TransactionStore;

  constructor(store = new TransactionStore()) {
    this.store = store;
  }

  createWriter(context: SinkWriterContext): CommittingSinkWriter<string, string> {
    const store = this.store;
    const prefix = transactionalIdPrefix(context);
    let k = firstTransactionNumber(context);
    let current: { name: string; txn: StoredTxn } | undefined;
    return {
      write(value: string): void {
        if (current === undefined) {
          const name = transactionName(prefix, context.subtaskIndex, k);
          current = { name, txn: store.begin(name) };
        }
        current.txn.values.push(value);
      },
      flush(): void {},
      prepareCommit(checkpointId: number): readonly string[] {
        const done = current;
        current = undefined;
        k = checkpointId + 1;
        if (done === undefined) return [];
        done.txn.status = 'prepared';
        return [done.name];
      },
      close(): void {},
    };
  }

  createCommitter(context: SinkWriterContext): Committer<string> {
    const store = this.store;
    const prefix = transactionalIdPrefix(context);
    return {
      async commit(names: readonly string[]): Promise<void> {
        for (const name of names) {
          const txn = store.transactions.get(name);
          if (txn?.status === 'committed') continue;
          if (txn?.status !== 'prepared')
            throw new Error(`cannot commit ${name}: ${txn?.status ?? 'unknown'}`);
          txn.status = 'committed';
          store.commits++;
        }
      },
      async abortLingering(lingering: LingeringContext): Promise<void> {
        for (const [name, txn] of store.transactions) {
          const parsed = parseTransactionName(prefix, name);
          if (parsed === undefined || txn.status === 'committed') continue;
          if (lingering.isLingering(parsed.subtaskIndex, parsed.k)) txn.status = 'aborted';
        }
      },
      async close(): Promise<void> {},
    };
  }
}
