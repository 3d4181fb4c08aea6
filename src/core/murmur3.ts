/** MurmurHash3 x86 32-bit (Austin Appleby's public-domain algorithm) over a byte range. */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hashes `bytes[0, length)`; the result is an unsigned 32-bit integer. */
export function murmur3x86_32(bytes: Uint8Array, length: number, seed = 0): number {
  let h = seed | 0;
  const blockEnd = length & ~3;
  for (let i = 0; i < blockEnd; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blockEnd + 2] << 16;
    if (tail >= 2) k ^= bytes[blockEnd + 1] << 8;
    k ^= bytes[blockEnd];
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
