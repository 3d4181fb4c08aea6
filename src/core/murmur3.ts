/** MurmurHash3 x86 32-bit (Austin Appleby's public-domain algorithm) over a byte range, and its steps. */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hashes `bytes[0, length)`; the result is an unsigned 32-bit integer. */
export function murmur3x86_32(bytes: Uint8Array, length: number, seed = 0): number {
  let h = seed | 0;
  const blockEnd = length & ~3;
  for (let i = 0; i < blockEnd; i += 4) {
    h = murmur3Block(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blockEnd + 2] << 16;
    if (tail >= 2) k ^= bytes[blockEnd + 1] << 8;
    k ^= bytes[blockEnd];
    h = murmur3Tail(h, k);
  }
  return murmur3Finish(h, length);
}

/** Mixes one 4-byte block (little-endian) into the state `h`. */
export function murmur3Block(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Mixes the last 1 to 3 bytes (little-endian in `k`) into the state `h`. */
export function murmur3Tail(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

/** The final avalanche over the state and the total length in bytes; unsigned 32-bit. */
export function murmur3Finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
