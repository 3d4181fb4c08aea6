/** Binary format helpers: a growable writer, a bounds-checked reader and CRC-32C for checksums. */

/**
 * Multi-byte fixed-width numbers are little-endian. Strings are UTF-8 behind a varint byte
 * length; a string holding lone surrogates (not valid Unicode, but a legal JS string) is
 * written as WTF-8 (the surrogate encoded like any other code point), so it still reads
 * back unchanged. Well-formed strings produce plain UTF-8.
 */

const INITIAL_CAPACITY_BYTES = 256;
/** Strings up to this many UTF-16 units are coded by hand (3 × 42 < 128); longer ones by TextEncoder. */
const SHORT_STRING_UNITS_MAX = 42;
/** Strings up to this many bytes are decoded by hand; longer ones by TextDecoder. */
const SHORT_STRING_BYTES_MAX = 32;
/** A varint of a safe integer (< 2^53) takes at most 8 bytes. */
const VARINT_BYTES_MAX = 8;

const textEncoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the string, not a byte-order mark to strip.
const textDecoderFatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Appends binary values into a growable buffer. Reuse one writer across values with `reset()`
 * instead of allocating a new one per value.
 *
 * @example
 * ```ts
 * const out = new BinaryWriter();
 * out.writeVarint(300);
 * out.writeString('weir');
 * const bytes = out.finish(); // a copy; `out` may now be reset and reused
 * ```
 */
export class BinaryWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(initialCapacityBytes = INITIAL_CAPACITY_BYTES) {
    this.#bytes = new Uint8Array(Math.max(16, initialCapacityBytes));
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Number of bytes written since construction or the last `reset()`. */
  get length(): number {
    return this.#length;
  }

  /** Forgets what was written but keeps the buffer, so the next value allocates nothing. */
  reset(): void {
    this.#length = 0;
  }

