/** Test fixtures: writes a small but realistic checkpoint (a keyed operator and an operator-state operator) through a location. */
import type {
  CheckpointMetadata,
  OperatorSnapshot,
  OperatorSubtaskSnapshot,
  SnapshotKind,
} from '../../../src/checkpoint/snapshot-handles.ts';
import type { CheckpointFileSystem } from '../../../src/checkpoint/storage/checkpoint-file-system.ts';
import type { CheckpointLocation } from '../../../src/checkpoint/storage/checkpoint-storage.ts';
import { stateFileName } from '../../../src/checkpoint/storage/state-file-names.ts';
import { SeededRandom } from '../../../src/core/random.ts';

export const MAX_PARALLELISM = 128;

/** Deterministic pseudo-random bytes. */
export function bytesOf(seed: number, length: number): Uint8Array {
  const random = new SeededRandom(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = random.nextInt(256);
  return bytes;
}

/** Options of {@link writeSampleCheckpoint}. */
export interface SampleOptions {
  readonly jobId: string;
  readonly checkpointId: number;
  readonly kind?: SnapshotKind;
  readonly jobName?: string;
  /** Parallelism of the keyed operator; default 2. */
  readonly keyedParallelism?: number;
  /** Bytes per state file; default 300. */
  readonly fileBytes?: number;
}

/** Writes every state file of a sample checkpoint and returns its metadata (not committed). */
export async function writeSampleCheckpoint(
  location: CheckpointLocation,
  options: SampleOptions,
): Promise<CheckpointMetadata> {
  const { jobId, checkpointId, kind = 'checkpoint', jobName = 'sample job', keyedParallelism = 2 } = options;
  const fileBytes = options.fileBytes ?? 300;
  const keyedSubtasks: OperatorSubtaskSnapshot[] = [];
  for (let subtask = 0; subtask < keyedParallelism; subtask++) {
    const start = Math.floor((subtask * MAX_PARALLELISM) / keyedParallelism);
    const end = Math.floor(((subtask + 1) * MAX_PARALLELISM) / keyedParallelism) - 1;
    const bytes = bytesOf(checkpointId * 1000 + subtask, fileBytes + subtask);
    const keyedFile = await location.writeFile(stateFileName('counts', subtask, 'keyed'), bytes);
    const groups = end - start + 1;
    const offsets = Array.from({ length: groups + 1 }, (_, i) => Math.floor((i * bytes.length) / groups));
    const operatorState = await location.writeFile(
      stateFileName('counts', subtask, 'operator'),
      bytesOf(checkpointId * 1000 + 500 + subtask, 40),
    );
    keyedSubtasks.push({
      subtaskIndex: subtask,
      keyed: { file: keyedFile, keyGroupRange: { start, end }, keyGroupOffsets: offsets },
      operatorState,
      finished: false,
    });
  }
  const sourceState = await location.writeFile(
    stateFileName('source/1', 0, 'operator'),
    bytesOf(checkpointId, 24),
  );
  const operators: OperatorSnapshot[] = [
    {
      operatorId: 'source/1',
      operatorName: 'Source: numbers',
      parallelism: 1,
      subtasks: [{ subtaskIndex: 0, keyed: undefined, operatorState: sourceState, finished: true }],
    },
    {
      operatorId: 'counts',
      operatorName: 'Keyed Reduce',
      uid: 'counts',
      parallelism: keyedParallelism,
      subtasks: keyedSubtasks,
    },
  ];
  return {
    formatVersion: 1,
    jobId,
    jobName,
    checkpointId,
    kind,
    triggerTimestampMs: 1_700_000_000_000 + checkpointId * 1000,
    completedTimestampMs: 1_700_000_000_000 + checkpointId * 1000 + 42,
    maxParallelism: MAX_PARALLELISM,
    operators,
  };
}

/** Writes and commits a sample checkpoint. */
export async function commitSampleCheckpoint(
  location: CheckpointLocation,
  options: SampleOptions,
): Promise<CheckpointMetadata> {
  const metadata = await writeSampleCheckpoint(location, options);
  await location.commitMetadata(metadata);
  return metadata;
}

/** Applies `mutate` to the bytes of a file in place. */
export async function damageFile(
  fs: CheckpointFileSystem,
  path: string,
  mutate: (bytes: Uint8Array) => Uint8Array,
): Promise<void> {
  await fs.writeFile(path, mutate(await fs.readFile(path)));
}

/** Flips every bit of one byte. */
export function flipByte(offset: number): (bytes: Uint8Array) => Uint8Array {
  return (bytes) => {
    const copy = bytes.slice();
    copy[offset] ^= 0xff;
    return copy;
  };
}

/** Keeps only the first `length` bytes. */
export function truncateTo(length: number): (bytes: Uint8Array) => Uint8Array {
  return (bytes) => bytes.slice(0, length);
}

/** Copies a directory tree from one place to another (possibly another file system). */
export async function copyDirectory(
  from: CheckpointFileSystem,
  fromPath: string,
  to: CheckpointFileSystem,
  toPath: string,
  join: (directory: string, name: string) => string,
): Promise<void> {
  await to.mkdir(toPath);
  for (const entry of await from.readdir(fromPath)) {
    const source = join(fromPath, entry.name);
    const target = join(toPath, entry.name);
    if (entry.isDirectory) await copyDirectory(from, source, to, target, join);
    else await to.writeFile(target, await from.readFile(source));
  }
}
