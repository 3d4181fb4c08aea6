/** Restoring raw keyed state chunks into a state table (heap or disk) once the operator registers the state. */

import {
  checkChunkCompatible,
  type DecodedPayload,
  decodeStateChunk,
  type RegisteredStateInfo,
  type TimedMapEntry,
  type TimedValue,
} from '../../snapshot/keyed-state-decoding.ts';
import type { KeyedStateChunkInfo, RawKeyedStateChunk } from '../../snapshot/keyed-state-format.ts';
import { type MapKey, toMapKey } from './map-key.ts';
import type { Namespace, StateTable } from './state-table.ts';
import { TtlCell } from './ttl.ts';

/**
 * What a restore writes into: the heap's StateTable and the disk's DiskStateTable. Cells
 * are addressed by `keyGroup - groupOffset` (the heap's group index with the range start
 * as offset; the disk's key group itself with offset 0).
 */
export interface RestorableTable {
  readonly name: StateTable['name'];
  readonly kind: StateTable['kind'];
  readonly ttl: StateTable['ttl'];
  readonly valueSerializer: StateTable['valueSerializer'];
  readonly mapKeySerializer: StateTable['mapKeySerializer'];
  restoreCell(group: number, mapKey: MapKey, namespace: Namespace, cell: unknown): void;
}

/**
 * Checks every chunk against the table's registration (kind, TTL, serializers), then decodes
 * them into the table. `chunks` is indexed by `keyGroup - rangeStart`; cells go to group
 * `keyGroup - groupOffset` of the table.
 */
export function restoreStateTable(
  table: RestorableTable,
  chunks: readonly (RawKeyedStateChunk | undefined)[],
  maxParallelism: number,
  groupOffset: number,
): void {
  const registered = checkRestoredChunks(table, chunks);
  for (const chunk of chunks) {
    if (chunk === undefined) continue;
    for (const _ of restoreChunkCells(table, registered, chunk, maxParallelism, groupOffset));
  }
}

/** Throws IncompatibleStateError unless every chunk fits the table's registration; returns that registration. */
export function checkRestoredChunks(
  table: RestorableTable,
  chunks: readonly (KeyedStateChunkInfo | undefined)[],
): RegisteredStateInfo {
  const registered: RegisteredStateInfo = {
    name: table.name,
    kind: table.kind,
    hasTtl: table.ttl !== undefined,
    valueSerializer: table.valueSerializer,
    mapKeySerializer: table.kind === 'map' ? table.mapKeySerializer : undefined,
  };
  for (const chunk of chunks) if (chunk !== undefined) checkChunkCompatible(chunk, registered);
  return registered;
}

/**
 * Decodes one checked chunk into `table`, pausing after each entry, so a restore can stop
 * between entries to let its writes drain (the disk backend). CorruptSnapshotError if an
 * entry does not decode; the entries before it stay in the table.
 */
export function* restoreChunkCells(
  table: RestorableTable,
  registered: RegisteredStateInfo,
  chunk: RawKeyedStateChunk,
  maxParallelism: number,
  groupOffset: number,
): Generator<undefined, void, undefined> {
  const group = chunk.keyGroup - groupOffset;
  for (const { key, namespace, payload } of decodeStateChunk(chunk, registered, maxParallelism)) {
    const cell = toCell(registered, payload);
    if (cell !== undefined) table.restoreCell(group, toMapKey(key), namespace, cell);
    yield;
  }
}

function toCell(registered: RegisteredStateInfo, payload: DecodedPayload): unknown {
  const timed = (entry: TimedValue): unknown =>
    registered.hasTtl ? new TtlCell(entry.value, entry.expiresAtMs!) : entry.value;
  switch (registered.kind) {
    case 'list':
      return (payload as readonly TimedValue[]).map(timed);
    case 'map': {
      const entries = payload as readonly TimedMapEntry[];
      const map = new Map(entries.map((entry) => [toMapKey(entry.key), timed(entry)]));
      if (map.size !== entries.length) throw new RangeError('a user-map key appears twice in one map');
      return map;
    }
    default: {
      const single = payload as TimedValue;
      // The heap keeps "no value" as no cell (a reduce function that returned undefined).
      return single.value === undefined ? undefined : timed(single);
    }
  }
}
