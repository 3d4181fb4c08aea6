/** One operator's part of a checkpoint: a synchronous copy-on-write view, then files written asynchronously. */

import { randomUUID } from 'node:crypto';
import type {
  ChangelogFileHandle,
  KeyedStateHandle,
  OperatorSubtaskSnapshot,
  StateFileHandle,
} from '../../checkpoint/snapshot-handles.ts';
import type { StateFileSink } from '../../checkpoint/storage/checkpoint-storage.ts';
import { sharedStateFileName, stateFileName } from '../../checkpoint/storage/state-file-names.ts';
import type { HeapOperatorStateStore } from '../../state/backends/heap/heap-operator-state-store.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import {
  collectTimers,
  type KeyedStateFile,
  type KeyedStateSnapshot,
  type OperatorStateContents,
  type TimerSnapshotEntry,
  writeKeyedStateFileInParts,
  writeKeyedStateFileInSlices,
  writeOperatorStateFile,
} from '../../state/snapshot/index.ts';
import {
  type IncrementalKeyedStateSnapshot,
  writeKeyedChangelogInParts,
  writeKeyedChangelogInSlices,
} from '../../state/snapshot/keyed-changelog-format.ts';
import type { KeyedTimerService } from '../timers/keyed-timer-service.ts';
import type { CheckpointLocationWriter } from './task-checkpointing.ts';

/** What the synchronous part captured of one operator. */
export interface OperatorSyncSnapshot {
  readonly operatorId: string;
  readonly keyed: KeyedStateSnapshot | undefined;
  /** Instead of `keyed`, when the backend takes incremental checkpoints. */
  readonly incremental?: IncrementalKeyedStateSnapshot;
  readonly timers: TimerSnapshotEntry[];
  readonly operatorState: OperatorStateContents;
}

/** Serialized bytes of one operator's snapshot, ready to be written into any checkpoint location. */
export interface SerializedOperatorSnapshot {
  readonly operatorId: string;
  readonly keyed: KeyedStateFile | undefined;
  /** A keyed changelog file for `shared/` and the snapshot it came from (incremental checkpoints). */
  readonly incremental?: { readonly bytes: Uint8Array; readonly snapshot: IncrementalKeyedStateSnapshot };
  readonly keyGroupRange: { readonly start: number; readonly end: number } | undefined;
  readonly operatorState: Uint8Array | undefined;
}

export function takeOperatorSnapshot(
  operatorId: string,
  backend: KeyedStateBackend | undefined,
  timerServices: Iterable<KeyedTimerService>,
  carriedTimers: readonly TimerSnapshotEntry[],
  operatorStateStore: HeapOperatorStateStore,
  incrementalCheckpointId?: number,
): OperatorSyncSnapshot {
  let timers: TimerSnapshotEntry[] = [...carriedTimers];
  for (const service of timerServices) timers = collectTimers(service.name, service, timers);
  // Savepoints and final snapshots pass no id: they are always full and canonical.
  const incremental =
    incrementalCheckpointId === undefined
      ? undefined
      : backend?.snapshotIncremental?.(incrementalCheckpointId);
  return {
    operatorId,
    keyed: incremental === undefined ? backend?.snapshot() : undefined,
    incremental,
    timers,
    operatorState: operatorStateStore.snapshot(),
  };
}

/** Serializes a view (off the record path: in slices that yield to the event loop); releases it. */
export async function serializeOperatorSnapshot(
  sync: OperatorSyncSnapshot,
): Promise<SerializedOperatorSnapshot> {
  try {
    const keyed =
      sync.keyed === undefined ? undefined : await writeKeyedStateFileInSlices(sync.keyed, sync.timers);
    const incremental =
      sync.incremental === undefined
        ? undefined
        : {
            bytes: await writeKeyedChangelogInSlices(sync.incremental, sync.timers),
            snapshot: sync.incremental,
          };
    const hasOperatorState = sync.operatorState.lists.length > 0 || sync.operatorState.broadcasts.length > 0;
    return {
      operatorId: sync.operatorId,
      keyed,
      incremental,
      keyGroupRange: sync.keyed?.keyGroupRange ?? sync.incremental?.keyGroupRange,
      operatorState: hasOperatorState ? writeOperatorStateFile(sync.operatorState) : undefined,
    };
  } finally {
    sync.keyed?.release();
    sync.incremental?.release();
  }
}

/**
 * The asynchronous part of a checkpoint in one go: serializes the view straight into the
 * location's files, in parts (`STATE_FILE_PART_BYTES`), so a large state is never whole in
 * memory; releases the view. Returns what `writeOperatorSnapshot` returns.
 */
export async function writeOperatorSnapshotInParts(
  sync: OperatorSyncSnapshot,
  location: CheckpointLocationWriter,
  subtaskIndex: number,
  finished: boolean,
  checkpointId: number,
): Promise<{ readonly snapshot: OperatorSubtaskSnapshot; readonly sizeBytes: number }> {
  const { operatorId, operatorState } = sync;
  try {
    const hasOperatorState = operatorState.lists.length > 0 || operatorState.broadcasts.length > 0;
    const [keyed, operatorFile] = await Promise.all([
      writeKeyedStateInParts(sync, location, subtaskIndex, checkpointId),
      hasOperatorState
        ? location.writeFile(
            stateFileName(operatorId, subtaskIndex, 'operator'),
            writeOperatorStateFile(operatorState),
          )
        : undefined,
    ]);
    if (keyed !== undefined) sync.incremental?.written(keyed.uploaded);
    return subtaskSnapshot(subtaskIndex, finished, keyed, operatorFile);
  } finally {
    sync.keyed?.release();
    sync.incremental?.release();
  }
}

