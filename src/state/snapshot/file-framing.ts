/** The framing every state file shares: 8-byte magic, u16 format version, body, u32 CRC-32C trailer. */
import { type BinaryReader, type BinaryWriter, crc32c } from '../../core/binary.ts';
import { describeError, WeirError } from '../../core/errors.ts';
import { CorruptSnapshotError } from './snapshot-errors.ts';

/** Magic (8) + version (2). */
export const FILE_PREAMBLE_BYTES = 10;
/** The CRC-32C trailer. */
export const FILE_TRAILER_BYTES = 4;

const asciiEncoder = new TextEncoder();

/** The 8 bytes of a magic number such as `WEIRKEYD`. */
export function magicBytes(magic: string): Uint8Array {
  const bytes = asciiEncoder.encode(magic);
  if (bytes.length !== 8) throw new Error(`a magic number has 8 ASCII characters, got '${magic}'`);
  return bytes;
}

export function writePreamble(out: BinaryWriter, magic: Uint8Array, version: number): void {
  out.writeRawBytes(magic);
  writeU16(out, version);
}

/** Little-endian u16, which BinaryWriter has no method for. */
export function writeU16(out: BinaryWriter, value: number): void {
  out.writeU8(value & 0xff);
  out.writeU8(value >>> 8);
}

export function readU16(input: BinaryReader, what: string): number {
  const low = input.readU8(what);
  return low | (input.readU8(what) << 8);
}

/** Appends the CRC-32C of everything written so far. */
export function writeTrailer(out: BinaryWriter): void {
  out.writeU32(crc32c(out.view()));
}

/**
 * Checks magic and version at `bytes[0…]`; names what is wrong. `kind` names the file kind
 * for messages ("keyed state"), `versions` the versions this code reads.
 */
export function checkPreamble(
  bytes: Uint8Array,
  path: string,
  kind: string,
  magic: Uint8Array,
  versions: readonly number[],
): number {
  if (bytes.length < FILE_PREAMBLE_BYTES) {
    throw new CorruptSnapshotError(
      path,
      `truncated: ${bytes.length} bytes cannot hold ${withArticle(kind)} file's ${FILE_PREAMBLE_BYTES}-byte magic and version`,
    );
  }
  for (let i = 0; i < magic.length; i++) {
    if (bytes[i] !== magic[i]) {
      throw new CorruptSnapshotError(
        path,
        `not ${withArticle(kind)} file: magic is ${describeMagic(bytes.subarray(0, 8))}, expected ${describeMagic(magic)}`,
      );
    }
  }
  const version = bytes[8] | (bytes[9] << 8);
  if (!versions.includes(version)) {
    throw new CorruptSnapshotError(
      path,
      `${kind} format version ${version} is unknown; this Weir reads version ${versions.join(', ')} (written by a newer Weir?)`,
    );
  }
  return version;
}

/** Checks the trailer CRC-32C over `bytes[0, length - 4)`. */
export function checkTrailer(bytes: Uint8Array, path: string, kind: string): void {
  const bodyEnd = bytes.length - FILE_TRAILER_BYTES;
  if (bodyEnd < FILE_PREAMBLE_BYTES) {
    throw new CorruptSnapshotError(
      path,
      `truncated: ${bytes.length} bytes cannot hold ${withArticle(kind)} file`,
    );
  }
  const stored = new DataView(bytes.buffer, bytes.byteOffset + bodyEnd, 4).getUint32(0, true);
  const actual = crc32c(bytes, 0, bodyEnd);
  if (stored !== actual) {
    throw new CorruptSnapshotError(
      path,
      `checksum mismatch: the trailer says CRC-32C ${hex(stored)}, the ${bodyEnd} bytes before it have ${hex(actual)} (truncated or damaged)`,
    );
  }
}

/** Checks a header's own CRC-32C, `stored` as read from its last 4 bytes, over `bytes[0, headerBytes - 4)`. */
export function checkHeaderChecksum(
  bytes: Uint8Array,
  headerBytes: number,
  stored: number,
  path: string,
): void {
  const actual = crc32c(bytes, 0, headerBytes - 4);
  if (stored !== actual) {
    throw new CorruptSnapshotError(
      path,
      `header checksum mismatch: stored ${hex(stored)}, computed ${hex(actual)}`,
    );
  }
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

export function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function describeMagic(bytes: Uint8Array): string {
  const printable = [...bytes].every((b) => b >= 0x20 && b < 0x7f);
  return printable
    ? `'${String.fromCharCode(...bytes)}'`
    : `bytes ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

/**
 * Runs `read` over untrusted bytes and reports what their decoding throws as a
 * CorruptSnapshotError naming the file: a BinaryReader's RangeError (truncated or malformed
 * fields), and anything else a damaged byte can provoke before a section's checksum is
 * reached (a timer key decoded as `undefined` fails key hashing). Weir's own errors
 * (corruption already named, incompatible state) pass through.
 */
export function readingFile<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof WeirError) throw error;
    const message = error instanceof RangeError ? error.message : `undecodable: ${describeError(error)}`;
    throw new CorruptSnapshotError(path, message, { cause: error });
  }
}
