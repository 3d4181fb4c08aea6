/** The copy-on-write snapshot of a heap keyed backend, and how it writes its cells in the canonical format. */
import type { BinaryWriter } from '../../../core/binary.ts';
import type { KeyGroupRange } from '../../key-group-range.ts';
import { VOID_NAMESPACE } from '../../keyed-state.ts';
import {
  DEFAULT_KEY_SERIALIZER_REF,
  type KeyedStateMeta,
  type KeyedStateSnapshot,
  type KeyGroupSectionWriter,
  type RawKeyedStateChunk,
  writeEntryKey,
} from '../../snapshot/keyed-state-format.ts';
import { serializerRef } from '../../snapshot/serializer-ref.ts';
import { SnapshotWriteError } from '../../snapshot/snapshot-errors.ts';
import { type CellFormat, encodeCell } from '../cell-codec.ts';
import {
  type KeyedSnapshotOptions,
  snapshotGroupIndex,
  writePendingChunks,
} from '../keyed-state-snapshot-base.ts';
import { fromMapKey, type MapKey } from './map-key.ts';
import type { KeyGroupMaps, Namespace, StateTable } from './state-table.ts';
import type { TtlCellOps } from './ttl.ts';

/** One state table as the snapshot took it: its maps per group (shared, copy-on-write) and how to write them. */
export interface TableView {
  readonly meta: KeyedStateMeta;
  readonly groups: readonly KeyGroupMaps[];
  /** Set for TTL states: expired parts are left out of the snapshot. */
  readonly ttlOps: TtlCellOps | undefined;
  /** How a cell's payload is written (built once per snapshot, not per entry). */
  readonly format: CellFormat;
}

/** The canonical description of a table's state in snapshots (a heap StateTable or a DiskStateTable). */
export function tableMeta(
  table: Pick<StateTable, 'name' | 'kind' | 'ttl' | 'valueSerializer' | 'mapKeySerializer'>,
): KeyedStateMeta {
  return {
    name: table.name,
    kind: table.kind,
    hasTtl: table.ttl !== undefined,
    keySerializer: DEFAULT_KEY_SERIALIZER_REF,
    namespaceSerializer: DEFAULT_KEY_SERIALIZER_REF,
    valueSerializer: serializerRef(table.valueSerializer),
    mapKeySerializer: table.kind === 'map' ? serializerRef(table.mapKeySerializer) : undefined,
  };
}

/**
 * What `HeapKeyedStateBackend.snapshot()` returns. Holds every table's group maps as they
 * were (later writes copy a group first, and values user code may mutate are copied on
 * read; see StateTable) plus restored states not yet registered, as raw chunks.
 * `nowMs` is the backend's time at the snapshot: entries expired then are left out.
 */
export class HeapKeyedStateSnapshot implements KeyedStateSnapshot {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly #tables: readonly TableView[];
  /** Per unregistered restored state, its chunks by group index. */
  readonly #pending: readonly (readonly (RawKeyedStateChunk | undefined)[])[];
  readonly #nowMs: number;
  #onRelease: (() => void) | undefined;

  constructor(options: KeyedSnapshotOptions & { readonly tables: readonly TableView[] }) {
    this.keyGroupRange = options.keyGroupRange;
    this.maxParallelism = options.maxParallelism;
    this.#tables = options.tables;
    this.#pending = options.pending;
    this.#nowMs = options.nowMs;
    this.#onRelease = options.onRelease;
  }

  writeKeyGroup(keyGroup: number, out: KeyGroupSectionWriter): void {
    if (this.#onRelease === undefined)
      throw new Error('a keyed state snapshot was written after its release');
    const groupIndex = snapshotGroupIndex(this.keyGroupRange, keyGroup);
    for (const table of this.#tables) {
      const maps = table.groups[groupIndex];
      if (maps.voidMap === undefined && maps.namespaceMap === undefined) continue;
      const entries = out.beginState(table.meta);
      let count: number;
      try {
        count = writeGroup(entries, table, maps, this.#nowMs);
      } catch (error) {
        throw new SnapshotWriteError(table.meta.name, `in key group ${keyGroup}`, { cause: error });
      }
      out.endState(count);
    }
    writePendingChunks(this.#pending, groupIndex, out);
  }

  release(): void {
    const onRelease = this.#onRelease;
    this.#onRelease = undefined;
    onRelease?.();
  }
}

/** Writes a group's live entries; returns how many. */
function writeGroup(out: BinaryWriter, table: TableView, maps: KeyGroupMaps, nowMs: number): number {
  let count = 0;
  const write = (mapKey: MapKey, namespace: Namespace, stored: unknown): void => {
    // purge never mutates: it returns the live part of the cell, or undefined.
    const cell = table.ttlOps === undefined ? stored : table.ttlOps.purge(stored, nowMs);
    if (cell === undefined) return;
    writeEntryKey(out, fromMapKey(mapKey), namespace);
    encodeCell(out, table.format, cell);
    count++;
  };
  if (maps.voidMap !== undefined)
    for (const [mapKey, cell] of maps.voidMap) write(mapKey, VOID_NAMESPACE, cell);
  if (maps.namespaceMap !== undefined) {
    for (const [mapKey, cells] of maps.namespaceMap) {
      for (const [namespace, cell] of cells) write(mapKey, namespace, cell);
    }
  }
  return count;
}
