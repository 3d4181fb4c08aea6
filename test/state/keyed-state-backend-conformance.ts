/** The conformance suite every keyed state backend passes: state kinds, keys, namespaces, TTL and a model-based test. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { UnhashableKeyError } from '../../src/core/key-encoding.ts';
import type {
  AggregateFunction,
  StateTtlConfig,
  TtlUpdateType,
  TtlVisibility,
} from '../../src/state/descriptors.ts';
import type { KeyGroupRange } from '../../src/state/key-group-range.ts';
import { assignToKeyGroup, computeKeyGroupRange, keyGroupRangeContains } from '../../src/state/key-groups.ts';
import { VOID_NAMESPACE } from '../../src/state/keyed-state.ts';
import type { KeyedStateBackend, KeyedStateBackendFactory } from '../../src/state/keyed-state-backend.ts';
import {
  aggregatingState,
  listState,
  mapState,
  reducingState,
  valueState,
} from '../../src/state/state-descriptors-factory.ts';
import { runKeyedStateSnapshotConformance } from './keyed-state-snapshot-conformance.ts';

const MAX_PARALLELISM = 128;
const FULL_RANGE: KeyGroupRange = { start: 0, end: MAX_PARALLELISM - 1 };
const START_MS = 1_000;
const TTL_MS = 100;

/** A canonical text of a key or value that tells 1, '1', 1n and true apart and ignores field order. */
export function canonical(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object' || value === null) return String(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((field) => `${JSON.stringify(field)}:${canonical(record[field])}`)
    .join(',')}}`;
}

const sortedCanonical = (items: Iterable<unknown>): string[] => [...items].map(canonical).sort();

/** Counts inputs and sums them; the result is "count:sum". */
const countAndSum: AggregateFunction<number, { count: number; sum: number }, string> = {
  createAccumulator: () => ({ count: 0, sum: 0 }),
  add: (value, acc) => {
    // Mutates in place, as Flink's contract allows: backends must cope.
    acc.count += 1;
    acc.sum += value;
    return acc;
  },
  getResult: (acc) => `${acc.count}:${acc.sum}`,
};

/**
 * Registers a describe block that checks `factory` against the KeyedStateBackend contract,
 * snapshots and restores included (keyed-state-snapshot-conformance.ts). Every backend (heap
 * now, on-disk later) runs it from its own test file.
 *
 * @example
 * ```ts
 * runKeyedStateBackendConformance('heap', hashMapStateBackend);
 * ```
 */
export function runKeyedStateBackendConformance(name: string, factory: KeyedStateBackendFactory): void {
  const create = (range: KeyGroupRange = FULL_RANGE, clock = new ManualClock(START_MS)): KeyedStateBackend =>
    factory.create({
      operatorId: `conformance-${name}`,
      keyGroupRange: range,
      maxParallelism: MAX_PARALLELISM,
      clock,
    });
  const at = (backend: KeyedStateBackend, key: unknown): void =>
    backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));

  describe(`${name} keyed state backend: conformance`, () => {
    describe('current key and key groups', () => {
      it('returns the key and key group it was given', () => {
        const backend = create();
        const composite = { user: 'u1', region: ['eu', 1] };
        at(backend, composite);
        expect(backend.getCurrentKey()).toBe(composite);
        expect(backend.getCurrentKeyGroup()).toBe(assignToKeyGroup(composite, MAX_PARALLELISM));
        expect(backend.maxParallelism).toBe(MAX_PARALLELISM);
        expect(backend.keyGroupRange).toEqual(FULL_RANGE);
      });

      it('keeps keys of every type apart, and similar-looking strings apart from composite keys', () => {
        const backend = create();
        const state = backend.getValueState(valueState<string>('v'));
        const keys: unknown[] = [
          'a',
          ['a'],
          { 0: 'a' },
          1,
          '1',
          1n,
          true,
          'true',
          [1, 'a'],
          ['1', 'a'],
          [[1], 'a'],
          '',
          [],
          {},
          '\u0001',
          '\u0001\u0001',
          '\u0001\u0002a1:1',
          '\u0001\u0002s1:a',
          `\u0001${'x'}`,
          { a: 1, b: 2 },
          { a: '1', b: 2 },
        ];
        keys.forEach((key, i) => {
          at(backend, key);
          state.update(`value-${i}`);
        });
        keys.forEach((key, i) => {
          at(backend, key);
          expect(state.value(), `key ${canonical(key)}`).toBe(`value-${i}`);
        });
        expect(sortedCanonical(backend.keys('v'))).toEqual(sortedCanonical(keys));
      });

      it('treats structurally equal composite keys (any field order) as the same key', () => {
        const backend = create();
        const state = backend.getValueState(valueState<number>('v'));
        at(backend, { user: 'u', tags: ['a', { x: 1, y: 2 }] });
        state.update(7);
        at(backend, { tags: ['a', { y: 2, x: 1 }], user: 'u' });
        expect(state.value()).toBe(7);
        expect([...backend.keys('v')]).toEqual([{ tags: ['a', { x: 1, y: 2 }], user: 'u' }]);
      });

      it('treats -0 and 0 as the same key', () => {
        const backend = create();
        const state = backend.getValueState(valueState<number>('v'));
        at(backend, -0);
        state.update(1);
        at(backend, 0);
        expect(state.value()).toBe(1);
      });

      it('refuses a key group outside its range (a routing bug)', () => {
        const range = computeKeyGroupRange(MAX_PARALLELISM, 4, 1);
        const backend = create(range);
        expect(() => backend.setCurrentKey('k', range.start - 1)).toThrow(RangeError);
        expect(() => backend.setCurrentKey('k', range.end + 1)).toThrow(
          `key group ${range.end + 1} of key "k" lies outside the key-group range [${range.start}, ${range.end}] of operator 'conformance-${name}'`,
        );
        expect(() => backend.setCurrentKey('k', range.start + 0.5)).toThrow(RangeError);
        backend.setCurrentKey('k', range.end);
        expect(backend.getCurrentKeyGroup()).toBe(range.end);
      });

      it('keeps state apart per key within a partial key-group range', () => {
        const range = computeKeyGroupRange(MAX_PARALLELISM, 3, 2);
        const backend = create(range);
        const state = backend.getValueState(valueState<string>('v'));
        const owned: string[] = [];
        for (let i = 0; owned.length < 50; i++) {
          const key = `key-${i}`;
          if (keyGroupRangeContains(range, assignToKeyGroup(key, MAX_PARALLELISM))) owned.push(key);
        }
        for (const key of owned) {
          at(backend, key);
          state.update(key.toUpperCase());
        }
        for (const key of owned) {
          at(backend, key);
          expect(state.value()).toBe(key.toUpperCase());
        }
        expect(sortedCanonical(backend.keys('v'))).toEqual(sortedCanonical(owned));
      });

      it('refuses unusable keys', () => {
        const backend = create();
        expect(() => backend.setCurrentKey(Number.NaN, 0)).toThrow(UnhashableKeyError);
        expect(() => backend.setCurrentKey({ a: null }, 0)).toThrow(UnhashableKeyError);
      });

      it('refuses a write before any key is set', () => {
        const backend = create();
        const state = backend.getValueState(valueState<number>('v'));
        expect(() => state.update(1)).toThrow();
      });

      it('returns undefined or a promise from prefetch, and state works afterwards', async () => {
        const backend = create();
        const keys = ['a', 'b', ['c', 1]];
        const pending = backend.prefetch(
          keys,
          keys.map((key) => assignToKeyGroup(key, MAX_PARALLELISM)),
        );
        if (pending !== undefined) await pending;
        const state = backend.getValueState(valueState<number>('v'));
        at(backend, 'a');
        state.update(1);
        expect(state.value()).toBe(1);
      });
    });

    describe('registration', () => {
      it('gives handles of the same state the same data', () => {
        const backend = create();
        const first = backend.getValueState(valueState<number>('v'));
        const second = backend.getValueState(valueState<number>('v'));
        at(backend, 'k');
        first.update(3);
        expect(second.value()).toBe(3);
      });

      it('refuses the same name with another kind or another TTL, and invalid descriptors', () => {
        const backend = create();
        backend.getValueState(valueState<number>('s'));
        expect(() => backend.getListState(listState<number>('s'))).toThrow(ConfigurationError);
        expect(() => backend.getValueState(valueState<number>('s', { ttl: { ttlMs: 5 } }))).toThrow(
          ConfigurationError,
        );
        // One wording on every backend, naming both TTLs.
        expect(() => backend.getValueState(valueState<number>('s', { ttl: { ttlMs: 5 } }))).toThrow(
          `state 's' of operator 'conformance-${name}' is already registered with TTL none, not 5 ms (OnCreateAndWrite, NeverReturnExpired)`,
        );
        expect(() => backend.getValueState({ kind: 'value', name: '' })).toThrow(ConfigurationError);
        expect(() => backend.getValueState({ kind: 'value', name: 'x', ttl: { ttlMs: -1 } })).toThrow(
          ConfigurationError,
        );
      });
    });

    describe('value state', () => {
      it('updates, reads and clears per key', () => {
        const backend = create();
        const state = backend.getValueState(valueState<{ n: number } | null>('v'));
        at(backend, 'a');
        expect(state.value()).toBeUndefined();
        state.update({ n: 1 });
        at(backend, 'b');
        expect(state.value()).toBeUndefined();
        state.update(null);
        expect(state.value()).toBeNull();
        at(backend, 'a');
        expect(state.value()).toEqual({ n: 1 });
        state.clear();
        expect(state.value()).toBeUndefined();
        expect([...backend.keys('v')]).toEqual(['b']);
      });

      it('treats update(undefined) as clear', () => {
        const backend = create();
        const state = backend.getValueState(valueState<number | undefined>('v'));
        at(backend, 'a');
        state.update(1);
        state.update(undefined);
        expect(state.value()).toBeUndefined();
        expect([...backend.keys('v')]).toEqual([]);
      });

      it('returns the default while unset, as a fresh copy each time', () => {
        const backend = create();
        const state = backend.getValueState(
          valueState<{ seen: string[] }>('v', { defaultValue: { seen: [] } }),
        );
        at(backend, 'a');
        const first = state.value()!;
        first.seen.push('mutated');
        expect(state.value()).toEqual({ seen: [] });
        expect([...backend.keys('v')]).toEqual([]);
        const counter = backend.getValueState(valueState<number>('count', { defaultValue: 0 }));
        counter.update(counter.value()! + 1);
        counter.update(counter.value()! + 1);
        expect(counter.value()).toBe(2);
      });
    });

    describe('list state', () => {
      it('adds, updates and clears, and an empty list is no entry', () => {
        const backend = create();
        const state = backend.getListState(listState<number>('l'));
        at(backend, 'a');
        expect(state.get()).toEqual([]);
        state.add(1);
        state.addAll([2, 3]);
        state.addAll([]);
        expect(state.get()).toEqual([1, 2, 3]);
        at(backend, 'b');
        state.addAll([9]);
        at(backend, 'a');
        state.update([4, 5]);
        expect(state.get()).toEqual([4, 5]);
        state.update([]);
        expect(state.get()).toEqual([]);
        expect([...backend.keys('l')]).toEqual(['b']);
        at(backend, 'b');
        state.clear();
        expect([...backend.keys('l')]).toEqual([]);
      });

      it('hands out and takes in copies', () => {
        const backend = create();
        const state = backend.getListState(listState<number>('l'));
        at(backend, 'a');
        const input = [1, 2];
        state.update(input);
        input.push(99);
        state.get().push(100);
        expect(state.get()).toEqual([1, 2]);
        const more = [3];
        state.addAll(more);
        more.push(101);
        const snapshot = state.get();
        state.add(4);
        expect(snapshot).toEqual([1, 2, 3]);
        expect(state.get()).toEqual([1, 2, 3, 4]);
      });
    });

    describe('map state', () => {
      it('puts, reads, removes and iterates per key', () => {
        const backend = create();
        const state = backend.getMapState(mapState<string, number>('m'));
        at(backend, 'a');
        expect(state.isEmpty()).toBe(true);
        expect([...state.entries()]).toEqual([]);
        state.put('x', 1);
        state.putAll([
          ['y', 2],
          ['z', 3],
        ]);
        state.put('x', 10);
        expect(state.get('x')).toBe(10);
        expect(state.get('missing')).toBeUndefined();
        expect(state.contains('y')).toBe(true);
        expect(state.contains('missing')).toBe(false);
        expect(new Map(state.entries())).toEqual(
          new Map([
            ['x', 10],
            ['y', 2],
            ['z', 3],
          ]),
        );
        expect([...state.keys()].sort()).toEqual(['x', 'y', 'z']);
        expect([...state.values()].sort((p, q) => p - q)).toEqual([2, 3, 10]);
        at(backend, 'b');
        expect(state.isEmpty()).toBe(true);
        state.put('x', 5);
        at(backend, 'a');
        state.remove('y');
        state.remove('missing');
        expect(state.contains('y')).toBe(false);
        state.remove('x');
        state.remove('z');
        expect(state.isEmpty()).toBe(true);
        expect([...backend.keys('m')]).toEqual(['b']);
        at(backend, 'b');
        state.clear();
        expect([...backend.keys('m')]).toEqual([]);
      });

      it('accepts composite map keys, matched structurally, and keeps undefined values', () => {
        const backend = create();
        const state = backend.getMapState(mapState<unknown, string | undefined>('m'));
        at(backend, 'k');
        state.put({ a: 1, b: [2, 'x'] }, 'object');
        state.put(['a', 1], 'array');
        state.put('a', 'string');
        state.put(1, 'number');
        state.put('\u0001\u0002a2:s1:an1;', 'tricky string');
        state.put('none', undefined);
        expect(state.get({ b: [2, 'x'], a: 1 })).toBe('object');
        expect(state.get(['a', 1])).toBe('array');
        expect(state.get('1')).toBeUndefined();
        expect(state.contains('none')).toBe(true);
        expect(sortedCanonical([...state.entries()])).toEqual(
          sortedCanonical([
            [{ a: 1, b: [2, 'x'] }, 'object'],
            [['a', 1], 'array'],
            ['a', 'string'],
            [1, 'number'],
            ['\u0001\u0002a2:s1:an1;', 'tricky string'],
            ['none', undefined],
          ]),
        );
        expect(() => state.put(null, 'x')).toThrow(UnhashableKeyError);
        expect(() => state.get(Number.NaN)).toThrow(UnhashableKeyError);
      });

      it('iterates the entries of the key current when the iterator was created', () => {
        const backend = create();
        const state = backend.getMapState(mapState<string, number>('m'));
        at(backend, 'a');
        state.put('a1', 1);
        at(backend, 'b');
        state.put('b1', 2);
        at(backend, 'a');
        const entries = state.entries();
        at(backend, 'b');
        expect([...entries]).toEqual([['a1', 1]]);
      });
    });

    describe('reducing and aggregating state', () => {
      it('folds added values per key', () => {
        const backend = create();
        const sum = backend.getReducingState(reducingState<number>('sum', (a, b) => a + b));
        const stats = backend.getAggregatingState(aggregatingState('stats', countAndSum));
        at(backend, 'a');
        expect(sum.get()).toBeUndefined();
        expect(stats.get()).toBeUndefined();
        sum.add(1);
        sum.add(2);
        stats.add(5);
        stats.add(7);
        at(backend, 'b');
        sum.add(10);
        stats.add(1);
        expect(sum.get()).toBe(10);
        expect(stats.get()).toBe('1:1');
        at(backend, 'a');
        expect(sum.get()).toBe(3);
        expect(stats.get()).toBe('2:12');
        sum.clear();
        stats.clear();
        expect(sum.get()).toBeUndefined();
        expect(stats.get()).toBeUndefined();
        expect([...backend.keys('sum')]).toEqual(['b']);
        expect([...backend.keys('stats')]).toEqual(['b']);
      });

      it('calls reduce as reduce(stored, added)', () => {
        const backend = create();
        const order = backend.getReducingState(reducingState<string>('order', (a, b) => `${a}>${b}`));
        at(backend, 'k');
        order.add('1');
        order.add('2');
        order.add('3');
        expect(order.get()).toBe('1>2>3');
      });
    });

    describe('namespaces', () => {
      it('keeps namespaces of one key apart, and handles keep their own namespace', () => {
        const backend = create();
        const windowA = backend.getListState(listState<string>('l'));
        const windowB = backend.getListState(listState<string>('l'));
        windowA.setCurrentNamespace('w1');
        windowB.setCurrentNamespace(2);
        at(backend, 'k');
        windowA.add('in-w1');
        windowB.add('in-2');
        windowA.setCurrentNamespace(VOID_NAMESPACE);
        windowA.add('in-void');
        windowA.setCurrentNamespace('2');
        expect(windowA.get()).toEqual([]);
        windowA.setCurrentNamespace('w1');
        expect(windowA.get()).toEqual(['in-w1']);
        expect(windowB.get()).toEqual(['in-2']);
        windowA.clear();
        expect(windowB.get()).toEqual(['in-2']);
        windowA.setCurrentNamespace(VOID_NAMESPACE);
        expect(windowA.get()).toEqual(['in-void']);
      });

      it('scopes every state kind to the namespace', () => {
        const backend = create();
        const value = backend.getValueState(valueState<number>('v'));
        const map = backend.getMapState(mapState<string, number>('m'));
        const sum = backend.getReducingState(reducingState<number>('r', (a, b) => a + b));
        const stats = backend.getAggregatingState(aggregatingState('a', countAndSum));
        at(backend, 'k');
        for (const namespace of [VOID_NAMESPACE, 'w', 5]) {
          for (const state of [value, map, sum, stats]) state.setCurrentNamespace(namespace);
          value.update(String(namespace).length);
          map.put('ns', String(namespace).length);
          sum.add(String(namespace).length);
          stats.add(String(namespace).length);
        }
        for (const namespace of [VOID_NAMESPACE, 'w', 5]) {
          for (const state of [value, map, sum, stats]) state.setCurrentNamespace(namespace);
          expect(value.value()).toBe(1);
          expect(map.get('ns')).toBe(1);
          expect(sum.get()).toBe(1);
          expect(stats.get()).toBe('1:1');
        }
      });

      it('lists keys per namespace and once each across namespaces', () => {
        const backend = create();
        const state = backend.getValueState(valueState<number>('v'));
        const put = (key: unknown, namespace: string | number): void => {
          at(backend, key);
          state.setCurrentNamespace(namespace);
          state.update(1);
        };
        put('both', VOID_NAMESPACE);
        put('both', 'w1');
        put('both', 'w2');
        put('void-only', VOID_NAMESPACE);
        put(['window', 'only'], 'w1');
        expect(sortedCanonical(backend.keys('v'))).toEqual(
          sortedCanonical(['both', 'void-only', ['window', 'only']]),
        );
        expect(sortedCanonical(backend.keys('v', VOID_NAMESPACE))).toEqual(
          sortedCanonical(['both', 'void-only']),
        );
        expect(sortedCanonical(backend.keys('v', 'w1'))).toEqual(
          sortedCanonical(['both', ['window', 'only']]),
        );
        expect([...backend.keys('v', 'w2')]).toEqual(['both']);
        expect([...backend.keys('v', 'w3')]).toEqual([]);
        at(backend, ['window', 'only']);
        state.setCurrentNamespace('w1');
        state.clear();
        expect(sortedCanonical(backend.keys('v'))).toEqual(sortedCanonical(['both', 'void-only']));
      });
    });

    describe('keys()', () => {
      it('is empty for a state that was never registered', () => {
        expect([...create().keys('nothing')]).toEqual([]);
      });

      it('tolerates clearing entries while iterating (applyToKeyedState)', () => {
        const backend = create();
        const state = backend.getValueState(valueState<number>('v'));
        for (let i = 0; i < 100; i++) {
          at(backend, `k${i}`);
          state.update(i);
        }
        let visited = 0;
        for (const key of backend.keys('v')) {
          at(backend, key);
          state.clear();
          visited++;
        }
        expect(visited).toBe(100);
        expect([...backend.keys('v')]).toEqual([]);
      });
    });

    describe('TTL', () => {
      const updateTypes: TtlUpdateType[] = ['OnCreateAndWrite', 'OnReadAndWrite'];
      const visibilities: TtlVisibility[] = ['NeverReturnExpired', 'ReturnExpiredIfNotCleanedUp'];
      for (const updateType of updateTypes) {
        for (const visibility of visibilities) {
          const ttl: StateTtlConfig = { ttlMs: TTL_MS, updateType, visibility };
          const refreshes = updateType === 'OnReadAndWrite';
          const returnsExpired = visibility === 'ReturnExpiredIfNotCleanedUp';
          describe(`${updateType} / ${visibility}`, () => {
            it('expires a value ttlMs after its last write (or read, when reads refresh)', () => {
              const clock = new ManualClock(START_MS);
              const backend = create(FULL_RANGE, clock);
              const state = backend.getValueState(valueState<string>('v', { ttl, defaultValue: 'default' }));
              at(backend, 'k');
              state.update('x');
              clock.advance(60);
              expect(state.value()).toBe('x');
              clock.advance(60); // 120 ms after the write, 60 after the read
              if (refreshes) {
                expect(state.value()).toBe('x');
                clock.advance(TTL_MS);
              }
              expect([...backend.keys('v')]).toEqual([]);
              expect(state.value()).toBe(returnsExpired ? 'x' : 'default');
              expect(state.value()).toBe('default');
            });

            it('counts the expiry instant itself as expired, and restarts the TTL on every write', () => {
              const clock = new ManualClock(START_MS);
              const backend = create(FULL_RANGE, clock);
              const state = backend.getValueState(valueState<number>('v', { ttl }));
              at(backend, 'k');
              state.update(1);
              clock.advance(TTL_MS - 1);
              state.update(2);
              clock.advance(TTL_MS - 1);
              expect([...backend.keys('v')]).toEqual(['k']);
              clock.advance(1);
              expect([...backend.keys('v')]).toEqual([]);
              expect(state.value()).toBe(returnsExpired ? 2 : undefined);
            });

            it('expires list elements one by one', () => {
              const clock = new ManualClock(START_MS);
              const backend = create(FULL_RANGE, clock);
              const state = backend.getListState(listState<string>('l', { ttl }));
              at(backend, 'k');
              state.add('early');
              clock.advance(50);
              state.addAll(['late1', 'late2']);
              clock.advance(50);
              expect(state.get()).toEqual(returnsExpired ? ['early', 'late1', 'late2'] : ['late1', 'late2']);
              expect(state.get()).toEqual(['late1', 'late2']);
              clock.advance(60); // past the write-based expiry, before the read-based one
              if (refreshes) {
                expect(state.get()).toEqual(['late1', 'late2']);
                clock.advance(TTL_MS);
              }
              expect([...backend.keys('l')]).toEqual([]);
              expect(state.get()).toEqual(returnsExpired ? ['late1', 'late2'] : []);
              expect(state.get()).toEqual([]);
              state.update(['fresh']);
              expect(state.get()).toEqual(['fresh']);
            });

            it('expires map entries one by one', () => {
              const clock = new ManualClock(START_MS);
              const backend = create(FULL_RANGE, clock);
              const state = backend.getMapState(mapState<string, number>('m', { ttl }));
              at(backend, 'k');
              state.put('early', 1);
              clock.advance(50);
              state.putAll([['late', 2]]);
              clock.advance(50);
              expect(state.isEmpty()).toBe(false);
              expect(state.contains('late')).toBe(true);
              if (returnsExpired) expect(state.get('early')).toBe(1);
              expect(state.get('early')).toBeUndefined();
              expect(state.contains('early')).toBe(false);
              expect([...state.entries()]).toEqual([['late', 2]]);
              clock.advance(60); // past the write-based expiry, before the read-based one
              if (refreshes) {
                expect(state.get('late')).toBe(2);
                clock.advance(60); // past the expiry set by the entries() read
                expect([...backend.keys('m')]).toEqual(['k']);
                clock.advance(TTL_MS);
              }
              expect([...backend.keys('m')]).toEqual([]);
              expect([...state.keys()]).toEqual(returnsExpired ? ['late'] : []);
              expect([...state.values()]).toEqual([]);
              expect(state.isEmpty()).toBe(true);
            });

            it('starts reducing and aggregating state over after expiry', () => {
              const clock = new ManualClock(START_MS);
              const backend = create(FULL_RANGE, clock);
              const sum = backend.getReducingState(reducingState<number>('r', (a, b) => a + b, { ttl }));
              const stats = backend.getAggregatingState(aggregatingState('a', countAndSum, { ttl }));
              at(backend, 'k');
              sum.add(1);
              stats.add(1);
              clock.advance(TTL_MS - 1);
              sum.add(2);
              stats.add(2);
              clock.advance(TTL_MS - 1);
              expect(sum.get()).toBe(3);
              expect(stats.get()).toBe('2:3');
              clock.advance(2); // past the write-based expiry, before the read-based one
              sum.add(10);
              stats.add(10);
              expect(sum.get()).toBe(refreshes ? 13 : 10);
              expect(stats.get()).toBe(refreshes ? '3:13' : '1:10');
              clock.advance(TTL_MS);
              expect(sum.get()).toBe(returnsExpired ? (refreshes ? 13 : 10) : undefined);
              expect(stats.get()).toBe(returnsExpired ? (refreshes ? '3:13' : '1:10') : undefined);
              expect(sum.get()).toBeUndefined();
              expect(stats.get()).toBeUndefined();
            });

            it('expires per namespace and keeps keys without TTL state untouched', () => {
              const clock = new ManualClock(START_MS);
              const backend = create(FULL_RANGE, clock);
              const withTtl = backend.getValueState(valueState<number>('ttl', { ttl }));
              const forever = backend.getValueState(valueState<number>('forever'));
              at(backend, 'k');
              withTtl.setCurrentNamespace('w');
              withTtl.update(1);
              forever.update(1);
              clock.advance(TTL_MS * 10);
              expect([...backend.keys('ttl', 'w')]).toEqual([]);
              expect(withTtl.value()).toBe(returnsExpired ? 1 : undefined);
              expect(forever.value()).toBe(1);
            });
          });
        }
      }

      it('does not refresh on read with OnCreateAndWrite, which is the default', () => {
        const clock = new ManualClock(START_MS);
        const backend = create(FULL_RANGE, clock);
        const state = backend.getValueState(valueState<number>('v', { ttl: { ttlMs: TTL_MS } }));
        at(backend, 'k');
        state.update(1);
        for (let i = 0; i < 9; i++) {
          clock.advance(10);
          expect(state.value()).toBe(1);
        }
        clock.advance(10);
        expect(state.value()).toBeUndefined();
      });
    });

    describe('dispose', () => {
      it('makes the backend unusable', () => {
        const backend = create();
        const state = backend.getValueState(valueState<number>('v'));
        at(backend, 'k');
        state.update(1);
        backend.dispose();
        expect(() => at(backend, 'k')).toThrow();
      });
    });

    describe('model-based', () => {
      it('behaves like a plain model over random operation sequences', () => {
        fc.assert(
          fc.property(
            fc.array(operationArbitrary, { minLength: 1, maxLength: 120 }),
            runAgainstModel(create),
          ),
          { numRuns: 150 },
        );
      });

      it('expires like a plain TTL model over random sequences with a moving clock', () => {
        fc.assert(
          fc.property(
            fc.constantFrom<TtlUpdateType>('OnCreateAndWrite', 'OnReadAndWrite'),
            fc.constantFrom<TtlVisibility>('NeverReturnExpired', 'ReturnExpiredIfNotCleanedUp'),
            fc.array(ttlOperationArbitrary, { minLength: 1, maxLength: 80 }),
            (updateType, visibility, operations) =>
              runAgainstTtlModel(create, { ttlMs: TTL_MS, updateType, visibility }, operations),
          ),
          { numRuns: 150 },
        );
      });
    });
  });

  runKeyedStateSnapshotConformance(name, factory);
}

// --- Model-based test -------------------------------------------------------------------

const MODEL_KEYS: readonly unknown[] = [
  'a',
  'b',
  1,
  2n,
  true,
  '\u0001a',
  ['a', 1],
  { x: 1, y: 'z' },
  { y: 'z', x: 1 }, // the same key as the previous one
];
const MODEL_NAMESPACES: readonly (string | number)[] = [VOID_NAMESPACE, 'w1', 7];
const MODEL_MAP_KEYS: readonly unknown[] = ['k1', 'k2', 3, ['k', 1], { m: 1 }];
type HandleName = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';
const HANDLES: readonly HandleName[] = ['value', 'list', 'map', 'reducing', 'aggregating'];

type Operation =
  | { readonly op: 'key'; readonly key: number }
  | { readonly op: 'namespace'; readonly handle: HandleName; readonly namespace: number }
  | { readonly op: 'clear'; readonly handle: HandleName }
  | { readonly op: 'read'; readonly handle: HandleName }
  | { readonly op: 'keys'; readonly handle: HandleName; readonly namespace: number | undefined }
  | { readonly op: 'valueUpdate'; readonly value: number }
  | { readonly op: 'listAdd'; readonly values: readonly number[] }
  | { readonly op: 'listUpdate'; readonly values: readonly number[] }
  | { readonly op: 'mapPut'; readonly mapKey: number; readonly value: number }
  | { readonly op: 'mapRemove'; readonly mapKey: number }
  | { readonly op: 'mapGet'; readonly mapKey: number }
  | { readonly op: 'fold'; readonly handle: 'reducing' | 'aggregating'; readonly value: number };

const index = (items: readonly unknown[]) => fc.nat({ max: items.length - 1 });
const handle = fc.constantFrom(...HANDLES);
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('key' as const), key: index(MODEL_KEYS) }), weight: 4 },
  fc.record({ op: fc.constant('namespace' as const), handle, namespace: index(MODEL_NAMESPACES) }),
  fc.record({ op: fc.constant('clear' as const), handle }),
  { arbitrary: fc.record({ op: fc.constant('read' as const), handle }), weight: 3 },
  fc.record({
    op: fc.constant('keys' as const),
    handle,
    namespace: fc.option(index(MODEL_NAMESPACES), { nil: undefined }),
  }),
  {
    arbitrary: fc.record({ op: fc.constant('valueUpdate' as const), value: fc.integer({ min: -5, max: 5 }) }),
    weight: 2,
  },
  fc.record({ op: fc.constant('listAdd' as const), values: fc.array(fc.nat(9), { maxLength: 3 }) }),
  fc.record({ op: fc.constant('listUpdate' as const), values: fc.array(fc.nat(9), { maxLength: 3 }) }),
  {
    arbitrary: fc.record({
      op: fc.constant('mapPut' as const),
      mapKey: index(MODEL_MAP_KEYS),
      value: fc.nat(9),
    }),
    weight: 2,
  },
  fc.record({ op: fc.constant('mapRemove' as const), mapKey: index(MODEL_MAP_KEYS) }),
  fc.record({ op: fc.constant('mapGet' as const), mapKey: index(MODEL_MAP_KEYS) }),
  {
    arbitrary: fc.record({
      op: fc.constant('fold' as const),
      handle: fc.constantFrom('reducing' as const, 'aggregating' as const),
      value: fc.nat(9),
    }),
    weight: 2,
  },
);

/** The reference: per state, canonical key → canonical namespace → plain value. */
class Model {
  readonly #cells = new Map<HandleName, Map<string, Map<string, { key: unknown; value: unknown }>>>();

  get(handle: HandleName, key: unknown, namespace: string | number): unknown {
    return this.#cells.get(handle)?.get(canonical(key))?.get(canonical(namespace))?.value;
  }

  set(handle: HandleName, key: unknown, namespace: string | number, value: unknown): void {
    let byKey = this.#cells.get(handle);
    if (byKey === undefined) this.#cells.set(handle, (byKey = new Map()));
    let byNamespace = byKey.get(canonical(key));
    if (byNamespace === undefined) byKey.set(canonical(key), (byNamespace = new Map()));
    if (value === undefined) byNamespace.delete(canonical(namespace));
    else byNamespace.set(canonical(namespace), { key, value });
    if (byNamespace.size === 0) byKey.delete(canonical(key));
  }

  keys(handle: HandleName, namespace: string | number | undefined): string[] {
    const result: string[] = [];
    for (const [key, byNamespace] of this.#cells.get(handle) ?? []) {
      if (namespace === undefined || byNamespace.has(canonical(namespace))) result.push(key);
    }
    return result.sort();
  }
}

function runAgainstModel(create: () => KeyedStateBackend): (operations: Operation[]) => void {
  return (operations) => {
    const backend = create();
    const states = {
      value: backend.getValueState(valueState<number>('value')),
      list: backend.getListState(listState<number>('list')),
      map: backend.getMapState(mapState<unknown, number>('map')),
      reducing: backend.getReducingState(reducingState<number>('reducing', (a, b) => a * 10 + b)),
      aggregating: backend.getAggregatingState(aggregatingState('aggregating', countAndSum)),
    };
    const model = new Model();
    const namespaces: Record<HandleName, string | number> = {
      value: VOID_NAMESPACE,
      list: VOID_NAMESPACE,
      map: VOID_NAMESPACE,
      reducing: VOID_NAMESPACE,
      aggregating: VOID_NAMESPACE,
    };
    let key: unknown = MODEL_KEYS[0];
    backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
    const current = (name: HandleName): unknown => model.get(name, key, namespaces[name]);
    const store = (name: HandleName, value: unknown): void => model.set(name, key, namespaces[name], value);
    const mapOf = (): Map<string, [unknown, number]> =>
      (current('map') as Map<string, [unknown, number]>) ?? new Map();

    for (const operation of operations) {
      switch (operation.op) {
        case 'key':
          key = MODEL_KEYS[operation.key];
          backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
          break;
        case 'namespace':
          namespaces[operation.handle] = MODEL_NAMESPACES[operation.namespace];
          states[operation.handle].setCurrentNamespace(namespaces[operation.handle]);
          break;
        case 'clear':
          states[operation.handle].clear();
          store(operation.handle, undefined);
          break;
        case 'read':
          readAndCompare(operation.handle, states, current);
          break;
        case 'keys': {
          const namespace =
            operation.namespace === undefined ? undefined : MODEL_NAMESPACES[operation.namespace];
          expect(sortedCanonical(backend.keys(operation.handle, namespace))).toEqual(
            model.keys(operation.handle, namespace),
          );
          break;
        }
        case 'valueUpdate':
          states.value.update(operation.value);
          store('value', operation.value);
          break;
        case 'listAdd': {
          if (operation.values.length === 1) states.list.add(operation.values[0]);
          else states.list.addAll(operation.values);
          const list = [...((current('list') as number[]) ?? []), ...operation.values];
          store('list', list.length === 0 ? undefined : list);
          break;
        }
        case 'listUpdate':
          states.list.update(operation.values);
          store('list', operation.values.length === 0 ? undefined : [...operation.values]);
          break;
        case 'mapPut': {
          const mapKey = MODEL_MAP_KEYS[operation.mapKey];
          states.map.put(mapKey, operation.value);
          store('map', new Map(mapOf()).set(canonical(mapKey), [mapKey, operation.value]));
          break;
        }
        case 'mapRemove': {
          const mapKey = MODEL_MAP_KEYS[operation.mapKey];
          states.map.remove(mapKey);
          const next = new Map(mapOf());
          next.delete(canonical(mapKey));
          store('map', next.size === 0 ? undefined : next);
          break;
        }
        case 'mapGet': {
          const mapKey = MODEL_MAP_KEYS[operation.mapKey];
          expect(states.map.get(mapKey)).toBe(mapOf().get(canonical(mapKey))?.[1]);
          expect(states.map.contains(mapKey)).toBe(mapOf().has(canonical(mapKey)));
          break;
        }
        case 'fold':
          if (operation.handle === 'reducing') {
            states.reducing.add(operation.value);
            const stored = current('reducing') as number | undefined;
            store('reducing', stored === undefined ? operation.value : stored * 10 + operation.value);
          } else {
            states.aggregating.add(operation.value);
            const [count, sum] = ((current('aggregating') as string | undefined) ?? '0:0')
              .split(':')
              .map(Number);
            store('aggregating', `${count + 1}:${sum + operation.value}`);
          }
          break;
      }
    }
    for (const name of HANDLES) readAndCompare(name, states, current);
  };
}

function readAndCompare(
  name: HandleName,
  states: {
    value: { value(): unknown };
    list: { get(): unknown[] };
    map: { entries(): Iterable<[unknown, number]>; isEmpty(): boolean };
    reducing: { get(): unknown };
    aggregating: { get(): unknown };
  },
  current: (name: HandleName) => unknown,
): void {
  switch (name) {
    case 'value':
      expect(states.value.value()).toBe(current('value'));
      break;
    case 'list':
      expect(states.list.get()).toEqual(current('list') ?? []);
      break;
    case 'map': {
      const expected = (current('map') as Map<string, [unknown, number]> | undefined) ?? new Map();
      expect(sortedCanonical(states.map.entries())).toEqual(sortedCanonical(expected.values()));
      expect(states.map.isEmpty()).toBe(expected.size === 0);
      break;
    }
    case 'reducing':
      expect(states.reducing.get()).toBe(current('reducing'));
      break;
    case 'aggregating':
      expect(states.aggregating.get()).toBe(current('aggregating'));
      break;
  }
}

// --- TTL model-based test ---------------------------------------------------------------

type TtlOperation =
  | { readonly op: 'key'; readonly key: number }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'update'; readonly value: number }
  | { readonly op: 'read' }
  | { readonly op: 'add'; readonly value: number }
  | { readonly op: 'get' }
  | { readonly op: 'keys' };

const TTL_MODEL_KEYS: readonly unknown[] = ['a', 'b', 3, ['c', 1]];
const ttlOperationArbitrary: fc.Arbitrary<TtlOperation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('key' as const), key: index(TTL_MODEL_KEYS) }), weight: 3 },
  {
    arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 70 }) }),
    weight: 3,
  },
  fc.record({ op: fc.constant('update' as const), value: fc.nat(9) }),
  { arbitrary: fc.record({ op: fc.constant('read' as const) }), weight: 2 },
  fc.record({ op: fc.constant('add' as const), value: fc.nat(9) }),
  { arbitrary: fc.record({ op: fc.constant('get' as const) }), weight: 2 },
  fc.record({ op: fc.constant('keys' as const) }),
);

interface Stamped {
  readonly value: number;
  expiresAtMs: number;
}

/**
 * Value state and list state with TTL against a model of stamped entries. Expired data a
 * backend has not cleaned up yet may be returned under ReturnExpiredIfNotCleanedUp, and
 * incremental cleanup may remove it at any time, so there the model accepts either.
 */
function runAgainstTtlModel(
  create: (range?: KeyGroupRange, clock?: ManualClock) => KeyedStateBackend,
  ttl: StateTtlConfig,
  operations: readonly TtlOperation[],
): void {
  const clock = new ManualClock(START_MS);
  const backend = create(FULL_RANGE, clock);
  const value = backend.getValueState(valueState<number>('value', { ttl }));
  const list = backend.getListState(listState<number>('list', { ttl }));
  const refreshes = ttl.updateType === 'OnReadAndWrite';
  const returnsExpired = ttl.visibility === 'ReturnExpiredIfNotCleanedUp';
  const values = new Map<string, Stamped>();
  const lists = new Map<string, Stamped[]>();
  let key: unknown = TTL_MODEL_KEYS[0];
  const at = (): void => backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
  at();
  const live = (entry: Stamped): boolean => entry.expiresAtMs > clock.now();
  for (const operation of operations) {
    const k = canonical(key);
    switch (operation.op) {
      case 'key':
        key = TTL_MODEL_KEYS[operation.key];
        at();
        break;
      case 'advance':
        clock.advance(operation.ms);
        break;
      case 'update':
        value.update(operation.value);
        values.set(k, { value: operation.value, expiresAtMs: clock.now() + TTL_MS });
        break;
      case 'read': {
        const entry = values.get(k);
        const actual = value.value();
        if (entry === undefined) expect(actual).toBeUndefined();
        else if (live(entry)) {
          expect(actual).toBe(entry.value);
          if (refreshes) entry.expiresAtMs = clock.now() + TTL_MS;
        } else {
          if (returnsExpired) expect([entry.value, undefined]).toContain(actual);
          else expect(actual).toBeUndefined();
          values.delete(k);
        }
        break;
      }
      case 'add':
        list.add(operation.value);
        lists.set(k, [
          ...(lists.get(k) ?? []),
          { value: operation.value, expiresAtMs: clock.now() + TTL_MS },
        ]);
        break;
      case 'get': {
        const entries = lists.get(k) ?? [];
        const actual = list.get();
        const liveValues = entries.filter(live).map((entry) => entry.value);
        if (returnsExpired) {
          // Live elements all, in order; expired ones possibly, in their places.
          expect(isSubsequence(liveValues, actual)).toBe(true);
          expect(
            isSubsequence(
              actual,
              entries.map((entry) => entry.value),
            ),
          ).toBe(true);
        } else {
          expect(actual).toEqual(liveValues);
        }
        const kept = entries.filter(live);
        if (refreshes) for (const entry of kept) entry.expiresAtMs = clock.now() + TTL_MS;
        if (kept.length === 0) lists.delete(k);
        else lists.set(k, kept);
        break;
      }
      case 'keys': {
        const liveKeys = (map: Map<string, Stamped | Stamped[]>) =>
          [...map]
            .filter(([, entry]) => (Array.isArray(entry) ? entry.some(live) : live(entry)))
            .map(([k]) => k)
            .sort();
        expect(sortedCanonical(backend.keys('value'))).toEqual(liveKeys(values));
        expect(sortedCanonical(backend.keys('list'))).toEqual(liveKeys(lists));
        break;
      }
    }
  }
}

function isSubsequence(part: readonly number[], whole: readonly number[]): boolean {
  let i = 0;
  for (const item of whole) if (i < part.length && part[i] === item) i++;
  return i === part.length;
}
