/** Runs the keyed-state-backend conformance suite on the heap backend, plus heap-specific checks (cleanup, copy-on-write layout). */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.ts';
import {
  HeapKeyedStateBackend,
  hashMapStateBackend,
  TTL_CLEANUP_ENTRIES_PER_ACCESS,
} from '../../src/state/backends/heap/index.ts';
import { assignToKeyGroup } from '../../src/state/key-groups.ts';
import { listState, mapState, valueState } from '../../src/state/state-descriptors-factory.ts';
import { runKeyedStateBackendConformance } from './keyed-state-backend-conformance.ts';

runKeyedStateBackendConformance('heap', hashMapStateBackend);

const MAX_PARALLELISM = 128;

function heapBackend(clock = new ManualClock(0)): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend({
    operatorId: 'heap-test',
    keyGroupRange: { start: 0, end: MAX_PARALLELISM - 1 },
    maxParallelism: MAX_PARALLELISM,
    clock,
  });
}

const at = (backend: HeapKeyedStateBackend, key: unknown): void =>
  backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));

/** Entries physically held by a state's table, expired or not. */
function storedEntries(backend: HeapKeyedStateBackend, stateName: string): number {
  let count = 0;
  for (const group of backend.stateTables().get(stateName)!.shareGroups()) {
    count += group.voidMap?.size ?? 0;
    for (const cells of group.namespaceMap?.values() ?? []) count += cells.size;
  }
  return count;
}

describe('hashMapStateBackend', () => {
  it('is named hashmap and builds heap backends', () => {
    expect(hashMapStateBackend.name).toBe('hashmap');
    const backend = hashMapStateBackend.create({
      operatorId: 'op',
      keyGroupRange: { start: 0, end: 127 },
      maxParallelism: 128,
      clock: new ManualClock(),
    });
    expect(backend).toBeInstanceOf(HeapKeyedStateBackend);
    expect(backend.prefetch(['a'], [assignToKeyGroup('a', 128)])).toBeUndefined();
  });

  it('refuses a key-group range outside [0, maxParallelism)', () => {
    const create = (start: number, end: number, maxParallelism = 128) =>
      new HeapKeyedStateBackend({
        operatorId: 'op',
        keyGroupRange: { start, end },
        maxParallelism,
        clock: new ManualClock(),
      });
    expect(() => create(0, 128)).toThrow(/range \[0, 128\]/);
    expect(() => create(-1, 3)).toThrow(/range/);
    expect(() => create(0, 3, 0)).toThrow(/maxParallelism/);
  });
});

describe('heap TTL incremental cleanup', () => {
  it('removes expired entries of keys that are never accessed again, a few per access', () => {
    const clock = new ManualClock(0);
    const backend = heapBackend(clock);
    const state = backend.getValueState(valueState<number>('session', { ttl: { ttlMs: 10 } }));
    for (let i = 0; i < 200; i++) {
      at(backend, `gone-${i}`);
      state.update(i);
    }
    clock.advance(10);
    expect(storedEntries(backend, 'session')).toBe(200);
    at(backend, 'active');
    state.update(0);
    expect(storedEntries(backend, 'session')).toBeGreaterThanOrEqual(201 - TTL_CLEANUP_ENTRIES_PER_ACCESS);
    // Each access inspects a bounded number of entries; empty groups count as steps too.
    for (let i = 0; i < 2 * (200 + 2 * MAX_PARALLELISM); i++) state.value();
    expect(storedEntries(backend, 'session')).toBe(1);
    expect([...backend.keys('session')]).toEqual(['active']);
  });

  it('purges expired list elements and map entries of other keys, and namespaced state', () => {
    const clock = new ManualClock(0);
    const backend = heapBackend(clock);
    const list = backend.getListState(listState<number>('list', { ttl: { ttlMs: 10 } }));
    const map = backend.getMapState(mapState<string, number>('map', { ttl: { ttlMs: 10 } }));
    at(backend, 'old');
    list.add(1);
    map.put('a', 1);
    map.setCurrentNamespace('window');
    map.put('b', 2);
    clock.advance(5);
    list.add(2);
    map.setCurrentNamespace(0);
    map.put('c', 3);
    clock.advance(5);
    at(backend, 'other');
    for (let i = 0; i < 4 * MAX_PARALLELISM; i++) {
      list.get();
      map.isEmpty();
    }
    at(backend, 'old');
    const table = backend.stateTables().get('list')!.shareGroups();
    const oldGroup = table[assignToKeyGroup('old', MAX_PARALLELISM)];
    expect((oldGroup.voidMap!.get('old') as unknown[]).length).toBe(1);
    expect(storedEntries(backend, 'map')).toBe(1);
    clock.advance(5);
    for (let i = 0; i < 4 * MAX_PARALLELISM; i++) map.isEmpty();
    expect(storedEntries(backend, 'map')).toBe(0);
  });

  it('leaves state without TTL alone', () => {
    const clock = new ManualClock(0);
    const backend = heapBackend(clock);
    const state = backend.getValueState(valueState<number>('plain'));
    at(backend, 'k');
    state.update(1);
    clock.advance(1e9);
    expect(state.value()).toBe(1);
  });
});

describe('heap copy-on-write layout', () => {
  it('keeps maps handed out by shareGroups unchanged by later writes of every kind', () => {
    const backend = heapBackend();
    const value = backend.getValueState(valueState<number>('v'));
    const list = backend.getListState(listState<number>('l'));
    const map = backend.getMapState(mapState<string, number>('m'));
    at(backend, 'k');
    value.update(1);
    list.add(1);
    map.put('a', 1);
    map.setCurrentNamespace('w');
    map.put('a', 1);
    const group = assignToKeyGroup('k', MAX_PARALLELISM);
    const shared = new Map(
      [...backend.stateTables()].map(([name, table]) => [name, table.shareGroups()[group]]),
    );
    value.update(2);
    list.add(2);
    map.put('b', 2);
    map.setCurrentNamespace(0);
    map.remove('a');
    at(backend, 'other');
    value.update(3);
    expect(shared.get('v')!.voidMap!.get('k')).toBe(1);
    expect(shared.get('l')!.voidMap!.get('k')).toEqual([1]);
    expect(shared.get('m')!.voidMap!.get('k')).toEqual(new Map([['a', 1]]));
    expect(shared.get('m')!.namespaceMap!.get('k')!.get('w')).toEqual(new Map([['a', 1]]));
    at(backend, 'k');
    expect(value.value()).toBe(2);
    expect(list.get()).toEqual([1, 2]);
    expect(map.isEmpty()).toBe(true);
    map.setCurrentNamespace('w');
    expect(new Map(map.entries())).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    );
  });
});

describe('heap backend after dispose', () => {
  it('throws on setCurrentKey, on writes and on registration', () => {
    const backend = heapBackend();
    const state = backend.getValueState(valueState<number>('v'));
    at(backend, 'k');
    state.update(1);
    backend.dispose();
    expect(() => at(backend, 'k')).toThrow(/disposed/);
    expect(() => state.update(2)).toThrow(/disposed/);
    expect(state.value()).toBeUndefined();
    expect(() => backend.getValueState(valueState<number>('w'))).toThrow(/disposed/);
  });
});
