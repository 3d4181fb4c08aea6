/** Tests of the heap operator state store: list, union list and broadcast state, and the data a snapshot reads. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { UnhashableKeyError } from '../../src/core/key-encoding.ts';
import { HeapOperatorStateStore } from '../../src/state/backends/heap/index.ts';
import { listState, mapState } from '../../src/state/state-descriptors-factory.ts';

describe('HeapOperatorStateStore', () => {
  it('keeps list state as a named array in split mode', () => {
    const store = new HeapOperatorStateStore();
    const offsets = store.getListState(listState<number>('offsets'));
    expect(offsets.get()).toEqual([]);
    offsets.add(1);
    offsets.addAll([2, 3]);
    expect(offsets.get()).toEqual([1, 2, 3]);
    offsets.update([7]);
    expect(store.listStates().get('offsets')).toEqual({ mode: 'split', elements: [7] });
    offsets.clear();
    expect(offsets.get()).toEqual([]);
  });

  it('hands out and takes in copies', () => {
    const store = new HeapOperatorStateStore();
    const state = store.getListState(listState<number>('l'));
    const input = [1, 2];
    state.update(input);
    input.push(3);
    state.get().push(4);
    expect(state.get()).toEqual([1, 2]);
  });

  it('marks union list state, and handles of one name share data', () => {
    const store = new HeapOperatorStateStore();
    const first = store.getUnionListState(listState<string>('assignments'));
    const second = store.getUnionListState(listState<string>('assignments'));
    first.add('split-1');
    expect(second.get()).toEqual(['split-1']);
    expect(store.listStates().get('assignments')?.mode).toBe('union');
  });

  it('refuses one name in two modes or kinds, TTL and bad descriptors', () => {
    const store = new HeapOperatorStateStore();
    store.getListState(listState<number>('a'));
    expect(() => store.getUnionListState(listState<number>('a'))).toThrow(ConfigurationError);
    expect(() => store.getBroadcastState(mapState<string, number>('a'))).toThrow(
      /already registered as list/,
    );
    store.getBroadcastState(mapState<string, number>('b'));
    expect(() => store.getListState(listState<number>('b'))).toThrow(/already registered as broadcast/);
    expect(() => store.getListState(listState<number>('t', { ttl: { ttlMs: 10 } }))).toThrow(/TTL/);
    expect(() => store.getListState({ kind: 'list', name: '' })).toThrow(ConfigurationError);
    expect(() =>
      store.getBroadcastState({ kind: 'list', name: 'x' } as unknown as Parameters<
        typeof store.getBroadcastState
      >[0]),
    ).toThrow(/map state descriptor/);
  });

  it('keeps broadcast state as a named map, with primitive and composite keys', () => {
    const store = new HeapOperatorStateStore();
    const rules = store.getBroadcastState(mapState<unknown, string>('rules'));
    rules.put('max', '1000');
    rules.put(1, 'number one');
    rules.put({ region: 'eu', tier: 2 }, 'eu-2');
    rules.put('\u0001tricky', 'escaped');
    expect(rules.get('1')).toBeUndefined();
    expect(rules.get(1)).toBe('number one');
    expect(rules.get({ tier: 2, region: 'eu' })).toBe('eu-2');
    expect(rules.contains('\u0001tricky')).toBe(true);
    rules.remove('max');
    expect(rules.contains('max')).toBe(false);
    const expected = new Map<unknown, string>([
      [1, 'number one'],
      [{ region: 'eu', tier: 2 }, 'eu-2'],
      ['\u0001tricky', 'escaped'],
    ]);
    expect(new Map(rules.entries())).toEqual(expected);
    expect(store.broadcastStates().get('rules')).toEqual(expected);
    expect(() => rules.put(undefined, 'x')).toThrow(UnhashableKeyError);
    rules.clear();
    expect([...rules.entries()]).toEqual([]);
  });
});
