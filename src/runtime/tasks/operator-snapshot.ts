/** One operator's part of a checkpoint: a synchronous copy-on-write view, then files written asynchronously. */

import type { OperatorSubtaskSnapshot } from '../../checkpoint/snapshot-handles.ts';
import { stateFileName } from '../../checkpoint/storage/state-file-names.ts';
import type { HeapOperatorStateStore } from '../../state/backends/heap/heap-operator-state-store.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import {
  collectTimers,
  type KeyedStateFile,
  type KeyedStateSnapshot,
  type OperatorStateContents,
  type TimerSnapshotEntry,
  writeKeyedStateFileInSlices,
  writeOperatorStateFile,
} from '../../state/snapshot/index.ts';
import type { KeyedTimerService } from '../timers/keyed-timer-service.ts';
import type { CheckpointLocationWriter } from './task-checkpointing.ts';

/** What the synchronous part captured of one operator. */
export interface OperatorSyncSnapshot {
  readonly operatorId: string;
  readonly keyed: KeyedStateSnapshot | undefined;
  readonly timers: TimerSnapshotEntry[];
  readonly operatorState: OperatorStateContents;
}

/** Serialized bytes of one operator's snapshot, ready to be written into any checkpoint location. */
export interface SerializedOperatorSnapshot {
  readonly operatorId: string;
  readonly keyed: KeyedStateFile | undefined;
  readonly keyGroupRange: { readonly start: number; readonly end: number } | undefined;
  readonly operatorState: Uint8Array | undefined;
}

export function takeOperatorSnapshot(
  operatorId: string,
  backend: KeyedStateBackend | undefined,
  timerServices: Iterable<KeyedTimerService>,
  carriedTimers: readonly TimerSnapshotEntry[],
  operatorStateStore: HeapOperatorStateStore,
): OperatorSyncSnapshot {
  let timers: TimerSnapshotEntry[] = [...carriedTimers];
  for (const service of timerServices) timers = collectTimers(service.name, service, timers);
  return {
    operatorId,
    keyed: backend?.snapshot(),
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
    const hasOperatorState = sync.operatorState.lists.length > 0 || sync.operatorState.broadcasts.length > 0;
    return {
      operatorId: sync.operatorId,
      keyed,
      keyGroupRange: sync.keyed?.keyGroupRange,
      operatorState: hasOperatorState ? writeOperatorStateFile(sync.operatorState) : undefined,
    };
  } finally {
    sync.keyed?.release();
  }
}

/** Writes serialized bytes into a checkpoint location; returns the handles for `_metadata`. */
export async function writeOperatorSnapshot(
  serialized: SerializedOperatorSnapshot,
  location: CheckpointLocationWriter,
  subtaskIndex: number,
  finished: boolean,
): Promise<{ readonly snapshot: OperatorSubtaskSnapshot; readonly sizeBytes: number }> {
  const { operatorId } = serialized;
  const [keyedFile, operatorFile] = await Promise.all([
    serialized.keyed === undefined
      ? undefined
      : location.writeFile(stateFileName(operatorId, subtaskIndex, 'keyed'), serialized.keyed.bytes),
    serialized.operatorState === undefined
      ? undefined
      : location.writeFile(stateFileName(operatorId, subtaskIndex, 'operator'), serialized.operatorState),
  ]);
  const snapshot: OperatorSubtaskSnapshot = {
    subtaskIndex,
    keyed:
      keyedFile === undefined
        ? undefined
        : {
            file: keyedFile,
            keyGroupRange: serialized.keyGroupRange!,
            keyGroupOffsets: serialized.keyed!.keyGroupOffsets,
          },
    operatorState: operatorFile,
    finished,
  };
  return { snapshot, sizeBytes: (keyedFile?.sizeBytes ?? 0) + (operatorFile?.sizeBytes ?? 0) };
}
