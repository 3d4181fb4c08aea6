/** What the heap and disk keyed state snapshots share: their common options and the checks and raw chunks around each key group they write. */
import type { KeyGroupRange } from '../key-group-range.ts';
import { keyGroupRangeContains } from '../key-groups.ts';
import type { KeyGroupSectionWriter, RawKeyedStateChunk } from '../snapshot/keyed-state-format.ts';

/** The options every backend's snapshot is built from, besides its view of the tables. */
export interface KeyedSnapshotOptions {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  /** Per restored state not registered yet, its chunks by group index. */
  readonly pending: readonly (readonly (RawKeyedStateChunk | undefined)[])[];
  /** The backend's time at the snapshot: entries expired then are left out. */
  readonly nowMs: number;
  readonly onRelease: () => void;
}

/**
 * Throws RangeError unless `keyGroup` lies in the snapshot's range; returns its group index.
 *
 * @example
 * ```ts
 * const groupIndex = snapshotGroupIndex({ start: 0, end: 127 }, 5); // 5
 * ```
 */
export function snapshotGroupIndex(range: KeyGroupRange, keyGroup: number): number {
  if (!keyGroupRangeContains(range, keyGroup)) {
    throw new RangeError(
      `key group ${keyGroup} lies outside the snapshot's range [${range.start}, ${range.end}]`,
    );
  }
  return keyGroup - range.start;
}

/**
 * Writes the raw chunks of restored, unregistered states for one group, so they survive
 * the snapshot unchanged.
 *
 * @example
 * ```ts
 * writePendingChunks(pending, groupIndex, out);
 * ```
 */
export function writePendingChunks(
  pending: KeyedSnapshotOptions['pending'],
  groupIndex: number,
  out: KeyGroupSectionWriter,
): void {
  for (const chunks of pending) {
    const chunk = chunks[groupIndex];
    if (chunk !== undefined) out.writeRawState(chunk);
  }
}
