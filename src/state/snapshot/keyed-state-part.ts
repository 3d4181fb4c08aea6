/** One old subtask's keyed state as a restoring subtask takes it: its key-group sections, read as they are pulled. */
import type { KeyGroupRange } from '../key-group-range.ts';
import type { KeyedStateFileContents, KeyGroupSection } from './keyed-state-format.ts';

/**
 * What `KeyedStateBackend.restoreFrom` takes: the sections one old subtask's file (or folded
 * incremental chain) holds for the key groups a new subtask owns. Sections come one at a
 * time, so a backend that keeps state outside memory restores without holding it all.
 */
export interface KeyedStatePart {
  /** The file, for messages (the newest file of a chain). */
  readonly path: string;
  readonly maxParallelism: number;
  /** The key groups the file covers (its writer's range), not only those restored. */
  readonly fileKeyGroupRange: KeyGroupRange;
  /**
   * The sections of the wanted key groups in ascending order, each checked (CorruptSnapshotError
   * naming the file) before it is yielded. Iterate once. A section's bytes stay valid after
   * the next is pulled (they are never written again), so a consumer may keep them.
   */
  sections(): AsyncIterable<KeyGroupSection>;
}

/** A part over contents already in memory (a savepoint read whole, a test). */
export function keyedStatePartOf(contents: KeyedStateFileContents): KeyedStatePart {
  return {
    path: contents.path,
    maxParallelism: contents.maxParallelism,
    fileKeyGroupRange: contents.fileKeyGroupRange,
    async *sections() {
      yield* contents.sections;
    },
  };
}

/** Every section of `part` in memory at once: for a backend that holds all of its state anyway. */
export async function readKeyedStatePart(part: KeyedStatePart): Promise<KeyedStateFileContents> {
  const sections: KeyGroupSection[] = [];
  for await (const section of part.sections()) sections.push(section);
  return {
    path: part.path,
    maxParallelism: part.maxParallelism,
    fileKeyGroupRange: part.fileKeyGroupRange,
    sections,
  };
}
