/** The operator of a two-phase-commit sink: pre-commit at the barrier, commit on completion. */
import { randomUUID } from 'node:crypto';
import type { BinaryReader, BinaryWriter } from '../../core/binary.ts';
import { NO_TIMESTAMP } from '../../runtime/elements.ts';
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { ListState } from '../../state/keyed-state.ts';
import type { TypeSerializer } from '../../state/serializers/type-serializer.ts';
import { listState } from '../../state/state-descriptors-factory.ts';
import {
  type Committer,
  type CommittingSinkWriter,
  lingeringContext,
  type SinkWriterContext,
  type TwoPhaseCommittingSink,
} from '../sink.ts';

/** One pre-committed handle in operator list state, with the checkpoint it belongs to. */
export interface PendingCommittable<C> {
  readonly checkpointId: number;
  readonly committable: C;
}

/** Union list state: who wrote the snapshot, so a restore knows `restoredCheckpointId` and the old parallelism. */
interface WriterInfo {
  readonly subtask: number;
  readonly parallelism: number;
  /** The checkpoint id of the snapshot, or for a final snapshot the id its last transaction was pre-committed for. */
  readonly checkpointId: number;
  readonly lineage: string;
}

const PENDING_STATE = 'sink-pending-committables';
const WRITER_INFO = listState<WriterInfo>('sink-writer-info');

/** Keeps a sink's serializer for committables, adding the checkpoint id in front. */
function pendingSerializer<C>(inner: TypeSerializer<C>): TypeSerializer<PendingCommittable<C>> {
  const prefix = 'weir.sink-pending:';
  return {
    id: `${prefix}${inner.id}`,
    version: inner.version,
    serialize(value: PendingCommittable<C>, out: BinaryWriter): void {
      out.writeFloat64(value.checkpointId);
      inner.serialize(value.committable, out);
    },
    deserialize(input: BinaryReader): PendingCommittable<C> {
      const checkpointId = input.readFloat64();
      return { checkpointId, committable: inner.deserialize(input) };
    },
    canRead(id: string, version: number): boolean {
      if (!id.startsWith(prefix)) return false;
      const innerId = id.slice(prefix.length);
      return inner.canRead?.(innerId, version) ?? (innerId === inner.id && version === inner.version);
    },
  };
}

/**
 * Runs a {@link TwoPhaseCommittingSink}: records go to the writer; at each barrier the writer
 * pre-commits and the handles are kept per checkpoint id in operator list state; on
 * `notifyCheckpointComplete(n)` every handle of a checkpoint `<= n` is committed (handles of
 * aborted checkpoints wait for the next completed one). On restore the restored handles are
 * committed first (their checkpoint completed), then lingering transactions are aborted, and
 * only then is the writer created. At end of input the last transaction is pre-committed and
 * committed once a checkpoint covering the end of input completes (or at once when no
 * checkpoint will come).
 */
