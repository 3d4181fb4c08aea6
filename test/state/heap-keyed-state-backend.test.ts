/** Runs the keyed-state-backend conformance suite on the heap backend, plus heap-specific checks (cleanup, copy-on-write layout). */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.ts';
import {
  HeapKeyedStateBackend,
  hashMapStateBackend,
  TTL_CLEANUP_ENTRIES_PER_ACCESS,
} from '../../src/state/backends/heap/index.ts';
import { assignToKeyGroup } from '../../src/state/key-groups.ts';
import { numberSerializer } from '../../src/state/serializers/index.ts';
import type { TypeSerializer } from '../../src/state/serializers/type-serializer.ts';
import {
  KeyedStateFileWriter,
  readKeyedStateFile,
  SnapshotWriteError,
  writeKeyedStateFile,
  writeKeyedStateFileInSlices,
} from '../../src/state/snapshot/index.ts';
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

describe('heap snapshots: cost of the synchronous part and copy-on-write', () => {
  /** Counts the items every Map iteration yields while `run` runs. */
  function countMapItemsVisited(run: () => void): number {
    const proto = Map.prototype as unknown as Record<string | symbol, (...args: unknown[]) => unknown>;
    const names: (string | symbol)[] = ['entries', 'keys', 'values', Symbol.iterator];
    const originals = names.map((name) => proto[name]);
    const originalForEach = Map.prototype.forEach;
    let count = 0;
    names.forEach((name, i) => {
      proto[name] = function (this: unknown, ...args: unknown[]) {
        const iterator = originals[i].apply(this, args) as IterableIterator<unknown>;
        const next = iterator.next.bind(iterator);
        iterator.next = () => {
          const result = next();
          if (result.done !== true) count++;
          return result;
        };
        return iterator;
      };
    });
    Map.prototype.forEach = function (this: Map<unknown, unknown>, callback, thisArg) {
      count += this.size;
      originalForEach.call(this, callback, thisArg);
    };
    try {
      run();
    } finally {
      names.forEach((name, i) => {
        proto[name] = originals[i];
      });
      Map.prototype.forEach = originalForEach;
    }
    return count;
  }

  it('takes the synchronous part without visiting or serializing entries, and copies only groups written afterwards', () => {
    const KEYS = 200_000;
    let serialized = 0;
    const counting: TypeSerializer<number> = {
      ...numberSerializer,
      serialize(value, out) {
        serialized++;
        numberSerializer.serialize(value, out);
      },
    };
    const backend = heapBackend();
    const state = backend.getValueState(valueState<number>('v', { serializer: counting }));
    backend.getMapState(mapState<string, number>('m')); // registered, empty
    const perGroup = new Array<number>(MAX_PARALLELISM).fill(0);
    for (let i = 0; i < KEYS; i++) {
      const keyGroup = assignToKeyGroup(i, MAX_PARALLELISM);
      backend.setCurrentKey(i, keyGroup);
      state.update(i);
      perGroup[keyGroup]++;
    }
    const table = backend.stateTables().get('v')!;
    const before = table.copyStats();

    let snapshot: ReturnType<HeapKeyedStateBackend['snapshot']> | undefined;
    const visited = countMapItemsVisited(() => {
      snapshot = backend.snapshot();
    });
    // The registered states themselves (two), none of their 200k entries.
    expect(visited).toBe(2);
    expect(serialized).toBe(0);
    expect(table.copyStats()).toEqual(before);

    // One write after the snapshot copies exactly the written key's group.
    const written = 7;
    const writtenGroup = assignToKeyGroup(written, MAX_PARALLELISM);
    backend.setCurrentKey(written, writtenGroup);
    state.update(-1);
    state.update(-2);
    expect(table.copyStats()).toEqual({
      groupsCopied: before.groupsCopied + 1,
      cellsCopied: before.cellsCopied + perGroup[writtenGroup],
      valuesCopied: 0,
    });

    const file = writeKeyedStateFile(snapshot!, []);
    expect(serialized).toBe(KEYS);
    snapshot!.release();
    const restored = heapBackend();
    restored.restore([readKeyedStateFile(file.bytes, 'cost.keyed')]);
    const back = restored.getValueState(valueState<number>('v', { serializer: numberSerializer }));
    restored.setCurrentKey(written, writtenGroup);
    expect(back.value()).toBe(written);
    expect([...restored.keys('v')]).toHaveLength(KEYS);
  });

  it('copies object values read after a snapshot once, and nothing once it is released', () => {
    const backend = heapBackend();
    const state = backend.getValueState(valueState<{ n: number }>('v'));
    const counter = backend.getValueState(valueState<number>('c'));
    at(backend, 'k');
    state.update({ n: 1 });
    counter.update(1);
    const table = backend.stateTables().get('v')!;
    const snapshot = backend.snapshot();
    const first = state.value()!;
    expect(state.value()).toBe(first); // the copy now belongs to the live table
    counter.update(counter.value()! + 1); // primitives are never copied
    expect(table.copyStats().valuesCopied).toBe(1);
    expect(backend.stateTables().get('c')!.copyStats().valuesCopied).toBe(0);
    // Mutating without update changes live state (heap semantics), never the snapshot.
    first.n = 50;
    expect(state.value()).toEqual({ n: 50 });
    const file = writeKeyedStateFile(snapshot, []);
    snapshot.release();
    const before = table.copyStats();
    state.value()!.n = 60;
    state.update({ n: 61 });
    expect(table.copyStats()).toEqual(before);
    const restored = heapBackend();
    restored.restore([readKeyedStateFile(file.bytes, 'f')]);
    const back = restored.getValueState(valueState<{ n: number }>('v'));
    at(restored, 'k');
    expect(back.value()).toEqual({ n: 1 });
  });

  it('copies class instances a custom serializer understands by a round trip through it', () => {
    class Point {
      x: number;
      y: number;
      constructor(x: number, y: number) {
        this.x = x;
        this.y = y;
      }
    }
    const pointSerializer: TypeSerializer<Point> = {
      id: 'test.point',
      version: 1,
      serialize: (point, out) => {
        out.writeFloat64(point.x);
        out.writeFloat64(point.y);
      },
      deserialize: (input) => new Point(input.readFloat64(), input.readFloat64()),
    };
    const backend = heapBackend();
    const state = backend.getValueState(valueState<Point>('p', { serializer: pointSerializer }));
    at(backend, 'k');
    state.update(new Point(1, 2));
    const snapshot = backend.snapshot();
    const point = state.value()!;
    expect(point).toBeInstanceOf(Point);
    point.x = 100;
    state.update(point);
    const file = writeKeyedStateFile(snapshot, []);
    snapshot.release();
    const restored = heapBackend();
    restored.restore([readKeyedStateFile(file.bytes, 'f')]);
    at(restored, 'k');
    expect(restored.getValueState(valueState<Point>('p', { serializer: pointSerializer })).value()).toEqual(
      new Point(1, 2),
    );
  });

  it('reports a value the serializer cannot write, naming state and key group; the snapshot can still be released', () => {
    const backend = heapBackend();
    const state = backend.getValueState(valueState<unknown>('bad'));
    at(backend, 'k');
    state.update({ callback: () => 1 });
    const snapshot = backend.snapshot();
    expect(() => writeKeyedStateFile(snapshot, [])).toThrow(SnapshotWriteError);
    expect(() => writeKeyedStateFile(snapshot, [])).toThrow(
      new RegExp(
        `state 'bad' in key group ${assignToKeyGroup('k', MAX_PARALLELISM)} could not be written.*value.callback is a function`,
      ),
    );
    snapshot.release();
    snapshot.release(); // idempotent
    expect(() => writeKeyedStateFile(snapshot, [])).toThrow(/after its release/);
    state.update({ ok: true });
    expect(() => writeKeyedStateFile(backend.snapshot(), [])).not.toThrow();
  });

  it('writes slices of key groups with KeyedStateFileWriter, the same bytes as in one go', () => {
    const backend = heapBackend();
    const state = backend.getListState(listState<number>('l'));
    for (let i = 0; i < 500; i++) {
      at(backend, i);
      state.add(i);
    }
    const snapshot = backend.snapshot();
    const whole = writeKeyedStateFile(snapshot, []);
    const writer = new KeyedStateFileWriter(snapshot, []);
    let steps = 1;
    while (!writer.step(10)) steps++;
    expect(steps).toBe(Math.ceil(MAX_PARALLELISM / 10));
    expect(writer.finish()).toEqual(whole);
    snapshot.release();
  });
});

describe('writeKeyedStateFileInSlices', () => {
  it('yields between slices and produces the same file', async () => {
    const backend = heapBackend();
    const state = backend.getValueState(valueState<number>('v'));
    for (let i = 0; i < 300; i++) {
      at(backend, i);
      state.update(i);
    }
    const snapshot = backend.snapshot();
    let yields = 0;
    const sliced = await writeKeyedStateFileInSlices(snapshot, [], {
      keyGroupsPerSlice: 32,
      yieldToLoop: async () => {
        yields++;
        // Processing continues between slices and never reaches the snapshot.
        at(backend, yields);
        state.update(-1);
      },
    });
    expect(yields).toBe(MAX_PARALLELISM / 32 - 1);
    const restored = heapBackend();
    restored.restore([readKeyedStateFile(sliced.bytes, 'sliced')]);
    const back = restored.getValueState(valueState<number>('v'));
    at(restored, 1);
    expect(back.value()).toBe(1);
    expect(sliced).toEqual(writeKeyedStateFile(snapshot, []));
    snapshot.release();
  });
});
