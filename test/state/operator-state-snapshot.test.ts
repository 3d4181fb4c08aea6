/** Tests of operator state snapshots: the WEIROPST format, deferred decoding on restore, and redistribution on rescale. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeapOperatorStateStore } from '../../src/state/backends/heap/index.ts';
import { numberSerializer, stringSerializer } from '../../src/state/serializers/index.ts';
import {
  CorruptSnapshotError,
  evenChunk,
  IncompatibleStateError,
  type OperatorStateContents,
  readOperatorStateFile,
  redistributeOperatorState,
  writeOperatorStateFile,
} from '../../src/state/snapshot/index.ts';
import { listState, mapState } from '../../src/state/state-descriptors-factory.ts';

const PATH = 'chk-4/source-0.opst';

function sampleStore(): HeapOperatorStateStore {
  const store = new HeapOperatorStateStore();
  store.getListState(listState<{ split: string; offset: number }>('splits')).update([
    { split: 'a', offset: 1 },
    { split: 'b', offset: 22 },
  ]);
  store.getUnionListState(listState<number>('watermarks', { serializer: numberSerializer })).add(-0);
  const rules = store.getBroadcastState(
    mapState<unknown, string>('rules', { valueSerializer: stringSerializer }),
  );
  rules.put('max', '1000');
  rules.put(['composite', 1], 'x');
  return store;
}

const roundTrip = (store: HeapOperatorStateStore): OperatorStateContents =>
  readOperatorStateFile(writeOperatorStateFile(store.snapshot()), PATH);

describe('operator state snapshot and restore', () => {
  it('restores list, union list and broadcast state as they were', () => {
    const restored = new HeapOperatorStateStore();
    restored.restore(roundTrip(sampleStore()));
    expect(restored.getListState(listState('splits')).get()).toEqual([
      { split: 'a', offset: 1 },
      { split: 'b', offset: 22 },
    ]);
    expect(
      Object.is(
        restored
          .getUnionListState(listState<number>('watermarks', { serializer: numberSerializer }))
          .get()[0],
        -0,
      ),
    ).toBe(true);
    const rules = restored.getBroadcastState(
      mapState<unknown, string>('rules', { valueSerializer: stringSerializer }),
    );
    expect([...rules.entries()]).toEqual([
      ['max', '1000'],
      [['composite', 1], 'x'],
    ]);
  });

  it('takes a copy: changes after snapshot() do not reach it', () => {
    const store = sampleStore();
    const splits = store.getListState(listState<{ split: string; offset: number }>('splits'));
    const contents = store.snapshot();
    const element = splits.get()[0];
    element.offset = 999;
    splits.add({ split: 'c', offset: 0 });
    const restored = new HeapOperatorStateStore();
    restored.restore(readOperatorStateFile(writeOperatorStateFile(contents), PATH));
    expect(restored.getListState(listState('splits')).get()).toEqual([
      { split: 'a', offset: 1 },
      { split: 'b', offset: 22 },
    ]);
  });

  it('passes restored states the operator has not registered through later snapshots', () => {
    const middle = new HeapOperatorStateStore();
    middle.restore(roundTrip(sampleStore()));
    middle.getListState(listState<{ split: string; offset: number }>('splits')).clear();
    const last = new HeapOperatorStateStore();
    last.restore(roundTrip(middle));
    expect(last.getListState(listState('splits')).get()).toEqual([]);
    expect(
      last.getUnionListState(listState<number>('watermarks', { serializer: numberSerializer })).get(),
    ).toEqual([-0]);
    expect(last.broadcastStates().size).toBe(0);
    expect([
      ...last.getBroadcastState(mapState('rules', { valueSerializer: stringSerializer })).entries(),
    ]).toHaveLength(2);
  });

  it('refuses another distribution mode, another kind and an incompatible serializer, naming state and file', () => {
    const restore = () => {
      const store = new HeapOperatorStateStore();
      store.restore(roundTrip(sampleStore()));
      return store;
    };
    expect(() => restore().getUnionListState(listState('splits'))).toThrow(
      /'splits' restored from chk-4\/source-0.opst is split list state in the snapshot but is registered as union list state/,
    );
    expect(() => restore().getBroadcastState(mapState('splits'))).toThrow(IncompatibleStateError);
    expect(() => restore().getListState(listState('rules'))).toThrow(/is broadcast state in the snapshot/);
    expect(() =>
      restore().getUnionListState(listState<string>('watermarks', { serializer: stringSerializer })),
    ).toThrow(
      /elements written by serializer weir.number v1, which the registered serializer weir.string v1 cannot read/,
    );
    expect(() => restore().getBroadcastState(mapState('rules'))).toThrow(
      /values written by serializer weir.string v1, which the registered serializer weir.value v1/,
    );
  });

  it('refuses restoring after registration or twice', () => {
    const contents = roundTrip(sampleStore());
    const store = new HeapOperatorStateStore();
    store.getListState(listState('splits'));
    expect(() => store.restore(contents)).toThrow(/restore first/);
    const twice = new HeapOperatorStateStore();
    twice.restore(contents);
    expect(() => twice.restore(contents)).toThrow(/restored twice/);
  });
});

describe('operator state file damage', () => {
  const bytes = writeOperatorStateFile(sampleStore().snapshot());

  const expectCorrupt = (read: () => unknown, message?: RegExp) => {
    let caught: unknown;
    try {
      read();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CorruptSnapshotError);
    expect((caught as Error).message).toContain(PATH);
    if (message !== undefined) expect((caught as Error).message).toMatch(message);
  };

  it('reports truncation and any changed byte, naming the path', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (length) =>
        expectCorrupt(() => readOperatorStateFile(bytes.slice(0, length), PATH)),
      ),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (position, mask) => {
          const damaged = bytes.slice();
          damaged[position] ^= mask;
          expectCorrupt(() => readOperatorStateFile(damaged, PATH));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('names a wrong magic number and an unknown version', () => {
    const wrongMagic = bytes.slice();
    wrongMagic.set(new TextEncoder().encode('WEIRKEYD'), 0);
    expectCorrupt(
      () => readOperatorStateFile(wrongMagic, PATH),
      /not an operator state file: magic is 'WEIRKEYD', expected 'WEIROPST'/,
    );
    const newer = bytes.slice();
    newer[8] = 7;
    expectCorrupt(() => readOperatorStateFile(newer, PATH), /version 7 is unknown/);
  });
});

describe('redistributeOperatorState', () => {
  const bytesOf = (n: number) => new Uint8Array([n & 0xff, n >> 8]);
  const subtaskArbitrary = fc.record({
    split: fc.array(fc.nat(60_000), { maxLength: 7 }),
    union: fc.array(fc.nat(60_000), { maxLength: 3 }),
    hasSplit: fc.boolean(),
    broadcast: fc.array(fc.nat(100), { maxLength: 3 }),
  });
  const contentsOf = (
    subtask: { split: number[]; union: number[]; hasSplit: boolean; broadcast: number[] },
    index: number,
  ): OperatorStateContents => ({
    lists: [
      ...(subtask.hasSplit
        ? [
            {
              name: 'offsets',
              mode: 'split' as const,
              serializer: { id: 'weir.value', version: 1 },
              elements: subtask.split.map(bytesOf),
              path: `old-${index}`,
            },
          ]
        : []),
      {
        name: 'all',
        mode: 'union' as const,
        serializer: { id: 'weir.value', version: 1 },
        elements: subtask.union.map(bytesOf),
        path: `old-${index}`,
      },
    ],
    broadcasts: [
      {
        name: 'rules',
        keySerializer: { id: 'weir.value', version: 1 },
        valueSerializer: { id: 'weir.value', version: 1 },
        entries: subtask.broadcast.map((n) => [bytesOf(n), bytesOf(index)] as const),
        path: `old-${index}`,
      },
    ],
  });

  it('deals split lists in contiguous even chunks, gives union lists to all and broadcast state from subtask 0', () => {
    fc.assert(
      fc.property(
        fc.array(subtaskArbitrary, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 6 }),
        (subtasks, parallelism) => {
          const old = subtasks.map(contentsOf);
          const snapshotOfOld = JSON.stringify(old, (_, v) => (v instanceof Uint8Array ? [...v] : v));
          const result = redistributeOperatorState(old, parallelism);
          expect(result).toHaveLength(parallelism);
          const allSplit = old.flatMap((s) => s.lists.find((l) => l.name === 'offsets')?.elements ?? []);
          const allUnion = old.flatMap((s) => s.lists.find((l) => l.name === 'all')!.elements);
          const hasSplit = subtasks.some((s) => s.hasSplit);
          const sizes: number[] = [];
          const dealt: Uint8Array[] = [];
          for (const subtask of result) {
            const split = subtask.lists.find((l) => l.name === 'offsets');
            expect(split !== undefined).toBe(hasSplit);
            if (split !== undefined) {
              expect(split.mode).toBe('split');
              sizes.push(split.elements.length);
              dealt.push(...split.elements);
            }
            expect(subtask.lists.find((l) => l.name === 'all')!.elements).toEqual(allUnion);
            expect(subtask.broadcasts).toHaveLength(1);
            expect(subtask.broadcasts[0].entries).toEqual(old[0].broadcasts[0].entries);
          }
          expect(dealt).toEqual(allSplit);
          if (hasSplit) {
            expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
            expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
          }
          // Pure: the input is unchanged.
          expect(JSON.stringify(old, (_, v) => (v instanceof Uint8Array ? [...v] : v))).toBe(snapshotOfOld);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('restores redistributed state into stores end to end', () => {
    const old = [0, 1, 2].map((index) => {
      const store = new HeapOperatorStateStore();
      store.getListState(listState<string>('splits')).update([`${index}-a`, `${index}-b`]);
      store.getUnionListState(listState<number>('seen')).add(index);
      store.getBroadcastState(mapState<string, number>('rules')).put('from', index);
      return readOperatorStateFile(writeOperatorStateFile(store.snapshot()), `chk-1/op-${index}.opst`);
    });
    const stores = redistributeOperatorState(old, 4).map((contents) => {
      const store = new HeapOperatorStateStore();
      store.restore(contents);
      return store;
    });
    expect(stores.map((store) => store.getListState(listState<string>('splits')).get())).toEqual([
      ['0-a', '0-b'],
      ['1-a', '1-b'],
      ['2-a'],
      ['2-b'],
    ]);
    for (const store of stores) {
      expect(store.getUnionListState(listState<number>('seen')).get()).toEqual([0, 1, 2]);
      expect(store.getBroadcastState(mapState<string, number>('rules')).get('from')).toBe(0);
    }
  });

  it('refuses old subtasks that disagree on a state, and a bad parallelism', () => {
    const base = contentsOf({ split: [1], union: [], hasSplit: true, broadcast: [] }, 0);
    const other: OperatorStateContents = {
      lists: [{ ...base.lists[0], mode: 'union', path: 'old-1' }],
      broadcasts: [],
    };
    expect(() => redistributeOperatorState([base, other], 2)).toThrow(
      /'offsets'.*differs between old subtasks/,
    );
    const clash: OperatorStateContents = {
      lists: [],
      broadcasts: [{ ...base.broadcasts[0], name: 'offsets' }],
    };
    expect(() => redistributeOperatorState([base, clash], 2)).toThrow(IncompatibleStateError);
    expect(() => redistributeOperatorState([base], 0)).toThrow(RangeError);
    expect(redistributeOperatorState([], 2)).toEqual([
      { lists: [], broadcasts: [] },
      { lists: [], broadcasts: [] },
    ]);
  });

  it('computes even chunks that cover the items exactly', () => {
    fc.assert(
      fc.property(fc.nat(1_000), fc.integer({ min: 1, max: 64 }), (count, parallelism) => {
        let next = 0;
        for (let i = 0; i < parallelism; i++) {
          const [start, end] = evenChunk(count, parallelism, i);
          expect(start).toBe(next);
          expect(end - start).toBeGreaterThanOrEqual(Math.floor(count / parallelism));
          expect(end - start).toBeLessThanOrEqual(Math.ceil(count / parallelism));
          next = end;
        }
        expect(next).toBe(count);
      }),
    );
  });
});
