/** Store keys of the disk backend: state id, key group, key, namespace — so a state's key group is one contiguous range. */
import { BinaryReader, BinaryWriter } from '../../../core/binary.ts';
import { valueSerializer } from '../../serializers/value-serializer.ts';
import { fromMapKey, type MapKey } from '../heap/map-key.ts';
import type { Namespace } from '../heap/state-table.ts';

/*
 * Layout: u16 BE state id | u16 BE key group | key | namespace, key and namespace written by
 * the default value serializer in canonical form (composite keys with sorted fields, -0 as 0),
 * exactly the bytes `writeEntryKey` puts before an entry in a snapshot. Big-endian prefixes
 * make lmdb's byte order the (state, key group) order, so one key group of one state is one
 * range: snapshots stream it, rescaling could drop it. The encoding is prefix-free, so all
 * namespaces of one key are adjacent.
 */

/** State ids are u16 (one per registered state of one operator). */
export const STATE_IDS_MAX = 0xffff;
/** Bytes before the key: state id and key group. */
export const STORE_KEY_PREFIX_BYTES = 4;

const scratch = new BinaryWriter(256);

/** The stream key a MapKey stands for, in canonical form (equal keys give equal bytes). */
export function canonicalKey(mapKey: MapKey): unknown {
  if (typeof mapKey === 'number') return mapKey === 0 ? 0 : mapKey;
  return fromMapKey(mapKey);
}

/** The serialized canonical key, as every store key of that key holds it. */
export function keyBytesOf(mapKey: MapKey): Uint8Array {
  scratch.reset();
  valueSerializer.serialize(canonicalKey(mapKey), scratch);
  return scratch.finish();
}

/** The four-byte prefix of (state, key group) as a number, for range reads. */
export function storePrefix(stateId: number, keyGroup: number): number {
  return stateId * 0x1_0000 + keyGroup;
}

/** `storePrefix` of a store key held as a latin1 string (its char codes are the key's bytes). */
export function storePrefixOfId(id: string): number {
  return (
    id.charCodeAt(0) * 0x100_0000 + id.charCodeAt(1) * 0x1_0000 + id.charCodeAt(2) * 0x100 + id.charCodeAt(3)
  );
}

/**
 * The full store key of one entry, as a view of a shared scratch buffer: valid until the
 * next call of `storeKey`/`storeKeyOf`. lmdb copies a key when it is read or written, so
 * the record path allocates no key bytes (only this one view object).
 */
export function storeKey(
  stateId: number,
  keyGroup: number,
  keyBytes: Uint8Array,
  namespace: Namespace,
): Buffer {
  writePrefix(stateId, keyGroup);
  scratch.writeRawBytes(keyBytes);
  return finishKey(namespace);
}

/** `storeKey` for a MapKey, serialized straight into the key (write-backs, which have no key bytes at hand); also a view valid until the next call. */
export function storeKeyOf(stateId: number, keyGroup: number, mapKey: MapKey, namespace: Namespace): Buffer {
  writePrefix(stateId, keyGroup);
  valueSerializer.serialize(canonicalKey(mapKey), scratch);
  return finishKey(namespace);
}

function writePrefix(stateId: number, keyGroup: number): void {
  scratch.reset();
  scratch.writeU8(stateId >>> 8);
  scratch.writeU8(stateId & 0xff);
  scratch.writeU8(keyGroup >>> 8);
  scratch.writeU8(keyGroup & 0xff);
}

/** The void namespace's bytes, serialized once: nearly every entry outside windows has it. */
const VOID_NAMESPACE_BYTES = ((): Uint8Array => {
  const out = new BinaryWriter(16);
  valueSerializer.serialize(0, out);
  return out.finish();
})();

function finishKey(namespace: Namespace): Buffer {
  if (namespace === 0) scratch.writeRawBytes(VOID_NAMESPACE_BYTES);
  else valueSerializer.serialize(namespace, scratch);
  const bytes = scratch.view();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A parsed store key: the key and namespace, and where the key's bytes end. */
export interface ParsedStoreKey {
  readonly key: unknown;
  readonly namespace: Namespace;
  /** Offset of the namespace's first byte: key bytes are [STORE_KEY_PREFIX_BYTES, keyEnd). */
  readonly keyEnd: number;
}

/** Reads the key and namespace back out of a store key (a bug if they do not decode). */
export function parseStoreKey(bytes: Uint8Array): ParsedStoreKey {
  const input = new BinaryReader(bytes, STORE_KEY_PREFIX_BYTES);
  const key = valueSerializer.deserialize(input);
  const keyEnd = input.position;
  const namespace = valueSerializer.deserialize(input) as Namespace;
  if (!input.isAtEnd() || (typeof namespace !== 'string' && typeof namespace !== 'number')) {
    throw new Error(`malformed store key of ${bytes.length} bytes in the disk backend (a bug)`);
  }
  return { key, namespace, keyEnd };
}
