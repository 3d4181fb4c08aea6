/** Messages between subtasks and the checkpoint coordinator. */
import type { OperatorSubtaskSnapshot } from './snapshot-handles.ts';

export interface SubtaskId {
  readonly vertexId: number;
  readonly subtaskIndex: number;
}

export interface OperatorSubtaskAcknowledgement {
  readonly operatorId: string;
  readonly operatorName: string;
  /** The user's uid, when the operator has one (the id is then equal to it). */
  readonly uid?: string;
  readonly parallelism: number;
  readonly snapshot: OperatorSubtaskSnapshot;
}

export interface SubtaskCheckpointStats {
  readonly alignmentDurationMs: number;
  readonly syncDurationMs: number;
  readonly asyncDurationMs: number;
  readonly stateSizeBytes: number;
}

export interface SubtaskAcknowledgement {
  readonly checkpointId: number;
  readonly subtask: SubtaskId;
  readonly operators: readonly OperatorSubtaskAcknowledgement[];
  readonly stats: SubtaskCheckpointStats;
}

export interface SubtaskDecline {
  readonly checkpointId: number;
  readonly subtask: SubtaskId;
  readonly reason: string;
  readonly cause?: unknown;
}

/** How `PendingCheckpoint.acknowledge` went: outcomes are values, not exceptions. */
export type AcknowledgeResult = 'success' | 'duplicate' | 'unknown' | 'discarded';

export function subtaskKey(subtask: SubtaskId): string {
  return `${subtask.vertexId}/${subtask.subtaskIndex}`;
}
