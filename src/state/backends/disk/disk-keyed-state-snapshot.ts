/** The snapshot of a disk keyed backend: a store read transaction plus the writes in flight, streamed in the canonical format. */

import type { KeyGroupRange } from '../../key-group-range.ts';
import type {
  KeyedStateMeta,
  KeyedStateSnapshot,
  KeyGroupSectionWriter,
} from '../../snapshot/keyed-state-format.ts';
import { SnapshotWriteError } from '../../snapshot/snapshot-errors.ts';
import type { TimerSnapshotEntry } from '../../snapshot/timer-snapshot.ts';
import { encodeCell } from '../cell-codec.ts';
import { type KeyedSnapshotOptions, snapshotGroupIndex } from '../keyed-state-snapshot-base.ts';
import type { DiskStateTable } from './disk-state-table.ts';
import { type TimerQueueView, timersInView } from './disk-timer-queue.ts';
import type { StoreView } from './local-kv-store.ts';
import { type StagedChunk, stagedChunkIn } from './restore-staging.ts';
import { STORE_KEY_PREFIX_BYTES, storePrefix } from './store-key.ts';

/** One registered state as the snapshot took it. */
export interface DiskTableView {
  readonly meta: KeyedStateMeta;
  readonly table: DiskStateTable;
}

/**
 * What `DiskKeyedStateBackend.snapshot()` returns. The synchronous part wrote every dirty
 * cache slot to the store and took a `StoreView`; `writeKeyGroup` reads one (state, key
 * group) range at a time from it, so the view, not the heap, holds the state, and writes
 * after the snapshot never reach it. Store values are the canonical payload already: states
 * without TTL are copied through byte for byte; TTL states are decoded to leave out what had
 * expired at `nowMs`.
 */
export class DiskKeyedStateSnapshot implements KeyedStateSnapshot {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly #tables: readonly DiskTableView[];
  readonly #timerQueues: readonly TimerQueueView[];
  readonly #pending: readonly (readonly (StagedChunk | undefined)[])[];
  readonly #nowMs: number;
  #view: StoreView | undefined;
  #onRelease: (() => void) | undefined;

  constructor(
    options: Omit<KeyedSnapshotOptions, 'pending'> & {
      /** Per restored state not registered yet, where its chunks wait in the store, by group index. */
      readonly pending: readonly (readonly (StagedChunk | undefined)[])[];
      readonly tables: readonly DiskTableView[];
      readonly timerQueues: readonly TimerQueueView[];
      readonly view: StoreView;
    },
  ) {
    this.keyGroupRange = options.keyGroupRange;
    this.maxParallelism = options.maxParallelism;
    this.#tables = options.tables;
    this.#timerQueues = options.timerQueues;
    this.#pending = options.pending;
    this.#view = options.view;
    this.#nowMs = options.nowMs;
    this.#onRelease = options.onRelease;
  }

  writeKeyGroup(keyGroup: number, out: KeyGroupSectionWriter): void {
    const view = this.#view;
    if (view === undefined) throw new Error('a keyed state snapshot was written after its release');
    const groupIndex = snapshotGroupIndex(this.keyGroupRange, keyGroup);
    for (const { meta, table } of this.#tables) {
      try {
        writeRange(out, meta, table, view, keyGroup, this.#nowMs);
      } catch (error) {
        throw new SnapshotWriteError(meta.name, `in key group ${keyGroup}`, { cause: error });
      }
    }
    for (const chunks of this.#pending) {
      const chunk = chunks[groupIndex];
      if (chunk !== undefined) out.writeRawState(stagedChunkIn(view, chunk));
    }
  }

  timersOf(keyGroup: number): TimerSnapshotEntry[] {
    const view = this.#view;
    if (view === undefined) throw new Error('a keyed state snapshot was written after its release');
    return timersInView(view, this.#timerQueues, keyGroup);
  }

  release(): void {
    this.#view?.release();
    this.#view = undefined;
    const onRelease = this.#onRelease;
    this.#onRelease = undefined;
    onRelease?.();
  }
}

function writeRange(
  out: KeyGroupSectionWriter,
  meta: KeyedStateMeta,
  table: DiskStateTable,
  view: StoreView,
  keyGroup: number,
  nowMs: number,
): void {
  const ops = table.ttlOps;
  let entries: ReturnType<KeyGroupSectionWriter['beginState']> | undefined;
  let count = 0;
  for (const { key, value } of view.prefixed(storePrefix(table.stateId, keyGroup))) {
    if (ops === undefined) {
      entries ??= out.beginState(meta);
      entries.writeRawBytes(key.subarray(STORE_KEY_PREFIX_BYTES));
      entries.writeRawBytes(value);
    } else {
      // purge never mutates: the live part of the cell, or undefined.
      const cell = ops.purge(table.decode(value), nowMs);
      if (cell === undefined) continue;
      entries ??= out.beginState(meta);
      entries.writeRawBytes(key.subarray(STORE_KEY_PREFIX_BYTES));
      encodeCell(entries, table.format, cell);
    }
    count++;
  }
  if (entries !== undefined) out.endState(count);
}
