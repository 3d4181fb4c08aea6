/** Cells (the heap's in-memory shape of one entry) to payload bytes and back, in the canonical snapshot format: heap snapshots and disk store values alike. */
import type { BinaryReader, BinaryWriter } from '../../core/binary.ts';
import type { TypeSerializer } from '../serializers/type-serializer.ts';
import type { KeyedStateKind } from '../snapshot/keyed-state-format.ts';
import { fromMapKey, type MapKey, toMapKey } from './heap/map-key.ts';
import { TtlCell } from './heap/ttl.ts';

/**
 * How one state's cells are written. A store value is exactly the payload a keyed state
 * file holds after an entry's key and namespace, so a snapshot of a state without TTL copies
 * store bytes through, and a cell looks in the cache exactly as on the heap (a value or
 * TtlCell; an array of them for list state; a Map of them by MapKey for map state).
 */
export interface CellFormat {
  readonly kind: KeyedStateKind;
  readonly hasTtl: boolean;
  readonly valueSerializer: TypeSerializer<unknown>;
  readonly mapKeySerializer: TypeSerializer<unknown>;
}

/** Writes a non-empty cell's payload. */
export function encodeCell(out: BinaryWriter, format: CellFormat, cell: unknown): void {
  const values = format.valueSerializer;
  const writeValue = format.hasTtl
    ? (stored: unknown): void => {
        out.writeFloat64((stored as TtlCell<unknown>).expiresAtMs);
        values.serialize((stored as TtlCell<unknown>).value, out);
      }
    : (stored: unknown): void => values.serialize(stored, out);
  switch (format.kind) {
    case 'list': {
      const list = cell as readonly unknown[];
      out.writeVarint(list.length);
      for (const element of list) writeValue(element);
      return;
    }
    case 'map': {
      const map = cell as ReadonlyMap<MapKey, unknown>;
      out.writeVarint(map.size);
      for (const [mapKey, value] of map) {
        format.mapKeySerializer.serialize(fromMapKey(mapKey), out);
        writeValue(value);
      }
      return;
    }
    default:
      writeValue(cell);
  }
}

/** Reads a payload `encodeCell` wrote (or a snapshot held) back into a cell. */
export function decodeCell(input: BinaryReader, format: CellFormat): unknown {
  const values = format.valueSerializer;
  const readValue = format.hasTtl
    ? (): unknown => {
        const expiresAtMs = input.readFloat64('expiry');
        return new TtlCell(values.deserialize(input), expiresAtMs);
      }
    : (): unknown => values.deserialize(input);
  switch (format.kind) {
    case 'list': {
      const count = input.readVarint('element count');
      const list = new Array<unknown>(count);
      for (let i = 0; i < count; i++) list[i] = readValue();
      return list;
    }
    case 'map': {
      const count = input.readVarint('map size');
      const map = new Map<MapKey, unknown>();
      for (let i = 0; i < count; i++) {
        const mapKey = toMapKey(format.mapKeySerializer.deserialize(input));
        map.set(mapKey, readValue());
      }
      return map;
    }
    default:
      return readValue();
  }
}
