/** The sink contracts: plain writers, and two-phase-commit sinks for end-to-end exactly-once. */
import type { TypeSerializer } from '../state/serializers/type-serializer.ts';

/**
 * What a sink promises about records that precede a completed checkpoint:
 * - `'none'`: written and forgotten; a failure may lose or repeat them.
 * - `'at-least-once'`: durable in the external system before the checkpoint is acknowledged
 *   (the writer flushes at the barrier); replays after a restore repeat them.
 * - `'exactly-once'`: written in transactions that become visible only when the checkpoint
 *   that pre-committed them completes (two-phase commit).
 */
export type DeliveryGuarantee = 'none' | 'at-least-once' | 'exactly-once';

/** Who a sink subtask is, and what it was restored from. */
export interface SinkWriterContext {
  readonly jobName: string;
  readonly operatorName: string;
  /** The operator's stable identity: its uid, else a hash of its position in the graph. */
  readonly operatorId: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /**
   * The checkpoint this subtask's sink state was restored from (for a subtask that had ended
   * its input, the id its last transaction was pre-committed for); undefined on a fresh start.
   */
  readonly restoredCheckpointId: number | undefined;
  /** The sink's parallelism when that checkpoint was taken; undefined on a fresh start. */
  readonly restoredParallelism: number | undefined;
  /**
   * Random on a fresh start, then carried through every checkpoint and restore (after a restore,
   * the smallest of the restored ids, so all subtasks agree): output names that must not collide
   * with an earlier run writing to the same place (file names) include it.
   */
  readonly lineageId: string;
  /**
   * The job's periodic checkpoint interval and checkpoint timeout (undefined without periodic
   * checkpoints). A transaction stays open from one barrier until the next checkpoint
   * completes, up to their sum: transactional sinks check their timeouts against it at start.
   */
  readonly checkpointIntervalMs?: number | undefined;
  readonly checkpointTimeoutMs?: number | undefined;
}

export interface SinkWriter<T> {
  /** Called per record on the task's thread; buffer here, do I/O in `flush`. */
  write(value: T, timestampMs: number | undefined): void;
  /**
   * Called between batches, at every checkpoint barrier (at-least-once: make what was written
   * durable), and at end of input (`endOfInput`); a returned promise is awaited before the
   * task goes on, which is how a slow sink backpressures its input.
   */
  flush(endOfInput: boolean): void | Promise<void>;
  /**
   * Called at every checkpoint barrier instead of `flush(false)`, when defined: a writer that
   * groups its output in batches of its own (one database transaction per checkpoint interval)
   * ends the batch here, because `flush` also comes after every input batch. At-least-once
   * writers make everything written so far durable before the promise settles.
   */
  snapshotPreBarrier?(checkpointId: number): void | Promise<void>;
  close(): void | Promise<void>;
}

/**
 * A sink: one writer per sink subtask.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const sink: Sink<string> = {
 *   createWriter: () => ({ write: (v) => void lines.push(v), flush() {}, close() {} }),
 * };
 * ```
 */
export interface Sink<T> {
  /** Default `'at-least-once'` (flush at the barrier); `'exactly-once'` needs a committer. */
  readonly deliveryGuarantee?: DeliveryGuarantee;
  createWriter(context: SinkWriterContext): SinkWriter<T> | Promise<SinkWriter<T>>;
}

/** A writer whose output goes into transactions it pre-commits at each barrier. */
export interface CommittingSinkWriter<T, C> extends SinkWriter<T> {
  /**
   * At barrier `checkpointId` (after every record before it was written), or at end of input:
   * end the current transaction, make it durable but invisible, and return its handles (none
   * if it is empty). The next write opens a new transaction, named with
   * `checkpointId + 1` (see {@link transactionName}).
   */
  prepareCommit(checkpointId: number): readonly C[] | Promise<readonly C[]>;
}

/** Which transactions an earlier run may have left open, for one restarted subtask. */
export interface LingeringContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly restoredCheckpointId: number | undefined;
  readonly restoredParallelism: number | undefined;
  readonly lineageId: string;
  /** Every lineage id of the restored checkpoint's subtasks (empty on a fresh start): their output is this run's. */
  readonly restoredLineageIds: readonly string[];
  /** Whether this subtask cleans up after old subtask `j` (`j % parallelism === subtaskIndex`). */
  ownsOldSubtask(oldSubtaskIndex: number): boolean;
  /**
   * Whether transaction `k` of old subtask `j` is lingering and this subtask aborts it: `j`
   * is owned and `k > restoredCheckpointId` (every `k` on a fresh start). Transactions with
   * `k <= restoredCheckpointId` belong to the restored checkpoint and are committed instead.
   */
  isLingering(oldSubtaskIndex: number, k: number): boolean;
}

