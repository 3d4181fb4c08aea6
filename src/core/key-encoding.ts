/**
 * Canonical bytes of a key: the same key gives the same bytes in every process, restart and
 * version, so its key group never moves. Format (version 1), one tag byte per value:
 * string 0x01 + varint length + UTF-8; number 0x02 + float64 big-endian (-0 as 0);
 * bigint 0x03 + varint length + decimal ASCII; boolean 0x04 + 0|1;
 * array 0x05 + varint count + elements; plain object 0x06 + varint count + (key, value)
 * pairs sorted by key (keys encoded as strings).
 */

/** A key must be one of these, recursively: anything else has no stable identity. */
export type KeyValue =
  | string
  | number
  | bigint
  | boolean
  | readonly KeyValue[]
  | { readonly [field: string]: KeyValue };

/** Thrown for undefined, null, NaN, functions, symbols and class instances used as keys. */
export class UnhashableKeyError extends TypeError {
  override name = 'UnhashableKeyError';
}

const MAX_DEPTH = 32;

/** Appends canonical bytes into a growable buffer owned by one encoder; not re-entrant. */
export class KeyEncoder {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  /** Encodes `key`; the bytes are valid in `bytes()[0, length)` until the next call. */
  encode(key: unknown): number {
    this.#length = 0;
    this.#writeValue(key, 0, '');
    return this.#length;
  }

  bytes(): Uint8Array {
    return this.#bytes;
  }

  #ensure(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = next;
    this.#view = new DataView(next.buffer);
  }

  #byte(b: number): void {
    this.#ensure(1);
    this.#bytes[this.#length++] = b;
  }

  #varint(n: number): void {
    this.#ensure(5);
    while (n >= 0x80) {
      this.#bytes[this.#length++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.#bytes[this.#length++] = n;
  }

  #string(s: string): void {
    // Worst case 3 bytes per UTF-16 unit; length prefix written after encoding.
    this.#ensure(5 + s.length * 3);
    const lengthAt = this.#length;
    this.#length += 5;
    const start = this.#length;
    const b = this.#bytes;
    let p = start;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        b[p++] = c;
      } else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[p++] = 0xf0 | (c >> 18);
          b[p++] = 0x80 | ((c >> 12) & 0x3f);
          b[p++] = 0x80 | ((c >> 6) & 0x3f);
          b[p++] = 0x80 | (c & 0x3f);
        } else {
          b[p++] = 0xef;
          b[p++] = 0xbf;
          b[p++] = 0xbd;
        }
      } else if (c >= 0xd800 && c <= 0xdfff) {
        // A lone surrogate has no UTF-8 form: encode U+FFFD, as TextEncoder does.
        b[p++] = 0xef;
        b[p++] = 0xbf;
        b[p++] = 0xbd;
      } else {
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      }
    }
    const n = p - start;
    // Fixed 5-byte varint slot keeps the format canonical regardless of length.
    let v = n;
    for (let k = 0; k < 4; k++) {
      b[lengthAt + k] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[lengthAt + 4] = v;
    this.#length = p;
  }

  #writeValue(value: unknown, depth: number, path: string): void {
    switch (typeof value) {
      case 'string':
        this.#byte(0x01);
        this.#string(value);
        return;
      case 'number':
        if (Number.isNaN(value)) throw new UnhashableKeyError(`key${path} is NaN, which is not a usable key`);
        this.#byte(0x02);
        this.#ensure(8);
        this.#view.setFloat64(this.#length, value === 0 ? 0 : value);
        this.#length += 8;
        return;
      case 'bigint': {
        this.#byte(0x03);
        const text = value.toString(10);
        this.#varint(text.length);
        this.#ensure(text.length);
        for (let i = 0; i < text.length; i++) this.#bytes[this.#length++] = text.charCodeAt(i);
        return;
      }
      case 'boolean':
        this.#byte(0x04);
        this.#byte(value ? 1 : 0);
        return;
      case 'object':
        if (value === null) throw new UnhashableKeyError(`key${path} is null, which is not a usable key`);
        if (depth >= MAX_DEPTH)
          throw new UnhashableKeyError(`key${path} nests deeper than ${MAX_DEPTH} levels`);
        if (Array.isArray(value)) {
          this.#byte(0x05);
          this.#varint(value.length);
          for (let i = 0; i < value.length; i++) this.#writeValue(value[i], depth + 1, `${path}[${i}]`);
          return;
        }
        if (isPlainObject(value)) {
          const fields = Object.keys(value).sort();
          this.#byte(0x06);
          this.#varint(fields.length);
          for (const field of fields) {
            this.#string(field);
            this.#writeValue((value as Record<string, unknown>)[field], depth + 1, `${path}.${field}`);
          }
          return;
        }
        throw new UnhashableKeyError(
          `key${path} is a ${value.constructor?.name ?? 'object'} instance; keys must be strings, numbers, bigints, booleans, arrays or plain objects of those`,
        );
      default:
        throw new UnhashableKeyError(
          `key${path} is ${value === undefined ? 'undefined' : `a ${typeof value}`}; keys must be strings, numbers, bigints, booleans, arrays or plain objects of those`,
        );
    }
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
