/**
 * The write-back cache's own rules, with a recording slot owner standing in for a state table
 * (the disk backend's conformance suites run the real tables over a two-slot cache): a full
 * cache writes back whole key groups in turn and evicts clean slots, and no write is lost or
 * duplicated whatever the order of admissions, writes and flushes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CacheSlot,
  type SlotOwner,
  WriteBackCache,
} from '../../../src/state/backends/disk/write-back-cache.ts';
import { VOID_NAMESPACE } from '../../../src/state/keyed-state.ts';

/** A table that keeps its slots in a Map and records every write-back as `group/key=value`. */
class RecordingOwner implements SlotOwner {
  readonly slots = new Map<string, CacheSlot>();
  readonly store = new Map<string, unknown>();
  readonly writes: string[] = [];
  readonly #cache: WriteBackCache;

  constructor(cache: WriteBackCache) {
    this.#cache = cache;
  }

  set(groupIndex: number, key: string, value: unknown): void {
    const id = `${groupIndex}/${key}`;
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.#cache.acquire(this, groupIndex, key, VOID_NAMESPACE, undefined, this.store.has(id));
      this.slots.set(id, slot);
    }
    slot.referenced = true;
    slot.cell = value;
    if (!slot.dirty) this.#cache.markDirty(slot);
  }

  /** The value a read sees: the cached cell, else the store's. */
  get(groupIndex: number, key: string): unknown {
    const id = `${groupIndex}/${key}`;
    const slot = this.slots.get(id);
    return slot !== undefined ? slot.cell : this.store.get(id);
  }

  evict(slot: CacheSlot): void {
    if (slot.dirty) this.writeBack(slot);
    this.slots.delete(`${slot.groupIndex}/${slot.mapKey}`);
  }

  writeBack(slot: CacheSlot): void {
    slot.dirty = false;
    const id = `${slot.groupIndex}/${slot.mapKey}`;
    this.store.set(id, slot.cell);
    this.writes.push(`${id}=${String(slot.cell)}`);
  }
}

describe('WriteBackCache', () => {
  it('writes back whole key groups in turn while a full cache is over its dirty share, and evicts clean slots', () => {
    const cache = new WriteBackCache(6, 0.5); // at most 3 dirty while evicting
    const owner = new RecordingOwner(cache);
    owner.set(0, 'a', 1);
    owner.set(1, 'b', 2);
    owner.set(0, 'c', 3);
    owner.set(1, 'd', 4);
    owner.set(0, 'e', 5);
    owner.set(2, 'f', 6);
    expect(owner.writes).toEqual([]); // a cache that is not full writes nothing back
    owner.set(3, 'g', 7); // 6 dirty: group 0 goes whole, then the hand evicts 0/a (clean now)
    expect(owner.writes).toEqual(['0/a=1', '0/c=3', '0/e=5']);
    expect(owner.slots.has('0/a')).toBe(false);
    expect(owner.slots.get('0/c')?.dirty).toBe(false);
    owner.set(3, 'h', 8); // 4 dirty (b, d, f, g): group 1's turn
    expect(owner.writes.slice(3)).toEqual(['1/b=2', '1/d=4']);
    owner.set(3, 'i', 9); // 3 dirty: nothing written; the hand evicts 0/c, clean
    expect(owner.writes).toHaveLength(5);
    expect(owner.slots.has('0/c')).toBe(false);
    owner.set(4, 'j', 10); // 4 dirty: group 2's turn (group 3 would come next)
    expect(owner.writes.slice(5)).toEqual(['2/f=6']);
    cache.flush();
    expect(owner.writes.slice(6).sort()).toEqual(['3/g=7', '3/h=8', '3/i=9', '4/j=10']);
    expect(cache.stats().writeBacks).toBe(10);
  });

  it('writes back at most two slots per eviction when a hot set keeps the cache over its dirty share', () => {
    const cache = new WriteBackCache(100);
    const owner = new RecordingOwner(cache);
    let cold = 0;
    for (let i = 0; i < 20_000; i++) {
      if (i % 10 === 9) {
        owner.set(cold % 8, `cold-${cold}`, i);
        cold++;
      } else {
        const hot = i % 80; // 80 hot keys, each written again within 90 operations
        owner.set(hot % 8, `hot-${hot}`, i);
      }
    }
    const { evictions, writeBacks } = cache.stats();
    expect(evictions).toBeGreaterThan(1_900);
    // One write per evicted cold key is the floor; a group's write-back also takes its hot keys along.
    expect(writeBacks).toBeGreaterThanOrEqual(evictions - 100);
    expect(writeBacks).toBeLessThanOrEqual(2 * evictions + 100);
  });

  it('passes dirty slots by and evicts a clean one, writing nothing', () => {
    const cache = new WriteBackCache(4);
    const owner = new RecordingOwner(cache);
    for (const [group, key] of [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ] as const) {
      owner.set(group, key, 1);
    }
    cache.flush();
    owner.set(0, 'a', 2); // dirty again, and the hand's next victim once bits are cleared
    owner.set(5, 'e', 1);
    expect(owner.writes).toHaveLength(4);
    expect(owner.slots.has('0/a')).toBe(true);
    expect(owner.slots.has('1/b')).toBe(false);
    cache.flush();
    expect(owner.writes.slice(4).sort()).toEqual(['0/a=2', '5/e=1']);
  });

  it('flushes one owner’s dirty slots and keeps the others listed', () => {
    const cache = new WriteBackCache(8);
    const first = new RecordingOwner(cache);
    const second = new RecordingOwner(cache);
    first.set(0, 'a', 1);
    second.set(0, 'b', 2);
    first.set(1, 'c', 3);
    cache.flush(first);
    expect(first.writes.sort()).toEqual(['0/a=1', '1/c=3']);
    expect(second.writes).toEqual([]);
    cache.flush();
    expect(second.writes).toEqual(['0/b=2']);
    expect(first.writes).toHaveLength(2);
  });

  it('loses no write and writes nothing twice over random admissions, writes and flushes', () => {
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        group: fc.nat(5),
        key: fc.nat(30),
        value: fc.nat(1000),
      }),
      fc.record({ kind: fc.constant('flush' as const) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(operation, { maxLength: 300 }),
        (capacity, operations) => {
          const cache = new WriteBackCache(capacity);
          const owner = new RecordingOwner(cache);
          const model = new Map<string, unknown>();
          let dirtyWrites = 0;
          for (const op of operations) {
            if (op.kind === 'flush') {
              cache.flush();
              continue;
            }
            const id = `${op.group}/${op.key}`;
            if (owner.slots.get(id)?.dirty !== true) dirtyWrites++;
            owner.set(op.group, `${op.key}`, op.value);
            model.set(id, op.value);
            for (const [key, value] of model)
              expect(owner.get(Number(key.split('/')[0]), key.split('/')[1])).toBe(value);
          }
          cache.flush();
          expect(owner.store).toEqual(model);
          // One write-back per stretch of dirtiness: a slot written back while clean would be a duplicate.
          expect(owner.writes).toHaveLength(dirtyWrites);
          expect(owner.slots.size).toBeLessThanOrEqual(capacity);
        },
      ),
      { numRuns: 300 },
    );
  });
});
