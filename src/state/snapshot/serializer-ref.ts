/** The (id, version) of a serializer as a snapshot records it, and the check that a serializer can read it. */
import type { BinaryReader, BinaryWriter } from '../../core/binary.ts';
import type { TypeSerializer } from '../serializers/type-serializer.ts';
import { IncompatibleStateError } from './snapshot-errors.ts';

/** Serializer ids are short names such as `weir.value`; longer ones are refused as corrupt. */
export const SERIALIZER_ID_CHARS_MAX = 200;

/** Which serializer wrote some bytes. */
export interface SerializerRef {
  readonly id: string;
  readonly version: number;
}

/** The ref of `serializer`. */
export function serializerRef(serializer: TypeSerializer<unknown>): SerializerRef {
  return { id: serializer.id, version: serializer.version };
}

export function writeSerializerRef(ref: SerializerRef, out: BinaryWriter): void {
  out.writeString(ref.id);
  out.writeVarint(ref.version);
}

/** Reads a ref; throws RangeError on malformed input (the caller turns it into a CorruptSnapshotError). */
export function readSerializerRef(input: BinaryReader, what: string): SerializerRef {
  const id = input.readString(`${what} serializer id`);
  if (id.length === 0 || id.length > SERIALIZER_ID_CHARS_MAX) {
    throw new RangeError(`${what} serializer id has ${id.length} characters`);
  }
  return { id, version: input.readVarint(`${what} serializer version`) };
}

export function sameSerializerRef(a: SerializerRef, b: SerializerRef): boolean {
  return a.id === b.id && a.version === b.version;
}

/** Whether `serializer` reads what `written` wrote: the same id and version, or its `canRead` says so. */
export function canReadRef(serializer: TypeSerializer<unknown>, written: SerializerRef): boolean {
  if (serializer.id === written.id && serializer.version === written.version) return true;
  return serializer.canRead?.(written.id, written.version) === true;
}

/**
 * Throws IncompatibleStateError naming the state, both serializers and the file unless
 * `serializer` can read bytes written by `written`. `role` says which part: values, map keys…
 */
export function checkSerializerCompatible(
  stateName: string,
  path: string,
  role: string,
  written: SerializerRef,
  serializer: TypeSerializer<unknown>,
): void {
  if (canReadRef(serializer, written)) return;
  throw new IncompatibleStateError(
    stateName,
    path,
    `has ${role} written by serializer ${written.id} v${written.version}, which the registered serializer ${serializer.id} v${serializer.version} cannot read (give it a canRead that accepts ${written.id} v${written.version}, or restore with the old serializer)`,
  );
}
