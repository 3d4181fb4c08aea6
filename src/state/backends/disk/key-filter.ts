/** A Bloom filter of every key written to a disk backend's store: a read of a key it rules out skips lmdb. */

/** The filter's default size per store: about 6.7 M keys at 10 bits each (see docs/state-backends.md, Key filter). */
export const KEY_FILTER_BYTES_DEFAULT = 8 * 1024 * 1024;
/** Bits one block holds: a cache line (64 bytes), so a lookup touches one line of memory. */
const BLOCK_BITS = 512;
const BLOCK_WORDS = BLOCK_BITS / 32;
/** Bits set per key; with about 10 bits per key this gives 1–2 % false positives. */
const BITS_PER_KEY = 4;
/**
 * Share of set bits at which the filter turns itself off: by then about a third of the absent
 * keys pass it (0.75⁴), and it only grows worse, so it stops costing a lookup per read.
 */
const SATURATED_SHARE = 0.75;

/**
 * A blocked Bloom filter (Putze, Sanders and Singler, "Cache-, Hash- and Space-Efficient
 * Bloom Filters", 2007) over the store keys' 32-bit hashes: a key's bits all lie in one
 * 64-byte block. It never forgets a key (removals leave their bits), so a "no" is certain:
 * the store holds no entry under a key it rules out, and no write of it is in flight. Reads
 * of keys never written, such as every key's first access in a stream of new keys, then
 * skip lmdb's B-tree walk (RocksDB's Bloom filters do the same for its files).
 *
 * Its size is fixed. Once SATURATED_SHARE of its bits are set it is off for good (every key
 * may be held) and its memory is released: a store that outgrows it reads as if it had none.
 */
export class KeyFilter {
  #words: Int32Array;
  readonly #blockShift: number;
  readonly #bitsOffAt: number;
  #bitsSet = 0;
  #ruledOut = 0;
  readonly bytes: number;

  /** `bytes` rounds down to a power of two of at least one block. */
  constructor(bytes: number) {
    let blocks = 1;
    while (blocks * 2 * (BLOCK_BITS / 8) <= bytes) blocks *= 2;
    this.bytes = (blocks * BLOCK_BITS) / 8;
    this.#words = new Int32Array(blocks * BLOCK_WORDS);
    this.#blockShift = 32 - Math.log2(blocks);
    this.#bitsOffAt = Math.floor(blocks * BLOCK_BITS * SATURATED_SHARE);
  }

  /** False once the filter is saturated: it then rules nothing out. */
  get isOn(): boolean {
    return this.#words.length !== 0;
  }

  /** Counters for tests, benchmarks and docs: the share of bits set, and the lookups it answered "absent". */
  stats(): {
    readonly on: boolean;
    readonly bytes: number;
    readonly setShare: number;
    readonly ruledOut: number;
  } {
    const bits = (this.bytes * 8) | 0;
    return { on: this.isOn, bytes: this.bytes, setShare: this.#bitsSet / bits, ruledOut: this.#ruledOut };
  }

  /** Records a key by its hash (`hashKey` of its bytes). */
  add(hash: number): void {
    const words = this.#words;
    if (words.length === 0) return;
    const base = this.#blockOf(hash);
    let x = hash;
    for (let i = 0; i < BITS_PER_KEY; i++) {
      x = nextBits(x);
      const word = base + (x >>> 28);
      const mask = 1 << ((x >>> 23) & 31);
      if ((words[word] & mask) === 0) {
        words[word] |= mask;
        this.#bitsSet++;
      }
    }
    if (this.#bitsSet >= this.#bitsOffAt) this.#words = new Int32Array(0);
  }

  /** False only if no key with this hash was ever added (while the filter was on). */
  mayHold(hash: number): boolean {
    const words = this.#words;
    if (words.length === 0) return true;
    const base = this.#blockOf(hash);
    let x = hash;
    for (let i = 0; i < BITS_PER_KEY; i++) {
      x = nextBits(x);
      if ((words[base + (x >>> 28)] & (1 << ((x >>> 23) & 31))) === 0) {
        this.#ruledOut++;
        return false;
      }
    }
    return true;
  }

  /** The first word of the hash's block: from the top bits of a multiplicative hash (Fibonacci hashing). */
  #blockOf(hash: number): number {
    return this.#blockShift === 32 ? 0 : (Math.imul(hash, 0x9e3779b1) >>> this.#blockShift) * BLOCK_WORDS;
  }
}

/** The next 32 pseudo-random bits from `x` (a multiply-xorshift round): the top 9 give one bit's position in the block (word, then bit). */
function nextBits(x: number): number {
  const y = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return y ^ (y >>> 13);
}
