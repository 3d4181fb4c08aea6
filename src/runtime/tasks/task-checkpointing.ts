/** What a subtask needs from the job manager to take part in checkpoints, and what it is restored from. */
import type { SubtaskAcknowledgement, SubtaskDecline } from '../../checkpoint/checkpoint-messages.ts';
import type { StateFileHandle } from '../../checkpoint/snapshot-handles.ts';
import type { StateFileSink } from '../../checkpoint/storage/checkpoint-storage.ts';
import type { KeyedStatePart, OperatorStateContents } from '../../state/snapshot/index.ts';
import type { CheckpointingMode } from '../checkpointing/barrier-handler.ts';

/** The part of a checkpoint location a subtask writes into. */
export interface CheckpointLocationWriter {
  writeFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  /** Checkpoints only: an immutable file in the job's `shared/` directory (incremental keyed state). */
  writeSharedFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  /** `writeFile` in parts, for a snapshot too large to hold whole in memory. */
  openFile(name: string): Promise<StateFileSink>;
  openSharedFile(name: string): Promise<StateFileSink>;
}

export interface TaskCheckpointServices {
  readonly mode: CheckpointingMode;
  /**
   * Serialize the state once input has ended, so checkpoints taken after this subtask
   * finished still cover it. Off when no periodic checkpoints are configured.
   */
  readonly keepFinalSnapshot: boolean;
  /** The periodic checkpoint interval (undefined: no periodic checkpoints) and timeout. */
  readonly intervalMs?: number | undefined;
  readonly timeoutMs?: number;
  /** The location of a checkpoint in flight; undefined once it was aborted or completed. */
  locationFor(checkpointId: number): CheckpointLocationWriter | undefined;
  acknowledge(ack: SubtaskAcknowledgement): void;
  decline(decline: SubtaskDecline): void;
}

/** The restored state of one operator in one subtask (already redistributed for its parallelism). */
export interface OperatorRestore {
  readonly keyedParts: readonly KeyedStatePart[];
  readonly operatorState: OperatorStateContents | undefined;
}
