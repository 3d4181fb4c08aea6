/** Handles to what a checkpoint wrote: files with size and checksum, and what each operator subtask stored. */
import type { KeyGroupRange } from '../state/key-group-range.ts';

/** One file of a checkpoint, relative to the checkpoint's directory (so savepoints can move). */
export interface StateFileHandle {
  readonly relativePath: string;
  readonly sizeBytes: number;
  /** CRC-32C of the whole file as written (the file also carries its own trailer checksum). */
  readonly crc32c: number;
}

/** Keyed state of one operator subtask: one file, one section per key group of its range (full, canonical). */
export interface KeyGroupsStateHandle {
  /** Absent in metadata written before format version 2. */
  readonly kind?: 'key-groups';
  readonly file: StateFileHandle;
  readonly keyGroupRange: KeyGroupRange;
  /** Byte offset of each key group's section, indexed by `keyGroup - keyGroupRange.start`; `offsets[n]` is the end. */
  readonly keyGroupOffsets: readonly number[];
}

/**
 * Keyed state of one operator subtask in an incremental checkpoint: a chain of keyed
 * changelog files (`WEIRKCHG`) in the job's `shared/` directory, a base first, then the
 * deltas in checkpoint order. Restore folds the chain (`foldKeyedChangelogStreams`).
 */
export interface IncrementalKeyedStateHandle {
  readonly kind: 'incremental';
  readonly keyGroupRange: KeyGroupRange;
  /** Relative paths `../shared/<name>`; the first is the base. */
  readonly files: readonly ChangelogFileHandle[];
}

/** A keyed changelog file of a chain. */
export interface ChangelogFileHandle extends StateFileHandle {
  /**
   * Byte offset of each key group's section, by `keyGroup - keyGroupRange.start`; the last is
   * where the trailer starts. So a rescaled restore reads only its key groups. Absent in
   * checkpoints taken before 2026-11-27 (those files are read from their start).
   */
  readonly keyGroupOffsets?: readonly number[];
}

/** Either kind of keyed state handle. */
export type KeyedStateHandle = KeyGroupsStateHandle | IncrementalKeyedStateHandle;

/** The files a keyed state handle references, in restore order. */
export function keyedStateFiles(handle: KeyedStateHandle): readonly StateFileHandle[] {
  return handle.kind === 'incremental' ? handle.files : [handle.file];
}

/** What one subtask of one operator contributed to a checkpoint. */
export interface OperatorSubtaskSnapshot {
  readonly subtaskIndex: number;
  readonly keyed: KeyedStateHandle | undefined;
  readonly operatorState: StateFileHandle | undefined;
  /** The subtask had finished (end of input) when the checkpoint was taken. */
  readonly finished: boolean;
}

/** Everything one operator (all its subtasks) stored in a checkpoint. */
export interface OperatorSnapshot {
  /** Identity for restore: the `.uid()` when given, else a stable hash of the graph position. */
  readonly operatorId: string;
  readonly operatorName: string;
  /**
   * The user's `.uid('…')` when the operator had one (then equal to `operatorId`); absent for a
   * generated id. Optional and informational: `weir inspect` shows it.
   */
  readonly uid?: string;
  readonly parallelism: number;
  readonly subtasks: readonly OperatorSubtaskSnapshot[];
}

/** A checkpoint is taken automatically for recovery; a savepoint is triggered by a user and is self-contained. */
export type SnapshotKind = 'checkpoint' | 'savepoint';

/**
 * The state of an operator coordinator (a source's split enumerator: the splits it has not
 * assigned yet), taken in the job manager when the checkpoint was triggered. Small by design,
 * so it lives inside `_metadata` (format version 2) rather than in a file of its own.
 */
export interface CoordinatorStateHandle {
  readonly operatorId: string;
  readonly operatorName: string;
  /** The serializer that wrote `bytes`, so a restore can refuse one that cannot read them. */
  readonly serializerId: string;
  readonly serializerVersion: number;
  readonly bytes: Uint8Array;
}

/** The content of `_metadata`: a checkpoint exists exactly when this was committed. */
export interface CheckpointMetadata {
  /** The layout it was read from (1: before coordinator state); always written as the current one. */
  readonly formatVersion: 1 | 2;
  readonly jobId: string;
  readonly jobName: string;
  readonly checkpointId: number;
  readonly kind: SnapshotKind;
  readonly triggerTimestampMs: number;
  readonly completedTimestampMs: number;
  readonly maxParallelism: number;
  readonly operators: readonly OperatorSnapshot[];
  /** Coordinator (split enumerator) states by operator; absent or empty when there are none, always absent in version 1. */
  readonly coordinators?: readonly CoordinatorStateHandle[];
}

/**
 * Every file a checkpoint references, in metadata order (operator, subtask, keyed before
 * operator state).
 *
 * @example
 * ```ts
 * for (const file of referencedStateFiles(metadata)) console.log(file.relativePath, file.sizeBytes);
 * ```
 */
export function referencedStateFiles(metadata: CheckpointMetadata): StateFileHandle[] {
  const files: StateFileHandle[] = [];
  for (const operator of metadata.operators) {
    for (const subtask of operator.subtasks) {
      if (subtask.keyed !== undefined) files.push(...keyedStateFiles(subtask.keyed));
      if (subtask.operatorState !== undefined) files.push(subtask.operatorState);
    }
  }
  return files;
}

/**
 * Total bytes of state files a checkpoint references (not counting `_metadata`).
 *
 * @example
 * ```ts
 * console.log(`checkpoint ${metadata.checkpointId}: ${stateSizeBytes(metadata)} bytes`);
 * ```
 */
export function stateSizeBytes(metadata: CheckpointMetadata): number {
  let total = 0;
  for (const file of referencedStateFiles(metadata)) total += file.sizeBytes;
  return total;
}