  /** A copy of the bytes written; the writer stays usable. */
  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }

  /** The bytes written, without copying: valid only until the next write or `reset()`. */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  /** Makes room for `extra` more bytes. */
  ensure(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = next;
    this.#view = new DataView(next.buffer);
  }

  writeU8(value: number): void {
    if (this.#length === this.#bytes.length) this.ensure(1);
    this.#bytes[this.#length++] = value;
  }

  /** Unsigned 32-bit, little-endian. */
  writeU32(value: number): void {
    this.ensure(4);
    this.#view.setUint32(this.#length, value, true);
    this.#length += 4;
  }

  /** Unsigned LEB128 varint of an integer in [0, 2^53). */
  writeVarint(value: number): void {
    this.ensure(VARINT_BYTES_MAX);
    const b = this.#bytes;
    let p = this.#length;
    if (value >>> 0 === value) {
      // Fast path: bit operations are exact below 2^32.
      while (value >= 0x80) {
        b[p++] = (value & 0x7f) | 0x80;
        value >>>= 7;
      }
      b[p++] = value;
    } else {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`writeVarint needs an integer in [0, 2^53), got ${value}`);
      }
      while (value >= 0x80) {
        b[p++] = (value % 0x80) | 0x80;
        value = Math.floor(value / 0x80);
      }
      b[p++] = value;
    }
    this.#length = p;
  }

  /**
   * Signed safe integer as a ZigZag varint (0, -1, 1, -2 … → 0, 1, 2, 3 …), so small
   * magnitudes of either sign take one byte.
   */
  writeZigZag(value: number): void {
    if ((value | 0) === value) {
      this.writeVarint(((value << 1) ^ (value >> 31)) >>> 0);
      return;
    }
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`writeZigZag needs a safe integer, got ${value}`);
    }
    // zigzag(n) = 2m + s with m = |n| - s; 2m + s may exceed 2^53, so emit its low 7 bits
    // from m directly and the rest (= floor(m / 64)) as an ordinary varint.
    const sign = value < 0 ? 1 : 0;
    const m = sign === 1 ? -value - 1 : value;
    const rest = Math.floor(m / 64);
    this.writeU8(((m % 64) << 1) | sign | (rest > 0 ? 0x80 : 0));
    if (rest > 0) this.writeVarint(rest);
  }

  /** IEEE-754 double, little-endian; keeps -0, NaN and the infinities. */
  writeFloat64(value: number): void {
    this.ensure(8);
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  /** Arbitrary-precision integer: varint (byte count × 2 + sign), then magnitude little-endian. */
  writeBigInt(value: bigint): void {
    const negative = value < 0n;
    let magnitude = negative ? -value : value;
    if (magnitude === 0n) {
      this.writeVarint(0);
      return;
    }
    const hex = magnitude.toString(16);
    const byteCount = (hex.length + 1) >> 1;
    this.writeVarint(byteCount * 2 + (negative ? 1 : 0));
    this.ensure(byteCount);
    const b = this.#bytes;
    let p = this.#length;
    if (byteCount <= 6) {
      let small = Number(magnitude);
      for (let i = 0; i < byteCount; i++) {
        b[p++] = small % 256;
        small = Math.floor(small / 256);
      }
    } else {
      for (let i = 0; i < byteCount; i++) {
        b[p++] = Number(magnitude & 0xffn);
        magnitude >>= 8n;
      }
    }
    this.#length = p;
  }

  /** Varint byte length, then the string's UTF-8 (WTF-8 for lone surrogates). */
  writeString(value: string): void {
    const units = value.length;
    if (units <= SHORT_STRING_UNITS_MAX) {
      // At most 3 bytes per unit keeps the byte length below 128: a one-byte length prefix.
      this.ensure(1 + units * 3);
      const start = this.#length + 1;
      const end = encodeWtf8(value, this.#bytes, start);
      this.#bytes[this.#length] = end - start;
      this.#length = end;
      return;
    }
    const reserved = varintSize(units * 3);
    this.ensure(reserved + units * 3);
    const start = this.#length + reserved;
    const end = isWellFormed(value)
      ? start + textEncoder.encodeInto(value, this.#bytes.subarray(start)).written
      : encodeWtf8(value, this.#bytes, start);
    const byteLength = end - start;
    const needed = varintSize(byteLength);
    if (needed !== reserved) this.#bytes.copyWithin(this.#length + needed, start, end);
    this.writeVarint(byteLength);
    this.#length += byteLength;
  }

  /** Varint length, then the bytes. */
  writeBytes(value: Uint8Array): void {
    this.writeVarint(value.length);
    this.writeRawBytes(value);
  }

  /** The bytes alone, no length: for fixed-size fields such as magic numbers. */
  writeRawBytes(value: Uint8Array): void {
    this.ensure(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
  }
}

/**
 * Reads what a BinaryWriter wrote. Every read checks bounds and throws a RangeError naming
 * the field and offset when the input is truncated or malformed, so a corrupt file is
 * reported rather than misread.
 *
 * @example
 * ```ts
 * const input = new BinaryReader(bytes);
 * const count = input.readVarint();
 * const name = input.readString();
 * ```
 */
export class BinaryReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #end: number;
  #position: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (start < 0 || end > bytes.length || start > end) {
      throw new RangeError(`BinaryReader range [${start}, ${end}) lies outside ${bytes.length} bytes`);
    }
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#position = start;
    this.#end = end;
  }

  /** Offset of the next byte to read, relative to the start of the underlying array. */
  get position(): number {
    return this.#position;
  }

  get remaining(): number {
    return this.#end - this.#position;
  }

  isAtEnd(): boolean {
    return this.#position >= this.#end;
  }

  #need(count: number, what: string): void {
    if (this.#end - this.#position < count) {
      throw new RangeError(
        `truncated input: reading ${what} needs ${count} byte(s) at offset ${this.#position}, but only ${this.#end - this.#position} remain`,
      );
    }
  }

  readU8(what = 'u8'): number {
    if (this.#position >= this.#end) this.#need(1, what);
    return this.#bytes[this.#position++];
  }

  readU32(what = 'u32'): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.#position, true);
    this.#position += 4;
    return value;
  }

  readVarint(what = 'varint'): number {
    const b = this.#bytes;
    let p = this.#position;
    // Fast path: one or two bytes cover every value below 16384.
    if (p < this.#end && b[p] < 0x80) {
      this.#position = p + 1;
      return b[p];
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (p >= this.#end) {
        this.#position = p;
        this.#need(1, what);
      }
      const byte = b[p++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) break;
        this.#position = p;
        return value;
      }
      scale *= 0x80;
    }
    throw new RangeError(`malformed ${what} at offset ${this.#position}: more than 2^53 or too many bytes`);
  }

  readZigZag(what = 'zigzag int'): number {
    const first = this.readU8(what);
    let m = (first >> 1) & 0x3f;
    if (first >= 0x80) m += this.readVarint(what) * 64;
    if (!Number.isSafeInteger(m)) throw new RangeError(`malformed ${what} before offset ${this.#position}`);
    return (first & 1) === 1 ? -m - 1 : m;
  }

  readFloat64(what = 'float64'): number {
    this.#need(8, what);
    const value = this.#view.getFloat64(this.#position, true);
    this.#position += 8;
    return value;
  }

  readBigInt(what = 'bigint'): bigint {
    const header = this.readVarint(what);
    const byteCount = Math.floor(header / 2);
    this.#need(byteCount, what);
    const b = this.#bytes;
    const start = this.#position;
    let magnitude: bigint;
    if (byteCount <= 6) {
      let small = 0;
      for (let i = byteCount - 1; i >= 0; i--) small = small * 256 + b[start + i];
      magnitude = BigInt(small);
    } else {
      magnitude = 0n;
      for (let i = byteCount - 1; i >= 0; i--) magnitude = (magnitude << 8n) | BigInt(b[start + i]);
    }
    this.#position = start + byteCount;
    return header % 2 === 1 ? -magnitude : magnitude;
  }

  readString(what = 'string'): string {
    const byteLength = this.readVarint(`${what} length`);
    this.#need(byteLength, what);
    const start = this.#position;
    const end = start + byteLength;
    this.#position = end;
    if (byteLength <= SHORT_STRING_BYTES_MAX) return decodeWtf8(this.#bytes, start, end, what);
    try {
      return textDecoderFatal.decode(this.#bytes.subarray(start, end));
    } catch {
      // Not plain UTF-8: lone surrogates (WTF-8) or corruption, which decodeWtf8 reports.
      return decodeWtf8(this.#bytes, start, end, what);
    }
  }

  /** Length-prefixed bytes, copied so the result does not pin or alias the input. */
  readBytes(what = 'bytes'): Uint8Array {
    const length = this.readVarint(`${what} length`);
    return this.readRawBytes(length, what).slice();
  }

  /** Moves past `length` bytes without reading them (checked like a read). */
  skip(length: number, what = 'bytes'): void {
    this.#need(length, what);
    this.#position += length;
  }

  /** `length` bytes without a prefix, as a view into the input (no copy). */
  readRawBytes(length: number, what = 'bytes'): Uint8Array {
    this.#need(length, what);
    const start = this.#position;
    this.#position += length;
    return this.#bytes.subarray(start, start + length);
  }
}

/** `String.prototype.isWellFormed` (ES2024), typed here because the project targets the ES2023 lib. */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Encodes `s` at `b[p…]` (room for 3 bytes per unit is guaranteed); returns the end offset. */
function encodeWtf8(s: string, b: Uint8Array, p: number): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[p++] = c;
    } else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[p++] = 0xf0 | (c >> 18);
          b[p++] = 0x80 | ((c >> 12) & 0x3f);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      // Includes lone surrogates, written as 3-byte sequences (WTF-8).
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

function decodeWtf8(b: Uint8Array, start: number, end: number, what: string): string {
  let out = '';
  let p = start;
  while (p < end) {
    const c = b[p];
    if (c < 0x80) {
      out += String.fromCharCode(c);
      p += 1;
    } else if (c >= 0xc0 && c < 0xe0 && p + 1 < end && (b[p + 1] & 0xc0) === 0x80) {
      out += String.fromCharCode(((c & 0x1f) << 6) | (b[p + 1] & 0x3f));
      p += 2;
    } else if (
      c >= 0xe0 &&
      c < 0xf0 &&
      p + 2 < end &&
      (b[p + 1] & 0xc0) === 0x80 &&
      (b[p + 2] & 0xc0) === 0x80
    ) {
      out += String.fromCharCode(((c & 0x0f) << 12) | ((b[p + 1] & 0x3f) << 6) | (b[p + 2] & 0x3f));
      p += 3;
    } else if (
      c >= 0xf0 &&
      c < 0xf8 &&
      p + 3 < end &&
      (b[p + 1] & 0xc0) === 0x80 &&
      (b[p + 2] & 0xc0) === 0x80 &&
      (b[p + 3] & 0xc0) === 0x80
    ) {
      const cp =
        ((c & 0x07) << 18) | ((b[p + 1] & 0x3f) << 12) | ((b[p + 2] & 0x3f) << 6) | (b[p + 3] & 0x3f);
      out += String.fromCodePoint(cp);
      p += 4;
    } else {
      throw new RangeError(`malformed ${what}: invalid UTF-8 byte 0x${c.toString(16)} at offset ${p}`);
    }
  }
  return out;
}

const CRC32C_POLYNOMIAL_REVERSED = 0x82f63b78;

/** Slicing-by-8 tables: table k maps a byte to its CRC contribution k bytes further on. */
const CRC32C_TABLES: readonly Uint32Array[] = buildCrc32cTables();

function buildCrc32cTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const base = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_POLYNOMIAL_REVERSED : c >>> 1;
    base[n] = c >>> 0;
  }
  tables.push(base);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1];
    const next = new Uint32Array(256);
    for (let n = 0; n < 256; n++) next[n] = (prev[n] >>> 8) ^ base[prev[n] & 0xff];
    tables.push(next);
  }
  return tables;
}

/**
 * CRC-32C (Castagnoli) of `bytes[start, end)`, as an unsigned 32-bit integer. Pass the CRC of
 * the preceding bytes as `previous` to checksum data that arrives in chunks.
 *
 * @example
 * ```ts
 * crc32c(new TextEncoder().encode('123456789')); // 0xe3069283
 * const whole = crc32c(second, 0, second.length, crc32c(first));
 * ```
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`crc32c range [${start}, ${end}) lies outside ${bytes.length} bytes`);
  }
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES;
  let crc = ~previous;
  let p = start;
  const blockEnd = start + ((end - start) & ~7);
  while (p < blockEnd) {
    const lo = crc ^ (bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24));
    crc =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[bytes[p + 4]] ^
      t2[bytes[p + 5]] ^
      t1[bytes[p + 6]] ^
      t0[bytes[p + 7]];
    p += 8;
  }
  while (p < end) crc = t0[(crc ^ bytes[p++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
