/** murmur3 of a key's canonical bytes; ASCII strings and numbers are hashed without writing the bytes out. */
import { KeyEncoder } from './key-encoding.ts';
import { murmur3Block, murmur3Finish, murmur3Tail, murmur3x86_32 } from './murmur3.ts';

const encoder = new KeyEncoder();
const scratch = new DataView(new ArrayBuffer(8));

/**
 * Equals `murmur3x86_32` over `KeyEncoder.encode(key)`'s bytes for every key: it is what key
 * groups are computed from, so it must never change (see the golden values in the tests).
 * The two most common key types take a direct path, since a keyed stream hashes every
 * record: a string of ASCII characters (any other string falls back to the encoder) and a
 * number. Throws UnhashableKeyError for values that cannot be keys.
 *
 * @example
 * ```ts
 * const keyGroup = keyHash('user-42') % 128;
 * ```
 */
export function keyHash(key: unknown): number {
  return keyHashInt32(key) >>> 0;
}

/**
 * The same hash as a signed 32-bit integer (the same bits). The record path uses this one:
 * an unsigned result above 2^31 would be a heap number, and its remainder a float operation.
 *
 * @example
 * ```ts
 * const keyGroup = (keyHashInt32('user-42') >>> 0) % (128 >>> 0);
 * ```
 */
export function keyHashInt32(key: unknown): number {
  if (typeof key === 'string') {
    const hash = asciiStringKeyHash(key);
    // A real hash that happens to equal NOT_ASCII takes the encoder path, which gives it again.
    if (hash !== NOT_ASCII) return hash;
  } else if (typeof key === 'number' && !Number.isNaN(key)) {
    return numberKeyHash(key);
  }
  const length = encoder.encode(key);
  return murmur3x86_32(encoder.bytes(), length) | 0;
}

/** What asciiStringKeyHash returns when it meets a non-ASCII character. */
const NOT_ASCII = -1;

/**
 * A string key's bytes are 0x01, its UTF-8 length as a 5-byte varint, then UTF-8; for ASCII
 * the characters are the bytes. Blocks: [0x01 v0 v1 v2] [v3 v4 c0 c1] [c2 c3 c4 c5] ...
 * Returns NOT_ASCII at the first non-ASCII character (the caller then uses the encoder).
 */
function asciiStringKeyHash(s: string): number {
  const n = s.length;
  const v0 = (n & 0x7f) | 0x80;
  const v1 = ((n >>> 7) & 0x7f) | 0x80;
  const v2 = ((n >>> 14) & 0x7f) | 0x80;
  const v3 = ((n >>> 21) & 0x7f) | 0x80;
  const v4 = n >>> 28;
  let h = murmur3Block(0, 0x01 | (v0 << 8) | (v1 << 16) | (v2 << 24));
  if (n < 2) {
    // Bytes from 4 on are [v3 v4] or [v3 v4 c0]: the tail.
    let k = v3 | (v4 << 8);
    if (n === 1) {
      const c0 = s.charCodeAt(0);
      if (c0 > 0x7f) return NOT_ASCII;
      k |= c0 << 16;
    }
    return murmur3Finish(murmur3Tail(h, k), n + 6) | 0;
  }
  const c0 = s.charCodeAt(0);
  const c1 = s.charCodeAt(1);
  if ((c0 | c1) > 0x7f) return NOT_ASCII;
  h = murmur3Block(h, v3 | (v4 << 8) | (c0 << 16) | (c1 << 24));
  const blockEnd = n - ((n - 2) & 3);
  let i = 2;
  for (; i < blockEnd; i += 4) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    const c = s.charCodeAt(i + 2);
    const d = s.charCodeAt(i + 3);
    if ((a | b | c | d) > 0x7f) return NOT_ASCII;
    h = murmur3Block(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  const tail = n - i;
  if (tail !== 0) {
    const t0 = s.charCodeAt(i);
    const t1 = tail >= 2 ? s.charCodeAt(i + 1) : 0;
    const t2 = tail === 3 ? s.charCodeAt(i + 2) : 0;
    if ((t0 | t1 | t2) > 0x7f) return NOT_ASCII;
    h = murmur3Tail(h, t0 | (t1 << 8) | (t2 << 16));
  }
  return murmur3Finish(h, n + 6) | 0;
}

/** A number key's bytes are 0x02 and the float64 big-endian (-0 as 0): [02 b0 b1 b2] [b3 b4 b5 b6] [b7]. */
function numberKeyHash(value: number): number {
  scratch.setFloat64(0, value === 0 ? 0 : value);
  const hi = scratch.getUint32(0);
  const lo = scratch.getUint32(4);
  let h = murmur3Block(
    0,
    0x02 | ((hi >>> 24) << 8) | (((hi >>> 16) & 0xff) << 16) | (((hi >>> 8) & 0xff) << 24),
  );
  h = murmur3Block(
    h,
    (hi & 0xff) | ((lo >>> 24) << 8) | (((lo >>> 16) & 0xff) << 16) | (((lo >>> 8) & 0xff) << 24),
  );
  return murmur3Finish(murmur3Tail(h, lo & 0xff), 9) | 0;
}
