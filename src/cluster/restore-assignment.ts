/** Maps a checkpoint's or savepoint's state onto the operators and subtasks of the job about to run. */

import type { LocalStateReader } from '../checkpoint/local-recovery/local-state-reader.ts';
import type {
  ChangelogFileHandle,
  CheckpointMetadata,
  KeyedStateHandle,
  OperatorSnapshot,
  StateFileHandle,
} from '../checkpoint/snapshot-handles.ts';
import type { ByteRange } from '../checkpoint/storage/checkpoint-file-system.ts';
import type { CheckpointStorage } from '../checkpoint/storage/checkpoint-storage.ts';
import { ConfigurationError, JobDefinitionError } from '../core/errors.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import type { OperatorRestore } from '../runtime/tasks/task-checkpointing.ts';
import type { KeyGroupRange } from '../state/key-group-range.ts';
import { computeKeyGroupRange, keyGroupRangeSize } from '../state/key-groups.ts';
import { ChunkedInput } from '../state/snapshot/chunked-input.ts';
import {
  type KeyedStatePart,
  type OperatorStateContents,
  readOperatorStateFile,
  redistributeOperatorState,
} from '../state/snapshot/index.ts';
import {
  foldKeyedChangelogStreams,
  KEYED_CHANGELOG_HEADER_BYTES,
  type KeyedChangelogStream,
  openKeyedChangelog,
} from '../state/snapshot/keyed-changelog-format.ts';
import { KEYED_STATE_HEADER_BYTES, streamKeyedStateSections } from '../state/snapshot/keyed-state-format.ts';

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
  const local = source.local;
  // Keyed state files are streamed by the task that restores them (a local copy is checked
  // whole first, so a damaged one falls back to checkpoint storage before anything is read).
  const open = async (handle: StateFileHandle, range?: ByteRange): Promise<ChunkedInput> => {
    const path = pathOf(source, handle);
    const copy = await local?.open(handle, range);
    const chunks = copy ?? source.storage.readFileChunks(source.pointer, handle, range);
    return new ChunkedInput(chunks, path, range === undefined ? handle.sizeBytes : range.end - range.start);
  };
  const files = new Map<string, Promise<Uint8Array>>();
  const read = (handle: StateFileHandle): Promise<Uint8Array> => {
    let bytes = files.get(handle.relativePath);
    if (bytes === undefined) {
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
        const keyedParts: KeyedStatePart[] = [];
        for (const old of snapshot.subtasks) {
          const keyed = old.keyed;
          if (keyed === undefined) continue;
          const start = Math.max(range.start, keyed.keyGroupRange.start);
          const end = Math.min(range.end, keyed.keyGroupRange.end);
          if (start > end) continue;
          // Local copies are checked now, so the log line after the assignment says where every file comes from.
          if (local !== undefined) for (const file of filesOf(keyed)) await local.verify(file);
          keyedParts.push(keyedPartOf(keyed, { start, end }, metadata.maxParallelism, source, open));
        }
        perSubtask[i].set(member.operatorId, { keyedParts, operatorState: operatorStates?.[i] });
      }
    }
    assignment.set(vertex.id, perSubtask);
  }
  return assignment;
}

/**
 * The key groups `wanted` of one old subtask as a part its new subtask reads when it
 * restores: a full file's sections, or an incremental chain folded key group by key group.
 * Rescaled, a file whose handle has section offsets is read only from the first wanted
 * section to the last (plus its header).
 */
function keyedPartOf(
  keyed: KeyedStateHandle,
  wanted: KeyGroupRange,
  maxParallelism: number,
  source: RestoreSource,
  open: (handle: StateFileHandle, range?: ByteRange) => Promise<ChunkedInput>,
): KeyedStatePart {
  const files = filesOf(keyed);
  const range = keyed.keyGroupRange;
  const offsetsOf = (file: ChangelogFileHandle): readonly number[] | undefined =>
    file.keyGroupOffsets?.length === keyGroupRangeSize(range) + 1 ? file.keyGroupOffsets : undefined;
  // Only the wanted sections, when every file says where they are (and they do not start the file).
  const ranged = wanted.start !== range.start && files.every((file) => offsetsOf(file) !== undefined);
  const openWanted = async (file: ChangelogFileHandle, headerBytes: number) => {
    const offsets = offsetsOf(file)!;
    const header = await open(file, { start: 0, end: headerBytes });
    try {
      const sections = await open(file, {
        start: offsets[wanted.start - range.start],
        end: offsets[wanted.end - range.start + 1],
      });
      return { header, sections };
    } catch (error) {
      await header.close();
      throw error;
    }
  };
  return {
    path: pathOf(source, files[files.length - 1]),
    maxParallelism,
    fileKeyGroupRange: range,
    async *sections() {
      if (keyed.kind !== 'incremental') {
        const expected = { maxParallelism, range };
        if (!ranged) {
          yield* streamKeyedStateSections(await open(keyed.file), wanted, expected);
          return;
        }
        const { header, sections } = await openWanted(files[0], KEYED_STATE_HEADER_BYTES);
        yield* streamKeyedStateSections(header, wanted, expected, sections);
        return;
      }
      const chain: KeyedChangelogStream[] = [];
      try {
        for (const file of keyed.files) {
          if (!ranged) {
            chain.push(await openKeyedChangelog(await open(file)));
            continue;
          }
          const { header, sections } = await openWanted(file, KEYED_CHANGELOG_HEADER_BYTES);
          chain.push(await openKeyedChangelog(header, { sections, keyGroup: wanted.start }));
        }
      } catch (error) {
        await Promise.all(chain.map((file) => file.input.close()));
        throw error;
      }
      yield* foldKeyedChangelogStreams(chain, wanted);
    },
  };
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

/** The files of a keyed handle, each with its section offsets where the handle has them. */
function filesOf(keyed: KeyedStateHandle): readonly ChangelogFileHandle[] {
  return keyed.kind === 'incremental'
    ? keyed.files
    : [{ ...keyed.file, keyGroupOffsets: keyed.keyGroupOffsets }];
}

function pathOf(source: RestoreSource, handle: StateFileHandle): string {
  return `${source.pointer.replace(/\/$/, '')}/${handle.relativePath}`;
}
