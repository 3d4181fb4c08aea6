/** The operator state file (`WEIROPST`): list, union list and broadcast states with their elements kept as bytes. */
import { BinaryReader, BinaryWriter } from '../../core/binary.ts';
import type { ListDistributionMode } from '../operator-state.ts';
import {
  checkPreamble,
  checkTrailer,
  FILE_PREAMBLE_BYTES,
  FILE_TRAILER_BYTES,
  magicBytes,
  readingFile,
  writePreamble,
  writeTrailer,
} from './file-framing.ts';
import { STATE_NAME_CHARS_MAX } from './keyed-state-format.ts';
import { readSerializerRef, type SerializerRef, writeSerializerRef } from './serializer-ref.ts';
import { CorruptSnapshotError } from './snapshot-errors.ts';

/*
 * Layout:
 *   file      := "WEIROPST" u16:version varint:listCount list* varint:broadcastCount broadcast* u32:crc32c
 *   list      := string:name u8:mode(0 split, 1 union) ref:element varint:count bytes:element×count
 *   broadcast := string:name ref:key ref:value varint:count (bytes:key bytes:value)×count
 *
 * Every element and entry is length-prefixed, so redistribution on rescale moves elements
 * without decoding them: their serializers are known only once the operator registers the state.
 */

const MAGIC = magicBytes('WEIROPST');
/** The version this code writes. */
export const OPERATOR_STATE_FORMAT_VERSION = 1;
const READABLE_VERSIONS: readonly number[] = [1];
const FILE_KIND = 'operator state';
const MODES: readonly ListDistributionMode[] = ['split', 'union'];

/** One operator list state with its elements serialized. */
export interface OperatorListStateContents {
  readonly name: string;
  readonly mode: ListDistributionMode;
  readonly serializer: SerializerRef;
  readonly elements: readonly Uint8Array[];
  /** Where it came from, for messages (file paths; a description for an in-memory snapshot). */
  readonly path: string;
}

/** One broadcast state with its entries serialized. */
export interface BroadcastStateContents {
  readonly name: string;
  readonly keySerializer: SerializerRef;
  readonly valueSerializer: SerializerRef;
  readonly entries: readonly (readonly [key: Uint8Array, value: Uint8Array])[];
  readonly path: string;
}

/**
 * The operator state of one subtask, serialized but not framed: what
 * `HeapOperatorStateStore.snapshot()` returns, what the file holds, what redistribution moves
 * and what `HeapOperatorStateStore.restore()` takes. State names are unique across both lists.
 */
export interface OperatorStateContents {
  readonly lists: readonly OperatorListStateContents[];
  readonly broadcasts: readonly BroadcastStateContents[];
}

/**
 * Frames operator state contents as a `WEIROPST` file.
 *
 * @example
 * ```ts
 * const contents = store.snapshot();           // synchronous part
 * const bytes = writeOperatorStateFile(contents); // asynchronous part
 * ```
 */
export function writeOperatorStateFile(contents: OperatorStateContents): Uint8Array {
  const out = new BinaryWriter(1024);
  checkWritten(contents);
  writePreamble(out, MAGIC, OPERATOR_STATE_FORMAT_VERSION);
  out.writeVarint(contents.lists.length);
  for (const list of contents.lists) {
    out.writeString(list.name);
    out.writeU8(MODES.indexOf(list.mode));
    writeSerializerRef(list.serializer, out);
    out.writeVarint(list.elements.length);
    for (const element of list.elements) out.writeBytes(element);
  }
  out.writeVarint(contents.broadcasts.length);
  for (const broadcast of contents.broadcasts) {
    out.writeString(broadcast.name);
    writeSerializerRef(broadcast.keySerializer, out);
    writeSerializerRef(broadcast.valueSerializer, out);
    out.writeVarint(broadcast.entries.length);
    for (const [key, value] of broadcast.entries) {
      out.writeBytes(key);
      out.writeBytes(value);
    }
  }
  writeTrailer(out);
  return out.finish();
}

/** The writer's half of the pair of checks (the reader's: names unique, modes known). */
function checkWritten(contents: OperatorStateContents): void {
  const names = [...contents.lists.map((list) => list.name), ...contents.broadcasts.map((b) => b.name)];
  if (new Set(names).size !== names.length)
    throw new Error(`operator state names repeat: ${names.join(', ')}`);
  const unknown = contents.lists.find((list) => !MODES.includes(list.mode));
  if (unknown !== undefined) throw new Error(`list state '${unknown.name}' has mode ${String(unknown.mode)}`);
}

/**
 * Reads a `WEIROPST` file: checks magic, version and checksum, and returns the contents with
 * elements still serialized. Throws CorruptSnapshotError naming `path` and the problem.
 *
 * @example
 * ```ts
 * const contents = readOperatorStateFile(bytes, 'chk-7/op-a-0.opst');
 * ```
 */
export function readOperatorStateFile(bytes: Uint8Array, path: string): OperatorStateContents {
  checkPreamble(bytes, path, FILE_KIND, MAGIC, READABLE_VERSIONS);
  checkTrailer(bytes, path, FILE_KIND);
  return readingFile(path, () => {
    const input = new BinaryReader(bytes, FILE_PREAMBLE_BYTES, bytes.length - FILE_TRAILER_BYTES);
    const names = new Set<string>();
    const readName = (): string => {
      const name = input.readString('state name');
      if (name.length === 0 || name.length > STATE_NAME_CHARS_MAX)
        throw new RangeError(`state name of ${name.length} characters`);
      if (names.has(name)) throw new CorruptSnapshotError(path, `operator state '${name}' appears twice`);
      names.add(name);
      return name;
    };
    const lists: OperatorListStateContents[] = [];
    const listCount = readCount(input, 'list state count');
    for (let i = 0; i < listCount; i++) {
      const name = readName();
      const modeCode = input.readU8('distribution mode');
      const mode = MODES[modeCode];
      if (mode === undefined)
        throw new RangeError(`list state '${name}' has unknown distribution mode ${modeCode}`);
      const serializer = readSerializerRef(input, 'element');
      const count = readCount(input, 'element count');
      const elements: Uint8Array[] = [];
      for (let j = 0; j < count; j++) elements.push(input.readBytes('element'));
      lists.push({ name, mode, serializer, elements, path });
    }
    const broadcasts: BroadcastStateContents[] = [];
    const broadcastCount = readCount(input, 'broadcast state count');
    for (let i = 0; i < broadcastCount; i++) {
      const name = readName();
      const keySerializer = readSerializerRef(input, 'key');
      const valueSerializer = readSerializerRef(input, 'value');
      const count = readCount(input, 'entry count');
      const entries: [Uint8Array, Uint8Array][] = [];
      for (let j = 0; j < count; j++) entries.push([input.readBytes('key'), input.readBytes('value')]);
      broadcasts.push({ name, keySerializer, valueSerializer, entries, path });
    }
    if (!input.isAtEnd()) throw new RangeError(`${input.remaining} bytes left after the last state`);
    return { lists, broadcasts };
  });
}

/** A count of items of at least one byte each, bounded by what is left. */
function readCount(input: BinaryReader, what: string): number {
  const count = input.readVarint(what);
  if (count > input.remaining)
    throw new RangeError(`${what} ${count} cannot fit in the ${input.remaining} bytes left`);
  return count;
}
