import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapKeyHash, SlotIndex, slotSalt, slotTag } from '../../../src/state/backends/disk/slot-index.ts';
import { CacheSlot, type SlotOwner } from '../../../src/state/backends/disk/write-back-cache.ts';
import { VOID_NAMESPACE } from '../../../src/state/keyed-state.ts';

const owners: SlotOwner[] = [0, 1].map(() => ({ evict: () => {}, writeBack: () => {} }));

describe('SlotIndex', () => {
  it('finds exactly the slots a Map of (owner, group, key) holds, through collisions, wrap-around, removals and growth', () => {
    const op = fc.record({
      remove: fc.boolean(),
      owner: fc.nat(1),
      group: fc.nat(2),
      key: fc.nat(3_000),
      // Few distinct tags, some near the table's end: long runs that wrap and collide.
      tag: fc.oneof(fc.constantFrom(1, 2, 1_023, 1_024, 2_047, -1), fc.integer({ min: 1, max: 2 ** 31 - 1 })),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 3_000, size: 'max' }), (ops) => {
        const index = new SlotIndex();
        const model = new Map<string, CacheSlot>();
        for (const { remove, owner, group, key, tag } of ops) {
          const id = `${owner}/${group}/${key}`;
          const mapKey = `user-${key}`;
          const held = model.get(id);
          if (remove && held !== undefined) {
            index.remove(held);
            model.delete(id);
          } else if (!remove && held === undefined) {
            const slot = new CacheSlot(owners[owner], group, mapKey, VOID_NAMESPACE, key, false);
            slot.tag = tag;
            index.insert(slot);
            model.set(id, slot);
          }
          expect(index.size).toBe(model.size);
        }
        // Every held slot is found under its own tag; an absent (owner, group, key) is not found under any tag it was given.
        for (const slot of model.values()) {
          expect(index.find(slot.owner, slot.groupIndex, slot.mapKey, slot.tag)).toBe(slot);
        }
        for (const { owner, group, key, tag } of ops) {
          const held = model.get(`${owner}/${group}/${key}`);
          if (held === undefined)
            expect(index.find(owners[owner], group, `user-${key}`, tag)).toBeUndefined();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('says which slot is missing when asked to remove one it does not hold', () => {
    const index = new SlotIndex();
    const slot = new CacheSlot(owners[0], 0, 'k', VOID_NAMESPACE, 1, false);
    slot.tag = 7;
    expect(() => index.remove(slot)).toThrow(/tag 7 is not in the table/);
  });

  it('hashes keys a Map treats as one alike, and tags are never 0 (an empty entry)', () => {
    expect(mapKeyHash(0)).toBe(mapKeyHash(-0));
    expect(mapKeyHash('abc')).toBe(mapKeyHash(['a', 'b', 'c'].join('')));
    expect(mapKeyHash(2 ** 40)).toBe(mapKeyHash(2 ** 40));
    expect(mapKeyHash(10n)).toBe(mapKeyHash(10n));
    fc.assert(
      fc.property(fc.integer(), fc.nat(65_535), (hash, stateId) => {
        expect(slotTag(hash, slotSalt(stateId))).not.toBe(0);
      }),
    );
  });
});
