/** Tests of key-group assignment: golden values, determinism, structural equality, ranges and unhashable keys. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnhashableKeyError } from '../../src/core/key-encoding.ts';
import {
  assignToKeyGroup,
  computeKeyGroupRange,
  DEFAULT_MAX_PARALLELISM,
  keyGroupRangeContains,
  keyGroupRangeSize,
  operatorIndexForKeyGroup,
} from '../../src/state/key-groups.ts';
import { keyArbitrary } from './key-arbitrary.ts';

/**
 * Computed once with the version-1 key encoding and murmur3; a change here moves keys to
 * other key groups and breaks every existing checkpoint and savepoint.
 */
const GOLDEN_MAX_PARALLELISM_128: readonly (readonly [unknown, number])[] = [
  ['', 45],
  ['a', 47],
  ['user-1', 62],
  ['user-2', 25],
  ['héllo', 78],
  ['😀', 119],
  ['x'.repeat(100), 36],
  ['Weir', 104],
  ['key group', 118],
  ['\u0001', 76],
  [0, 25],
  [-0, 25],
  [1, 71],
  [-1, 74],
  [42, 74],
  [3.14, 123],
  [-0.5, 2],
  [1e21, 112],
  [2 ** 53, 109],
  [Number.POSITIVE_INFINITY, 58],
  [-7, 111],
  [0n, 16],
  [1n, 101],
  [-1n, 77],
  [12345678901234567890n, 88],
  [42n, 36],
  [2n ** 64n, 26],
  [-99n, 0],
  [7n, 69],
  [100n, 119],
  [1000n, 5],
  [true, 6],
  [false, 6],
  [[], 105],
  [[1], 108],
  [['a', 'b'], 9],
  [[1, 'a', true], 72],
  [[[1, 2], [3]], 102],
  [{ a: 1 }, 79],
  [{ b: 'x', a: [1, 2] }, 22],
  [{ user: 'u', region: 'eu' }, 126],
  [[{ k: 1n }], 30],
  [{}, 97],
];

describe('assignToKeyGroup', () => {
  it('keeps the golden key groups of the version-1 key encoding', () => {
    for (const [key, group] of GOLDEN_MAX_PARALLELISM_128) {
      expect(assignToKeyGroup(key, DEFAULT_MAX_PARALLELISM), `key ${String(key)}`).toBe(group);
    }
  });

  it('gives the same key the same group, always within [0, maxParallelism)', () => {
    fc.assert(
      fc.property(keyArbitrary, fc.integer({ min: 1, max: 32_768 }), (key, maxParallelism) => {
        const group = assignToKeyGroup(key, maxParallelism);
        expect(Number.isInteger(group)).toBe(true);
        expect(group).toBeGreaterThanOrEqual(0);
        expect(group).toBeLessThan(maxParallelism);
        expect(assignToKeyGroup(structuredClone(key), maxParallelism)).toBe(group);
      }),
    );
  });

  it('puts structurally equal composite keys (fields in any order) in the same group', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), keyArbitrary, { maxKeys: 6 }), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse());
        expect(assignToKeyGroup(reversed, 128)).toBe(assignToKeyGroup(record, 128));
      }),
    );
    expect(assignToKeyGroup({ a: 1, b: [2, { c: 'x', d: 'y' }] }, 128)).toBe(
      assignToKeyGroup({ b: [2, { d: 'y', c: 'x' }], a: 1 }, 128),
    );
  });

  it('spreads many keys over all groups', () => {
    const counts = new Array(128).fill(0);
    for (let i = 0; i < 12_800; i++) counts[assignToKeyGroup(`key-${i}`, 128)]++;
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(150);
  });

  it('throws UnhashableKeyError naming the problem for values that cannot be keys', () => {
    class Point {
      x = 1;
    }
    const cases: [unknown, RegExp][] = [
      [undefined, /undefined/],
      [null, /null/],
      [Number.NaN, /NaN/],
      [() => 1, /function/],
      [Symbol('s'), /symbol/],
      [new Point(), /Point instance/],
      [new Map([[1, 2]]), /Map instance/],
      [{ user: { id: undefined } }, /key\.user\.id is undefined/],
      [[1, [2, null]], /key\[1\]\[1\] is null/],
    ];
    for (const [key, message] of cases) {
      expect(() => assignToKeyGroup(key, 128)).toThrow(UnhashableKeyError);
      expect(() => assignToKeyGroup(key, 128)).toThrow(message);
    }
  });
});

describe('computeKeyGroupRange and operatorIndexForKeyGroup', () => {
  it('split [0, maxParallelism) into contiguous, non-overlapping, non-empty ranges', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 1024 })
          .chain((maxParallelism) =>
            fc.tuple(fc.constant(maxParallelism), fc.integer({ min: 1, max: maxParallelism })),
          ),
        ([maxParallelism, parallelism]) => {
          let next = 0;
          for (let index = 0; index < parallelism; index++) {
            const range = computeKeyGroupRange(maxParallelism, parallelism, index);
            expect(range.start).toBe(next);
            expect(keyGroupRangeSize(range)).toBeGreaterThanOrEqual(1);
            next = range.end + 1;
          }
          expect(next).toBe(maxParallelism);
        },
      ),
    );
  });

  it('covers every parallelism 1..128 for the default maxParallelism, and the owner lookup inverts it', () => {
    for (let parallelism = 1; parallelism <= DEFAULT_MAX_PARALLELISM; parallelism++) {
      let next = 0;
      for (let index = 0; index < parallelism; index++) {
        const range = computeKeyGroupRange(DEFAULT_MAX_PARALLELISM, parallelism, index);
        expect(range.start).toBe(next);
        for (let group = range.start; group <= range.end; group++) {
          expect(keyGroupRangeContains(range, group)).toBe(true);
          expect(operatorIndexForKeyGroup(DEFAULT_MAX_PARALLELISM, parallelism, group)).toBe(index);
        }
        next = range.end + 1;
      }
      expect(next).toBe(DEFAULT_MAX_PARALLELISM);
    }
  });

  it('routes every key to the subtask whose range holds its group', () => {
    fc.assert(
      fc.property(keyArbitrary, fc.integer({ min: 1, max: 128 }), (key, parallelism) => {
        const group = assignToKeyGroup(key, 128);
        const index = operatorIndexForKeyGroup(128, parallelism, group);
        expect(keyGroupRangeContains(computeKeyGroupRange(128, parallelism, index), group)).toBe(true);
      }),
    );
  });

  it('measures ranges, empty ones included', () => {
    expect(keyGroupRangeSize({ start: 3, end: 9 })).toBe(7);
    expect(keyGroupRangeSize({ start: 3, end: 2 })).toBe(0);
    expect(keyGroupRangeContains({ start: 3, end: 2 }, 3)).toBe(false);
  });
});
