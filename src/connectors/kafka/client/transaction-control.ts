/**
 * Ends and fences Kafka transactions by transactional id, producer id and epoch, outside any
 * producer object: what lets a restarted job commit what its predecessor pre-committed (as
 * Flink's FlinkKafkaInternalProducer.resumeTransaction does) and abort what it left open.
 */
import {
  type Connection,
  endTxnV0,
  endTxnV1,
  endTxnV2,
  endTxnV3,
  endTxnV4,
  FindCoordinatorKeyTypes,
  initProducerIdV0,
  initProducerIdV1,
  initProducerIdV2,
  initProducerIdV3,
  initProducerIdV4,
  initProducerIdV5,
} from '@platformatic/kafka';
import type { KafkaAdmin } from './kafka-admin.ts';

/** What identifies an open transaction across processes. */
export interface TransactionHandle {
  readonly transactionalId: string;
  /** A bigint on the wire; a decimal string here so the handle is plain JSON in checkpoints. */
  readonly producerId: string;
  readonly epoch: number;
}

export type EndTransactionOutcome = 'committed' | 'aborted' | 'already-finished';

/** Retriable answers while the coordinator moves or finishes the previous state change. */
const COORDINATOR_LOAD_IN_PROGRESS = 14;
const COORDINATOR_NOT_AVAILABLE = 15;
const NOT_COORDINATOR = 16;
const CONCURRENT_TRANSACTIONS = 51;
const RETRIABLE = new Set([
  COORDINATOR_LOAD_IN_PROGRESS,
  COORDINATOR_NOT_AVAILABLE,
  NOT_COORDINATOR,
  CONCURRENT_TRANSACTIONS,
]);
/**
 * Answers to a resumed EndTxn that mean the transaction is no longer open under this producer id
 * and epoch: a previous attempt committed it (and a later one started), a newer producer fenced
 * it, or the id expired. Flink treats these the same way: the commit is done.
 */
const FINISHED = new Set([
  47, // INVALID_PRODUCER_EPOCH
  48, // INVALID_TXN_STATE
  49, // INVALID_PRODUCER_ID_MAPPING
  90, // PRODUCER_FENCED
  105, // TRANSACTIONAL_ID_NOT_FOUND
]);
const ATTEMPTS_MAX = 50;
const RETRY_DELAY_MS = 100;

type EndTxnApi = typeof endTxnV4.api;
type InitApi = typeof initProducerIdV5.api;
const END_TXN_APIS = new Map<number, EndTxnApi>([
  [0, endTxnV0.api],
  [1, endTxnV1.api],
  [2, endTxnV2.api],
  [3, endTxnV3.api],
  // v4 is the newest this client speaks; v5 would opt into transaction protocol V2 (KIP-890).
  [4, endTxnV4.api],
]);
const INIT_APIS = new Map<number, InitApi>([
  [0, initProducerIdV0.api],
  [1, initProducerIdV1.api],
  [2, initProducerIdV2.api],
  [3, initProducerIdV3.api],
  [4, initProducerIdV4.api],
  [5, initProducerIdV5.api],
]);

/** The numeric Kafka error codes inside a platformatic error (it nests them in `errors`). */
export function kafkaErrorCodes(error: unknown): number[] {
  const codes: number[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (typeof e !== 'object' || e === null || depth > 4) return;
    const code = (e as { apiCode?: unknown }).apiCode;
    if (typeof code === 'number') codes.push(code);
    const nested = (e as { errors?: unknown }).errors;
    if (Array.isArray(nested)) for (const inner of nested) visit(inner, depth + 1);
    visit((e as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return codes;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class TransactionControl {
  readonly #admin: KafkaAdmin;
  #versions: Map<string, number> | undefined;

  constructor(admin: KafkaAdmin) {
    this.#admin = admin;
  }

  /**
   * Commits (or aborts) the transaction `handle` names by sending EndTxn with its producer id
   * and epoch. Idempotent: a transaction that is already finished is reported, not an error.
   */
  async end(handle: TransactionHandle, commit: boolean): Promise<EndTransactionOutcome> {
    const api = await this.#pick('EndTxn', END_TXN_APIS);
    const producerId = BigInt(handle.producerId);
    return this.#withCoordinator(handle.transactionalId, async (connection) => {
      try {
        await api.async(connection, handle.transactionalId, producerId, handle.epoch, commit);
        return commit ? 'committed' : 'aborted';
      } catch (error) {
        if (kafkaErrorCodes(error).some((c) => FINISHED.has(c))) return 'already-finished';
        throw error;
      }
    });
  }

  /**
   * Initializes a producer session for `transactionalId`: the coordinator aborts any transaction
   * open under that id and fences its producers. Returns the new epoch; 0 means the id had
   * never been initialized before (so no earlier run used it).
   */
  async fence(
    transactionalId: string,
    transactionTimeoutMs: number,
  ): Promise<{ producerId: bigint; epoch: number }> {
    const api = await this.#pick('InitProducerId', INIT_APIS);
    return this.#withCoordinator(transactionalId, async (connection) => {
      const response = await api.async(connection, transactionalId, transactionTimeoutMs, -1n, -1);
      return { producerId: response.producerId, epoch: response.producerEpoch };
    });
  }

  async close(): Promise<void> {
    await this.#admin.close();
  }

  async #withCoordinator<R>(
    transactionalId: string,
    action: (connection: Connection) => Promise<R>,
  ): Promise<R> {
    let lastError: unknown;
    for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
      try {
        const [coordinator] = await this.#admin.client.findCoordinator({
          keyType: FindCoordinatorKeyTypes.TRANSACTION,
          keys: [transactionalId],
        });
        if (coordinator === undefined) throw new Error(`no transaction coordinator for ${transactionalId}`);
        const connection = await this.#admin.client.connections.get({
          host: coordinator.host,
          port: coordinator.port,
        });
        return await action(connection);
      } catch (error) {
        lastError = error;
        if (!kafkaErrorCodes(error).some((c) => RETRIABLE.has(c))) break;
        await sleep(RETRY_DELAY_MS);
      }
    }
    throw new Error(`Kafka: transaction ${transactionalId}: ${(lastError as Error)?.message ?? lastError}`, {
      cause: lastError,
    });
  }

  async #pick<A>(name: string, implemented: Map<number, A>): Promise<A> {
    if (this.#versions === undefined) {
      const apis = await this.#admin.client.listApis();
      this.#versions = new Map(apis.map((a) => [a.name, a.maxVersion]));
    }
    const max = this.#versions.get(name) ?? -1;
    for (let v = max; v >= 0; v--) {
      const api = implemented.get(v);
      if (api !== undefined) return api;
    }
    throw new Error(`Kafka: the broker does not support ${name}`);
  }
}