async function writeKeyedStateInParts(
  sync: OperatorSyncSnapshot,
  location: CheckpointLocationWriter,
  subtaskIndex: number,
  checkpointId: number,
): Promise<{ readonly handle: KeyedStateHandle; readonly uploaded: ChangelogFileHandle } | undefined> {
  const { operatorId, incremental, keyed } = sync;
  if (incremental !== undefined) {
    const file = await location.openSharedFile(
      sharedStateFileName(operatorId, subtaskIndex, checkpointId, randomUUID().slice(0, 8)),
    );
    let keyGroupOffsets: readonly number[] = [];
    const written = await writingTo(file, async () => {
      ({ keyGroupOffsets } = await writeKeyedChangelogInParts(file, incremental, sync.timers));
    });
    const uploaded: ChangelogFileHandle = { ...written, keyGroupOffsets };
    return { handle: incrementalHandle(incremental, uploaded), uploaded };
  }
  if (keyed === undefined) return undefined;
  const file = await location.openFile(stateFileName(operatorId, subtaskIndex, 'keyed'));
  let keyGroupOffsets: readonly number[] = [];
  const uploaded = await writingTo(file, async () => {
    ({ keyGroupOffsets } = await writeKeyedStateFileInParts(file, keyed, sync.timers));
  });
  return { handle: { file: uploaded, keyGroupRange: keyed.keyGroupRange, keyGroupOffsets }, uploaded };
}

/** Runs `write` into `file`, then closes it; gives the file up if anything fails. */
async function writingTo(file: StateFileSink, write: () => Promise<unknown>): Promise<StateFileHandle> {
  try {
    await write();
  } catch (error) {
    await file.abort();
    throw error;
  }
  return file.close();
}

function incrementalHandle(
  incremental: IncrementalKeyedStateSnapshot,
  uploaded: ChangelogFileHandle,
): KeyedStateHandle {
  const files: ChangelogFileHandle[] = [...incremental.reusedFiles, uploaded];
  return { kind: 'incremental', keyGroupRange: incremental.keyGroupRange, files };
}

function subtaskSnapshot(
  subtaskIndex: number,
  finished: boolean,
  keyed: { readonly handle: KeyedStateHandle; readonly uploaded: StateFileHandle } | undefined,
  operatorFile: StateFileHandle | undefined,
): { readonly snapshot: OperatorSubtaskSnapshot; readonly sizeBytes: number } {
  const snapshot: OperatorSubtaskSnapshot = {
    subtaskIndex,
    keyed: keyed?.handle,
    operatorState: operatorFile,
    finished,
  };
  return { snapshot, sizeBytes: (keyed?.uploaded.sizeBytes ?? 0) + (operatorFile?.sizeBytes ?? 0) };
}

/**
 * Writes serialized bytes into a checkpoint location; returns the handles for `_metadata`.
 * `sizeBytes` counts only what this checkpoint uploaded (for an incremental snapshot, the new
 * changelog file and the operator state file): what "incremental" saves.
 */
export async function writeOperatorSnapshot(
  serialized: SerializedOperatorSnapshot,
  location: CheckpointLocationWriter,
  subtaskIndex: number,
  finished: boolean,
  checkpointId: number,
): Promise<{ readonly snapshot: OperatorSubtaskSnapshot; readonly sizeBytes: number }> {
  const [keyed, operatorFile] = await Promise.all([
    writeKeyedState(serialized, location, subtaskIndex, checkpointId),
    serialized.operatorState === undefined
      ? undefined
      : location.writeFile(
          stateFileName(serialized.operatorId, subtaskIndex, 'operator'),
          serialized.operatorState,
        ),
  ]);
  // Only once every file of the subtask is written: a failed write leaves the backend's chain as it was.
  if (keyed !== undefined) serialized.incremental?.snapshot.written(keyed.uploaded);
  return subtaskSnapshot(subtaskIndex, finished, keyed, operatorFile);
}

/**
 * Writes the keyed state file, or an incremental snapshot's new changelog file into
 * `shared/`; returns the handle (for incremental, the whole chain) and the file uploaded.
 */
async function writeKeyedState(
  serialized: SerializedOperatorSnapshot,
  location: CheckpointLocationWriter,
  subtaskIndex: number,
  checkpointId: number,
): Promise<{ readonly handle: KeyedStateHandle; readonly uploaded: StateFileHandle } | undefined> {
  const { operatorId, incremental } = serialized;
  if (incremental !== undefined) {
    const name = sharedStateFileName(operatorId, subtaskIndex, checkpointId, randomUUID().slice(0, 8));
    const uploaded = await location.writeSharedFile(name, incremental.bytes);
    return { handle: incrementalHandle(incremental.snapshot, uploaded), uploaded };
  }
  if (serialized.keyed === undefined) return undefined;
  const uploaded = await location.writeFile(
    stateFileName(operatorId, subtaskIndex, 'keyed'),
    serialized.keyed.bytes,
  );
  return {
    handle: {
      file: uploaded,
      keyGroupRange: serialized.keyGroupRange!,
      keyGroupOffsets: serialized.keyed.keyGroupOffsets,
    },
    uploaded,
  };
}