export class CommittingSinkOperator<T, C>
  extends AbstractStreamOperator<never>
  implements OneInputStreamOperator<T, never>
{
  readonly #sink: TwoPhaseCommittingSink<T, C>;
  #writer: CommittingSinkWriter<T, C> | undefined;
  #committer: Committer<C> | undefined;
  #state!: ListState<PendingCommittable<C>>;
  #info!: ListState<WriterInfo>;
  #lineage = '';
  /** Handles pre-committed and not yet committed, by checkpoint id (inserted in increasing id order). */
  readonly #pending = new Map<number, C[]>();
  /** The id of the last pre-commit (the restored id after a restore, 0 on a fresh start). */
  #lastPreparedId = 0;
  #finalWaiter: (() => void) | undefined;

  constructor(sink: TwoPhaseCommittingSink<T, C>) {
    super();
    this.#sink = sink;
  }

  override async open(): Promise<void> {
    const store = this.context.operatorStateStore;
    const serializer = this.#sink.committableSerializer;
    this.#state = store.getListState(
      listState<PendingCommittable<C>>(PENDING_STATE, {
        serializer: serializer === undefined ? undefined : pendingSerializer(serializer),
      }),
    );
    this.#info = store.getUnionListState(WRITER_INFO);
    const infos = this.context.isRestored ? this.#info.get() : [];
    const restoredCheckpointId =
      infos.length === 0 ? undefined : Math.max(...infos.map((i) => i.checkpointId));
    // A new lineage only on a fresh start (each subtask draws its own); a restore continues the
    // smallest restored one, so that every subtask picks the same.
    const restoredLineages = [...new Set(infos.map((i) => i.lineage))].sort();
    this.#lineage = restoredLineages[0] ?? randomUUID().slice(0, 8);
    const context: SinkWriterContext = {
      jobName: this.context.jobName,
      operatorName: this.context.operatorName,
      operatorId: this.context.operatorId,
      subtaskIndex: this.context.subtaskIndex,
      parallelism: this.context.parallelism,
      restoredCheckpointId,
      restoredParallelism: infos[0]?.parallelism,
      lineageId: this.#lineage,
      checkpointIntervalMs: this.context.checkpointing?.intervalMs,
      checkpointTimeoutMs: this.context.checkpointing?.timeoutMs,
    };
    this.#committer = await this.#sink.createCommitter(context);
    const restored = this.context.isRestored ? this.#state.get() : [];
    if (restored.length > 0) {
      const ordered = [...restored].sort((a, b) => a.checkpointId - b.checkpointId);
      await this.#committer.commit(ordered.map((p) => p.committable));
    }
    this.#state.clear();
    await this.#committer.abortLingering(lingeringContext(context, restoredLineages));
    this.#writer = await this.#sink.createWriter(context);
    this.#lastPreparedId = restoredCheckpointId ?? 0;
  }

  processElement(value: T, timestamp: number): void {
    this.#writer!.write(value, timestamp === NO_TIMESTAMP ? undefined : timestamp);
  }

  afterBatch(): undefined | Promise<void> {
    return this.#writer!.flush(false) ?? undefined;
  }

  prepareSnapshotPreBarrier(checkpointId: number): Promise<void> {
    return this.#prepare(checkpointId);
  }

  snapshotState(checkpointId: number): void {
    const entries: PendingCommittable<C>[] = [];
    for (const [id, committables] of this.#pending) {
      for (const committable of committables) entries.push({ checkpointId: id, committable });
    }
    this.#state.update(entries);
    this.#info.update([
      {
        subtask: this.context.subtaskIndex,
        parallelism: this.context.parallelism,
        // The final snapshot (id 0) records the id its last transaction was pre-committed for.
        checkpointId: checkpointId > 0 ? checkpointId : this.#lastPreparedId,
        lineage: this.#lineage,
      },
    ]);
  }

  notifyCheckpointComplete(checkpointId: number): undefined | Promise<void> {
    const due: number[] = [];
    for (const id of this.#pending.keys()) if (id <= checkpointId) due.push(id);
    if (due.length === 0) return undefined;
    return this.#commit(due);
  }

  override async finish(): Promise<void> {
    const writer = this.#writer!;
    await writer.flush(true);
    await this.#prepare(this.#lastPreparedId + 1);
  }

  awaitFinalCheckpoint(checkpointsFollow: boolean): undefined | Promise<void> {
    if (this.#pending.size === 0) return undefined;
    if (!checkpointsFollow) return this.#commit([...this.#pending.keys()]);
    return new Promise((resolve) => {
      this.#finalWaiter = resolve;
    });
  }

  override async close(): Promise<void> {
    try {
      await this.#writer?.close();
    } finally {
      await this.#committer?.close();
    }
  }

  async #prepare(checkpointId: number): Promise<void> {
    if (checkpointId <= this.#lastPreparedId) {
      throw new Error(`pre-commit for checkpoint ${checkpointId} after one for ${this.#lastPreparedId}`);
    }
    const writer = this.#writer!;
    await writer.flush(false);
    const committables = await writer.prepareCommit(checkpointId);
    this.#lastPreparedId = checkpointId;
    if (committables.length > 0) this.#pending.set(checkpointId, [...committables]);
  }

  async #commit(ids: readonly number[]): Promise<void> {
    const committables = ids.flatMap((id) => this.#pending.get(id) ?? []);
    await this.#committer!.commit(committables);
    // Dropped only once committed: a failed commit is retried from the checkpoint after a restore.
    for (const id of ids) this.#pending.delete(id);
    if (this.#pending.size === 0 && this.#finalWaiter !== undefined) {
      const resolve = this.#finalWaiter;
      this.#finalWaiter = undefined;
      resolve();
    }
  }
}
