/** The fast key hash must equal murmur3 over the canonical key bytes for every key, or key groups would move. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyEncoder } from '../../src/core/key-encoding.ts';
import { keyHash } from '../../src/core/key-hash.ts';
import { murmur3x86_32 } from '../../src/core/murmur3.ts';

const encoder = new KeyEncoder();

function reference(key: unknown): number {
  const length = encoder.encode(key);
  return murmur3x86_32(encoder.bytes(), length);
}

describe('keyHash', () => {
  it('equals murmur3 of the canonical bytes for ASCII and other strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ minLength: 0, maxLength: 200 })),
        (s) => {
          expect(keyHash(s)).toBe(reference(s));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('equals murmur3 of the canonical bytes for numbers, including -0, integers and extremes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer(),
          fc.double({ noNaN: true }),
          fc.constantFrom(
            -0,
            0,
            2 ** 53,
            -(2 ** 53),
            Number.MAX_VALUE,
            Number.MIN_VALUE,
            Infinity,
            -Infinity,
          ),
        ),
        (n) => {
          expect(keyHash(n)).toBe(reference(n));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('equals murmur3 of the canonical bytes for composite keys and other primitives', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.bigInt(),
          fc.boolean(),
          fc.array(fc.oneof(fc.string(), fc.integer())),
          fc.dictionary(fc.string(), fc.integer()),
        ),
        (key) => {
          expect(keyHash(key)).toBe(reference(key));
        },
      ),
      { numRuns: 500 },
    );
  });
});