/** Makes pre-committed transactions visible; one per sink subtask. */
export interface Committer<C> {
  /**
   * Idempotent: a handle already committed (or unknown because it committed) is a success.
   * Throws when a handle can be neither committed nor shown to be committed (data lost).
   */
  commit(committables: readonly C[]): Promise<void>;
  /** On start, before the first record: abort this subtask's share of lingering transactions. */
  abortLingering(context: LingeringContext): Promise<void>;
  close(): Promise<void>;
}

/**
 * An exactly-once sink by two-phase commit: the writer pre-commits at every barrier, the
 * committables go into the checkpoint, and the committer commits them when it completes.
 *
 * @example
 * ```ts
 * const visible: string[] = [];
 * const sink: TwoPhaseCommittingSink<string, string[]> = {
 *   deliveryGuarantee: 'exactly-once',
 *   createWriter: () => {
 *     let txn: string[] = [];
 *     return {
 *       write: (v) => void txn.push(v),
 *       flush() {},
 *       prepareCommit: () => (txn.length === 0 ? [] : [txn.splice(0)]),
 *       close() {},
 *     };
 *   },
 *   createCommitter: () => ({
 *     commit: async (txns) => void visible.push(...txns.flat()), // not idempotent: a sketch
 *     abortLingering: async () => {},
 *     close: async () => {},
 *   }),
 * };
 * ```
 */
export interface TwoPhaseCommittingSink<T, C> extends Sink<T> {
  createWriter(context: SinkWriterContext): CommittingSinkWriter<T, C> | Promise<CommittingSinkWriter<T, C>>;
  createCommitter(context: SinkWriterContext): Committer<C> | Promise<Committer<C>>;
  /** Serializer of committables in checkpoints; default: the state default (JSON-shaped data). */
  readonly committableSerializer?: TypeSerializer<C>;
}

/** Whether `sink` runs with two-phase commit: it has a committer and asks for exactly-once. */
export function isTwoPhaseCommittingSink<T>(sink: Sink<T>): sink is TwoPhaseCommittingSink<T, unknown> {
  return (
    typeof (sink as Partial<TwoPhaseCommittingSink<T, unknown>>).createCommitter === 'function' &&
    (sink.deliveryGuarantee ?? 'exactly-once') === 'exactly-once'
  );
}

/**
 * The transaction prefix of a sink subtask: the user's, else `weir-<job name>-<operator id>`.
 *
 * @example
 * ```ts
 * transactionalIdPrefix({ jobName: 'orders', operatorId: 'kafka-out' } as SinkWriterContext); // 'weir-orders-kafka-out'
 * ```
 */
export function transactionalIdPrefix(
  context: Pick<SinkWriterContext, 'jobName' | 'operatorId'>,
  prefix?: string,
): string {
  return prefix ?? `weir-${context.jobName}-${context.operatorId}`;
}

/**
 * The deterministic name of transaction `k` of subtask `subtaskIndex`: `<prefix>-<subtask>-<k>`.
 * A writer's first transaction is {@link firstTransactionNumber}; after pre-committing for
 * checkpoint n its next one is `n + 1`.
 *
 * @example
 * ```ts
 * transactionName('weir-orders-kafka-out', 2, 8); // 'weir-orders-kafka-out-2-8'
 * ```
 */
export function transactionName(prefix: string, subtaskIndex: number, k: number): string {
  return `${prefix}-${subtaskIndex}-${k}`;
}

/** Reads a {@link transactionName} back; undefined when `name` is not one of `prefix`. */
export function parseTransactionName(
  prefix: string,
  name: string,
): { readonly subtaskIndex: number; readonly k: number } | undefined {
  if (!name.startsWith(`${prefix}-`)) return undefined;
  const match = /^(\d+)-(\d+)$/.exec(name.slice(prefix.length + 1));
  if (match === null) return undefined;
  return { subtaskIndex: Number(match[1]), k: Number(match[2]) };
}

/** `k` of a writer's first transaction: `restoredCheckpointId + 1`, or 1 on a fresh start. */
export function firstTransactionNumber(context: Pick<SinkWriterContext, 'restoredCheckpointId'>): number {
  return (context.restoredCheckpointId ?? 0) + 1;
}

/** The lingering rule of the design note (docs/design/connectors.md §2) for one subtask. */
export function lingeringContext(
  context: SinkWriterContext,
  restoredLineageIds: readonly string[] = [],
): LingeringContext {
  const { subtaskIndex, parallelism, restoredCheckpointId, restoredParallelism, lineageId } = context;
  const ownsOldSubtask = (j: number): boolean => j % parallelism === subtaskIndex;
  return {
    subtaskIndex,
    parallelism,
    restoredCheckpointId,
    restoredParallelism,
    lineageId,
    restoredLineageIds,
    ownsOldSubtask,
    isLingering: (j, k) =>
      ownsOldSubtask(j) && (restoredCheckpointId === undefined || k > restoredCheckpointId),
  };
}
