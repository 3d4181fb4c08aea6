/** Seeded randomness, so that any run (and any injected failure) replays from its seed. */

/** A source of uniformly distributed numbers in [0, 1). */
export interface RandomSource {
  next(): number;
  /** An integer in [0, bound). */
  nextInt(bound: number): number;
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded through splitmix32. */
export class SeededRandom implements RandomSource {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    let s = this.seed;
    const mix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  nextInt(bound: number): number {
    return Math.floor(this.next() * bound);
  }
}
