/** A checkpoint in flight: triggered, collecting one acknowledgement per subtask. */
import type { AcknowledgeResult, SubtaskAcknowledgement, SubtaskId } from './checkpoint-messages.ts';
import { subtaskKey } from './checkpoint-messages.ts';
import type {
  CheckpointMetadata,
  OperatorSnapshot,
  OperatorSubtaskSnapshot,
  SnapshotKind,
} from './snapshot-handles.ts';

export type PendingStatus = 'in-progress' | 'discarded';

export class PendingCheckpoint {
  readonly checkpointId: number;
  readonly kind: SnapshotKind;
  readonly triggerTimestampMs: number;
  readonly #notYetAcknowledged: Set<string>;
  readonly #acknowledgements: SubtaskAcknowledgement[] = [];
  #status: PendingStatus = 'in-progress';
  #alignmentDurationMsMax = 0;
  #syncDurationMsMax = 0;
  #asyncDurationMsMax = 0;
  #stateSizeBytes = 0;

  constructor(
    checkpointId: number,
    kind: SnapshotKind,
    triggerTimestampMs: number,
    subtasks: readonly SubtaskId[],
  ) {
    if (!(checkpointId >= 1)) throw new Error(`checkpoint ids start at 1, got ${checkpointId}`);
    this.checkpointId = checkpointId;
    this.kind = kind;
    this.triggerTimestampMs = triggerTimestampMs;
    this.#notYetAcknowledged = new Set(subtasks.map(subtaskKey));
  }

  get status(): PendingStatus {
    return this.#status;
  }

  get acknowledgedCount(): number {
    return this.#acknowledgements.length;
  }

  get pendingCount(): number {
    return this.#notYetAcknowledged.size;
  }

  get alignmentDurationMsMax(): number {
    return this.#alignmentDurationMsMax;
  }

  /** The longest synchronous part of any subtask: how long processing stopped for the snapshot. */
  get syncDurationMsMax(): number {
    return this.#syncDurationMsMax;
  }

  get asyncDurationMsMax(): number {
    return this.#asyncDurationMsMax;
  }

  get stateSizeBytes(): number {
    return this.#stateSizeBytes;
  }

  isFullyAcknowledged(): boolean {
    return this.#status === 'in-progress' && this.#notYetAcknowledged.size === 0;
  }

  acknowledge(ack: SubtaskAcknowledgement): AcknowledgeResult {
    if (this.#status === 'discarded') return 'discarded';
    const key = subtaskKey(ack.subtask);
    if (!this.#notYetAcknowledged.delete(key)) {
      return this.#acknowledgements.some((a) => subtaskKey(a.subtask) === key) ? 'duplicate' : 'unknown';
    }
    this.#acknowledgements.push(ack);
    this.#alignmentDurationMsMax = Math.max(this.#alignmentDurationMsMax, ack.stats.alignmentDurationMs);
    this.#syncDurationMsMax = Math.max(this.#syncDurationMsMax, ack.stats.syncDurationMs);
    this.#asyncDurationMsMax = Math.max(this.#asyncDurationMsMax, ack.stats.asyncDurationMs);
    this.#stateSizeBytes += ack.stats.stateSizeBytes;
    return 'success';
  }

  discard(): void {
    this.#status = 'discarded';
  }

  /** The metadata of the completed checkpoint; only when fully acknowledged. */
  toMetadata(
    jobId: string,
    jobName: string,
    maxParallelism: number,
    completedTimestampMs: number,
  ): CheckpointMetadata {
    if (!this.isFullyAcknowledged())
      throw new Error(`checkpoint ${this.checkpointId} is not fully acknowledged`);
    const byOperator = new Map<
      string,
      { name: string; uid: string | undefined; parallelism: number; subtasks: OperatorSubtaskSnapshot[] }
    >();
    for (const ack of this.#acknowledgements) {
      for (const op of ack.operators) {
        let entry = byOperator.get(op.operatorId);
        if (entry === undefined) {
          entry = { name: op.operatorName, uid: op.uid, parallelism: op.parallelism, subtasks: [] };
          byOperator.set(op.operatorId, entry);
        }
        entry.subtasks.push(op.snapshot);
      }
    }
    const operators: OperatorSnapshot[] = [...byOperator].map(([operatorId, e]) => {
      const subtasks = e.subtasks.sort((a, b) => a.subtaskIndex - b.subtaskIndex);
      if (subtasks.length !== e.parallelism) {
        throw new Error(
          `operator ${operatorId}: ${subtasks.length} subtask snapshots for parallelism ${e.parallelism}`,
        );
      }
      return {
        operatorId,
        operatorName: e.name,
        ...(e.uid === undefined ? {} : { uid: e.uid }),
        parallelism: e.parallelism,
        subtasks,
      };
    });
    return {
      formatVersion: operators.some((op) => op.subtasks.some((s) => s.keyed?.kind === 'incremental')) ? 2 : 1,
      jobId,
      jobName,
      checkpointId: this.checkpointId,
      kind: this.kind,
      triggerTimestampMs: this.triggerTimestampMs,
      completedTimestampMs,
      maxParallelism,
      operators,
    };
  }
}
