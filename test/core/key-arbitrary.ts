/** A fast-check arbitrary of stream keys, shared by the key-group and state-backend tests. */
import fc from 'fast-check';

/** A stream key the encoder accepts, nested a little. */
export const keyArbitrary: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  primitive: fc.oneof(fc.string(), fc.double({ noNaN: true }), fc.integer(), fc.bigInt(), fc.boolean()),
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('primitive'),
    fc.array(tie('key'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('key'), { maxKeys: 4 }),
  ),
})).key;
