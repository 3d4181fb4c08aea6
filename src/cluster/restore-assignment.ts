/** Maps a checkpoint's or savepoint's state onto the operators and subtasks of the job about to run. */

import type { LocalStateReader } from '../checkpoint/local-recovery/local-state-reader.ts';
import type {
  CheckpointMetadata,
  KeyedStateHandle,
  OperatorSnapshot,
  StateFileHandle,
} from '../checkpoint/snapshot-handles.ts';
import type { CheckpointStorage } from '../checkpoint/storage/checkpoint-storage.ts';
import { ConfigurationError, JobDefinitionError } from '../core/errors.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import type { OperatorRestore } from '../runtime/tasks/task-checkpointing.ts';
import { computeKeyGroupRange } from '../state/key-groups.ts';
import {
  type KeyedStateFileContents,
  type OperatorStateContents,
  readKeyedStateFile,
  readOperatorStateFile,
  redistributeOperatorState,
} from '../state/snapshot/index.ts';
import { materializeKeyedChangelog, readKeyedChangelog } from '../state/snapshot/keyed-changelog-format.ts';

/** Restored state per vertex id, per subtask index, per operator id. */
export type RestoreAssignment = ReadonlyMap<number, readonly ReadonlyMap<string, OperatorRestore>[]>;

export interface RestoreSource {
  readonly pointer: string;
  readonly metadata: CheckpointMetadata;
  readonly storage: CheckpointStorage;
  /** Local recovery: verified local copies, preferred to checkpoint storage file by file. */
  readonly local?: LocalStateReader;
}

export async function assignRestoredState(
  source: RestoreSource,
  jobGraph: JobGraph,
  allowNonRestoredState: boolean,
): Promise<RestoreAssignment> {
  const { metadata } = source;
  const byOperatorId = new Map(metadata.operators.map((op) => [op.operatorId, op]));
  checkCompatibility(source, jobGraph, byOperatorId, allowNonRestoredState);
  const files = new Map<string, Promise<Uint8Array>>();
  const read = (handle: StateFileHandle): Promise<Uint8Array> => {
    let bytes = files.get(handle.relativePath);
    if (bytes === undefined) {
      const local = source.local;
      bytes =
        local === undefined
          ? source.storage.readFile(source.pointer, handle)
          : local.read(handle).then((copy) => copy ?? source.storage.readFile(source.pointer, handle));
      files.set(handle.relativePath, bytes);
    }
    return bytes;
  };
  const assignment = new Map<number, Map<string, OperatorRestore>[]>();
  for (const vertex of jobGraph.vertices) {
    const perSubtask = Array.from({ length: vertex.parallelism }, () => new Map<string, OperatorRestore>());
    for (const member of vertex.members) {
      const snapshot = byOperatorId.get(member.operatorId);
      if (snapshot === undefined) continue;
      const operatorStates = await redistribute(snapshot, vertex.parallelism, source, read);
      for (let i = 0; i < vertex.parallelism; i++) {
        const range = computeKeyGroupRange(metadata.maxParallelism, vertex.parallelism, i);
        const keyedParts: KeyedStateFileContents[] = [];
        for (const old of snapshot.subtasks) {
          const keyed = old.keyed;
          if (keyed === undefined) continue;
          const start = Math.max(range.start, keyed.keyGroupRange.start);
          const end = Math.min(range.end, keyed.keyGroupRange.end);
          if (start > end) continue;
          keyedParts.push(await readKeyedPart(keyed, { start, end }, source, read));
        }
        perSubtask[i].set(member.operatorId, { keyedParts, operatorState: operatorStates?.[i] });
      }
    }
    assignment.set(vertex.id, perSubtask);
  }
  return assignment;
}

/** The key groups `wanted` of one old subtask: a full file's sections, or an incremental chain folded into the same. */
async function readKeyedPart(
  keyed: KeyedStateHandle,
  wanted: { readonly start: number; readonly end: number },
  source: RestoreSource,
  read: (handle: StateFileHandle) => Promise<Uint8Array>,
): Promise<KeyedStateFileContents> {
  if (keyed.kind !== 'incremental') {
    return readKeyedStateFile(await read(keyed.file), pathOf(source, keyed.file), wanted);
  }
  const chain = [];
  // One file at a time: each is verified (size, CRC-32C) by the storage, which names its path.
  for (const file of keyed.files) chain.push(readKeyedChangelog(await read(file), pathOf(source, file)));
  return materializeKeyedChangelog(chain, wanted);
}

async function redistribute(
  snapshot: OperatorSnapshot,
  newParallelism: number,
  source: RestoreSource,
  read: (handle: StateFileHandle) => Promise<Uint8Array>,
): Promise<OperatorStateContents[] | undefined> {
  if (snapshot.subtasks.every((s) => s.operatorState === undefined)) return undefined;
  const old: OperatorStateContents[] = [];
  for (const subtask of snapshot.subtasks) {
    const handle = subtask.operatorState;
    old.push(
      handle === undefined
        ? { lists: [], broadcasts: [] }
        : readOperatorStateFile(await read(handle), pathOf(source, handle)),
    );
  }
  return redistributeOperatorState(old, newParallelism);
}

function checkCompatibility(
  source: RestoreSource,
  jobGraph: JobGraph,
  byOperatorId: ReadonlyMap<string, OperatorSnapshot>,
  allowNonRestoredState: boolean,
): void {
  const { metadata } = source;
  if (metadata.maxParallelism !== jobGraph.maxParallelism) {
    throw new ConfigurationError(
      `${source.pointer} was taken with max parallelism ${metadata.maxParallelism}, but the job now has ${jobGraph.maxParallelism}; key groups cannot be remapped: set maxParallelism to ${metadata.maxParallelism}`,
    );
  }
  const known = new Set(jobGraph.vertices.flatMap((v) => v.members.map((m) => m.operatorId)));
  const unmatched = [...byOperatorId.values()].filter(
    (op) =>
      !known.has(op.operatorId) &&
      op.subtasks.some((s) => s.keyed !== undefined || s.operatorState !== undefined),
  );
  if (unmatched.length > 0 && !allowNonRestoredState) {
    const list = unmatched.map((op) => `'${op.operatorId}' (${op.operatorName})`).join(', ');
    throw new JobDefinitionError(
      `${source.pointer} holds state of operators the job no longer has: ${list}. Give the operators the same uid() as before, or drop that state with --allow-non-restored-state (allowNonRestoredState: true in the API)`,
    );
  }
}

function pathOf(source: RestoreSource, handle: StateFileHandle): string {
  return `${source.pointer.replace(/\/$/, '')}/${handle.relativePath}`;
}
