/** The snapshot part of the keyed-state-backend conformance suite: round trips, copy-on-write isolation, rescaling, compatibility. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { AggregateFunction, StateTtlConfig } from '../../src/state/descriptors.ts';
import type { KeyGroupRange } from '../../src/state/key-group-range.ts';
import {
  assignToKeyGroup,
  computeKeyGroupRange,
  keyGroupRangeContains,
  operatorIndexForKeyGroup,
} from '../../src/state/key-groups.ts';
import { VOID_NAMESPACE } from '../../src/state/keyed-state.ts';
import type { KeyedStateBackend, KeyedStateBackendFactory } from '../../src/state/keyed-state-backend.ts';
import { numberSerializer, stringSerializer } from '../../src/state/serializers/index.ts';
import type { TypeSerializer } from '../../src/state/serializers/type-serializer.ts';
import {
  decodeAllTimers,
  IncompatibleStateError,
  KEYED_STATE_HEADER_BYTES,
  type KeyedStateFile,
  type KeyedStateFileContents,
  readKeyedStateFile,
  readKeyedStateRange,
  registerRestoredTimers,
  type TimerSnapshotEntry,
  writeKeyedStateFile,
} from '../../src/state/snapshot/index.ts';
import {
  aggregatingState,
  listState,
  mapState,
  reducingState,
  valueState,
} from '../../src/state/state-descriptors-factory.ts';

const START_MS = 1_000;
const TTL_MS = 100;

/** A canonical text of a JSON-like value that ignores field order and tells 1, '1' and 1n apart. */
function canonical(value: unknown): string {
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

interface Obj {
  n: number;
  tags: number[];
}

/** Mutates its accumulator in place, as Flink's contract allows. */
const objectAggregate: AggregateFunction<number, Obj, Obj> = {
  createAccumulator: () => ({ n: 0, tags: [] }),
  add: (value, acc) => {
    acc.n += value;
    acc.tags.push(value);
    return acc;
  },
  // Returns the accumulator itself: callers that mutate the result mutate the state.
  getResult: (acc) => acc,
};

/** Mutates its first argument in place. */
const objectReduce = (a: Obj, b: Obj): Obj => {
  a.n += b.n;
  a.tags.push(...b.tags);
  return a;
};

/** The states every snapshot test registers, of every kind, with object values mutated in place. */
function registerAll(backend: KeyedStateBackend, ttl?: StateTtlConfig) {
  return {
    value: backend.getValueState(valueState<Obj>('value', { ttl })),
    list: backend.getListState(listState<Obj>('list', { ttl })),
    map: backend.getMapState(mapState<unknown, Obj>('map', { ttl })),
    reducing: backend.getReducingState(reducingState<Obj>('reducing', objectReduce, { ttl })),
    aggregating: backend.getAggregatingState(aggregatingState('aggregating', objectAggregate, { ttl })),
  };
}
type States = ReturnType<typeof registerAll>;
type StateName = keyof States;
const STATE_NAMES: readonly StateName[] = ['value', 'list', 'map', 'reducing', 'aggregating'];

/** Every (state, key, namespace) entry readable through the handles, as sorted canonical lines. */
function dump(
  backend: KeyedStateBackend,
  states: States,
  keys: readonly unknown[],
  namespaces: readonly (string | number)[],
  maxParallelism: number,
): string[] {
  const lines: string[] = [];
  for (const key of keys) {
    backend.setCurrentKey(key, assignToKeyGroup(key, maxParallelism));
    for (const namespace of namespaces) {
      for (const name of STATE_NAMES) {
        states[name].setCurrentNamespace(namespace);
        const value = readState(states, name);
        if (value !== undefined) lines.push(`${name}|${canonical(key)}|${canonical(namespace)}|${value}`);
      }
    }
  }
  return lines.sort();
}

function readState(states: States, name: StateName): string | undefined {
  switch (name) {
    case 'value':
    case 'reducing':
    case 'aggregating': {
      const value = name === 'value' ? states.value.value() : states[name].get();
      return value === undefined ? undefined : canonical(value);
    }
    case 'list': {
      const list = states.list.get();
      return list.length === 0 ? undefined : canonical(list);
    }
    case 'map': {
      const entries = [...states.map.entries()].map(canonical).sort();
      return entries.length === 0 ? undefined : `{${entries.join(',')}}`;
    }
  }
}

/** Writes and releases a snapshot. */
function snapshotFile(
  backend: KeyedStateBackend,
  timers: readonly TimerSnapshotEntry[] = [],
): KeyedStateFile {
  const snapshot = backend.snapshot();
  try {
    return writeKeyedStateFile(snapshot, timers);
  } finally {
    snapshot.release();
  }
}

/**
 * The timers a backend took in a restore: those `restore` returned (for the task to
 * re-register) and those it keeps itself (`createTimerQueue`), which its next snapshot holds.
 * A backend does one or the other.
 */
function restoredTimersOf(
  backend: KeyedStateBackend,
  returned: readonly TimerSnapshotEntry[],
): TimerSnapshotEntry[] {
  const kept = decodeAllTimers(
    readKeyedStateFile(snapshotFile(backend).bytes, 'check.keyed').sections.map((s) => s.timers),
  );
  expect(returned.length === 0 || kept.length === 0, 'timers both returned and kept').toBe(true);
  return [...returned, ...kept];
}

/**
 * Registers the snapshot describe block of the conformance suite for `factory`. Called by
 * `runKeyedStateBackendConformance`, so every backend runs it.
 */
export function runKeyedStateSnapshotConformance(name: string, factory: KeyedStateBackendFactory): void {
  const create = (
    options: { range?: KeyGroupRange; maxParallelism?: number; clock?: ManualClock } = {},
  ): KeyedStateBackend => {
    const maxParallelism = options.maxParallelism ?? 128;
    return factory.create({
      operatorId: `snapshot-conformance-${name}`,
      keyGroupRange: options.range ?? { start: 0, end: maxParallelism - 1 },
      maxParallelism,
      clock: options.clock ?? new ManualClock(START_MS),
    });
  };
  const at = (backend: KeyedStateBackend, key: unknown): void =>
    backend.setCurrentKey(key, assignToKeyGroup(key, backend.maxParallelism));
  const restored = (file: KeyedStateFile, clock = new ManualClock(START_MS)) => {
    const backend = create({ clock });
    const timers = backend.restore([readKeyedStateFile(file.bytes, 'chk-1/op.keyed')]);
    return { backend, timers };
  };

  describe(`${name} keyed state backend: snapshots`, () => {
    describe('round trip', () => {
      for (const ttl of [undefined, { ttlMs: TTL_MS }]) {
        it(`restores every state kind in every namespace ${ttl ? 'with' : 'without'} TTL`, () => {
          const backend = create();
          const states = registerAll(backend, ttl);
          const keys: unknown[] = ['a', 7, 3n, true, ['x', 1], { user: 'u', region: 'eu' }, '\u0001esc'];
          const namespaces: (string | number)[] = [VOID_NAMESPACE, 'window-1', 42];
          let i = 0;
          for (const key of keys) {
            at(backend, key);
            for (const namespace of namespaces) {
              for (const stateName of STATE_NAMES) states[stateName].setCurrentNamespace(namespace);
              if (i % 3 !== 2) states.value.update({ n: i, tags: [i] });
              states.list.addAll([
                { n: i, tags: [] },
                { n: -i, tags: [1, 2] },
              ]);
              states.map.put(['k', i], { n: i, tags: [] });
              states.map.put(`m${i}`, { n: 2 * i, tags: [3] });
              states.reducing.add({ n: i, tags: [i] });
              states.reducing.add({ n: 1, tags: [] });
              states.aggregating.add(i);
              states.aggregating.add(1);
              i++;
            }
          }
          const expected = dump(backend, states, keys, namespaces, 128);
          expect(expected.length).toBeGreaterThan(keys.length * namespaces.length * 4);
          const { backend: copy } = restored(snapshotFile(backend));
          const copyStates = registerAll(copy, ttl);
          expect(dump(copy, copyStates, keys, namespaces, 128)).toEqual(expected);
          expect([...copy.keys('value')].map(canonical).sort()).toEqual(
            [...backend.keys('value')].map(canonical).sort(),
          );
        });
      }

      it('writes an empty backend and restores it empty', () => {
        const file = snapshotFile(create());
        expect(file.keyGroupOffsets).toHaveLength(129);
        const { backend, timers } = restored(file);
        const states = registerAll(backend);
        expect(timers).toEqual([]);
        expect(dump(backend, states, ['a', 1], [VOID_NAMESPACE], 128)).toEqual([]);
      });

      it('leaves out entries expired at snapshot time and keeps the expiry of the rest', () => {
        const clock = new ManualClock(START_MS);
        const backend = create({ clock });
        const states = registerAll(backend, { ttlMs: TTL_MS });
        at(backend, 'early');
        states.value.update({ n: 1, tags: [] });
        states.list.add({ n: 1, tags: [] });
        states.map.put('e', { n: 1, tags: [] });
        clock.advance(60);
        at(backend, 'late');
        states.value.update({ n: 2, tags: [] });
        at(backend, 'early');
        states.list.add({ n: 2, tags: [] });
        states.map.put('l', { n: 2, tags: [] });
        clock.advance(50); // 'early' written at START_MS has expired; the rest lives until START_MS + 160
        const file = snapshotFile(backend);

        // Restored with a clock before everything: only what was live at snapshot time is in the file.
        const { backend: before } = restored(file, new ManualClock(0));
        const beforeStates = registerAll(before, { ttlMs: TTL_MS });
        expect(dump(before, beforeStates, ['early', 'late'], [VOID_NAMESPACE], 128)).toEqual([
          `list|"early"|0|[{"n":2,"tags":[]}]`,
          `map|"early"|0|{["l",{"n":2,"tags":[]}]}`,
          `value|"late"|0|{"n":2,"tags":[]}`,
        ]);
        // Expiry times survive: at START_MS + 160 everything has expired.
        const clockAfter = new ManualClock(START_MS + 160);
        const { backend: after } = restored(file, clockAfter);
        const afterStates = registerAll(after, { ttlMs: TTL_MS });
        expect(dump(after, afterStates, ['early', 'late'], [VOID_NAMESPACE], 128)).toEqual([]);
      });

      it('returns timers and re-registers them through registerRestoredTimers', () => {
        const backend = create();
        registerAll(backend);
        const timers: TimerSnapshotEntry[] = [
          {
            service: 'win',
            domain: 'event',
            key: 'a',
            keyGroup: assignToKeyGroup('a', 128),
            namespace: 'w1',
            timestampMs: 50,
          },
          {
            service: 'win',
            domain: 'processing',
            key: ['b', 2],
            keyGroup: assignToKeyGroup(['b', 2], 128),
            namespace: 0,
            timestampMs: 10,
          },
          {
            service: 'user',
            domain: 'event',
            key: 'a',
            keyGroup: assignToKeyGroup('a', 128),
            namespace: 0,
            timestampMs: -5,
          },
          {
            service: 'gone',
            domain: 'event',
            key: 9,
            keyGroup: assignToKeyGroup(9, 128),
            namespace: 0,
            timestampMs: 1,
          },
        ];
        const { backend: copy, timers: back } = restored(snapshotFile(backend, timers));
        expect(restoredTimersOf(copy, back).map(canonical).sort()).toEqual(timers.map(canonical).sort());
        // A backend that keeps its timers returns none to re-register.
        if (back.length === 0) return;
        const calls: string[] = [];
        const service = (label: string) => ({
          registerEventTimeTimer: (ns: string | number, ts: number) =>
            calls.push(`${label} event ${canonical(copy.getCurrentKey())} ${ns} ${ts}`),
          registerProcessingTimeTimer: (ns: string | number, ts: number) =>
            calls.push(`${label} processing ${canonical(copy.getCurrentKey())} ${ns} ${ts}`),
        });
        const unclaimed = registerRestoredTimers(back, copy, (serviceName) =>
          serviceName === 'gone' ? undefined : service(serviceName),
        );
        expect(calls).toEqual(['user event "a" 0 -5', 'win processing ["b",2] 0 10', 'win event "a" w1 50']);
        expect(unclaimed.map((timer) => timer.service)).toEqual(['gone']);
      });

      it('refuses timers outside the snapshot range (a bug)', () => {
        const range = computeKeyGroupRange(128, 2, 0);
        const backend = create({ range });
        const snapshot = backend.snapshot();
        const timer = {
          service: 's',
          domain: 'event',
          key: 'k',
          keyGroup: 127,
          namespace: 0,
          timestampMs: 1,
        } as const;
        expect(() => writeKeyedStateFile(snapshot, [timer])).toThrow(
          /outside the snapshot's key-group range/,
        );
        snapshot.release();
      });

      it('keeps restored states the operator has not registered in later snapshots', () => {
        const backend = create();
        const states = registerAll(backend);
        at(backend, 'k');
        states.value.update({ n: 1, tags: [] });
        states.list.add({ n: 2, tags: [] });
        const { backend: middle } = restored(snapshotFile(backend));
        const middleValue = middle.getValueState(valueState<Obj>('value'));
        at(middle, 'k');
        middleValue.update({ n: 10, tags: [] });
        // 'list' and the rest were never registered in `middle`: they pass through.
        const { backend: last } = restored(snapshotFile(middle));
        const lastStates = registerAll(last);
        expect(dump(last, lastStates, ['k'], [VOID_NAMESPACE], 128)).toEqual([
          'list|"k"|0|[{"n":2,"tags":[]}]',
          'value|"k"|0|{"n":10,"tags":[]}',
        ]);
      });

      it('refuses to restore after states are registered, twice into one key group, or outside the range', () => {
        const file = snapshotFile(create());
        const part = readKeyedStateFile(file.bytes, 'f');
        const registered = create();
        registered.getValueState(valueState('v'));
        expect(() => registered.restore([part])).toThrow(/restore first/);
        expect(() => create().restore([part, part])).toThrow(/restored twice/);
        const narrow = create({ range: computeKeyGroupRange(128, 2, 1) });
        expect(() => narrow.restore([part])).toThrow(RangeError);
        expect(() => create({ maxParallelism: 64 }).restore([part])).toThrow(ConfigurationError);
      });
    });

    describe('copy-on-write isolation', () => {
      it('keeps in-place mutations of values, elements, map values, reductions and accumulators out of a pending snapshot', () => {
        const backend = create();
        const states = registerAll(backend);
        at(backend, 'k');
        states.value.update({ n: 1, tags: [1] });
        states.list.add({ n: 1, tags: [] });
        states.map.put('m', { n: 1, tags: [] });
        states.reducing.add({ n: 1, tags: [] });
        states.aggregating.add(1);
        const expected = dump(backend, states, ['k'], [VOID_NAMESPACE], 128);
        const snapshot = backend.snapshot();

        const value = states.value.value()!;
        value.n = 99;
        value.tags.push(99);
        states.value.update(value);
        const list = states.list.get();
        list[0].n = 99;
        states.list.update(list);
        const entry = states.map.get('m')!;
        entry.n = 99;
        states.map.put('m', entry);
        states.reducing.add({ n: 98, tags: [] });
        states.aggregating.add(98);
        (states.aggregating.get() as Obj).tags.push(-1);
        expect(readState(states, 'value')).toBe('{"n":99,"tags":[1,99]}');

        const file = writeKeyedStateFile(snapshot, []);
        snapshot.release();
        const { backend: copy } = restored(file);
        expect(dump(copy, registerAll(copy), ['k'], [VOID_NAMESPACE], 128)).toEqual(expected);
      });

      it('isolates each of several overlapping snapshots, whichever is written or released first', () => {
        for (const releaseFirstEarly of [false, true]) {
          const backend = create();
          const states = registerAll(backend);
          at(backend, 'k');
          states.value.update({ n: 0, tags: [] });
          states.aggregating.add(0);
          const files: KeyedStateFile[] = [];
          const expected: string[][] = [];
          const first = backend.snapshot();
          expected.push(dump(backend, states, ['k'], [VOID_NAMESPACE], 128));
          for (let round = 1; round <= 3; round++) {
            const value = states.value.value()!;
            value.n = round;
            states.value.update(value);
            states.aggregating.add(round);
            if (round === 1 && releaseFirstEarly) {
              files.push(writeKeyedStateFile(first, []));
              first.release();
            }
            const snapshot = backend.snapshot();
            expected.push(dump(backend, states, ['k'], [VOID_NAMESPACE], 128));
            // Mutate what the snapshot just took, through objects copied for the previous one.
            const again = states.value.value()!;
            again.n = -round;
            states.value.update(again);
            states.aggregating.add(100);
            (states.aggregating.get() as Obj).n = -1;
            files.push(writeKeyedStateFile(snapshot, []));
            snapshot.release();
            const restoredValue = states.value.value()!;
            restoredValue.n = round;
            states.value.update(restoredValue);
          }
          if (!releaseFirstEarly) {
            files.unshift(writeKeyedStateFile(first, []));
            first.release();
          }
          files.forEach((file, i) => {
            const { backend: copy } = restored(file);
            expect(dump(copy, registerAll(copy), ['k'], [VOID_NAMESPACE], 128), `snapshot ${i}`).toEqual(
              expected[i],
            );
          });
        }
      });

      it('matches a model at every snapshot when snapshots interleave with operations', () => {
        fc.assert(
          fc.property(fc.array(snapshotOperation, { minLength: 1, maxLength: 80 }), (operations) =>
            runSnapshotModel(create, operations),
          ),
          { numRuns: 120 },
        );
      });
    });

    describe('rescaling', () => {
      it('restores the state of N subtasks into M subtasks, each key into its new owner, with timers', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 6 }),
            fc.integer({ min: 1, max: 6 }),
            fc.constantFrom(16, 128),
            fc.uniqueArray(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.string({ maxLength: 4 })), {
              minLength: 1,
              maxLength: 40,
            }),
            fc.boolean(),
            (oldParallelism, newParallelism, maxParallelism, keys, rangeReads) =>
              runRescale(create, { oldParallelism, newParallelism, maxParallelism, keys, rangeReads }),
          ),
          { numRuns: 60 },
        );
      });
    });

    describe('compatibility on restore', () => {
      const fileWith = (register: (backend: KeyedStateBackend) => void): KeyedStateFileContents => {
        const backend = create();
        at(backend, 'k');
        register(backend);
        return readKeyedStateFile(snapshotFile(backend).bytes, 'chk-3/op-0.keyed');
      };

      it('refuses another kind, naming the state, both kinds and the file', () => {
        const part = fileWith((backend) => backend.getValueState(valueState<number>('count')).update(1));
        const backend = create();
        backend.restore([part]);
        expect(() => backend.getListState(listState<number>('count'))).toThrow(IncompatibleStateError);
        expect(() => backend.getListState(listState<number>('count'))).toThrow(
          /'count' restored from chk-3\/op-0.keyed is value state in the snapshot but is registered as list state/,
        );
      });

      it('refuses a serializer that cannot read the old one, and accepts one whose canRead says it can', () => {
        const part = fileWith((backend) =>
          backend.getValueState(valueState<number>('count', { serializer: numberSerializer })).update(5),
        );
        const refusing = create();
        refusing.restore([part]);
        expect(() =>
          refusing.getValueState(valueState<string>('count', { serializer: stringSerializer })),
        ).toThrow(
          /'count' restored from chk-3\/op-0.keyed has values written by serializer weir.number v1, which the registered serializer weir.string v1 cannot read/,
        );
        const migrating: TypeSerializer<number> = {
          id: 'my-app.count',
          version: 2,
          serialize: (value, out) => out.writeFloat64(value),
          deserialize: (input) => input.readFloat64(),
          canRead: (id, version) => id === 'weir.number' && version === 1,
        };
        const accepting = create();
        accepting.restore([part]);
        const state = accepting.getValueState(valueState<number>('count', { serializer: migrating }));
        at(accepting, 'k');
        expect(state.value()).toBe(5);
      });

      it('refuses switching TTL on or off', () => {
        const withTtl = fileWith((backend) =>
          backend.getValueState(valueState<number>('v', { ttl: { ttlMs: TTL_MS } })).update(1),
        );
        const off = create();
        off.restore([withTtl]);
        expect(() => off.getValueState(valueState<number>('v'))).toThrow(/switching TTL off/);
        const without = fileWith((backend) => backend.getValueState(valueState<number>('v')).update(1));
        const on = create();
        on.restore([without]);
        expect(() => on.getValueState(valueState<number>('v', { ttl: { ttlMs: TTL_MS } }))).toThrow(
          /switching TTL on/,
        );
      });

      it('checks map-key serializers of map state', () => {
        const part = fileWith((backend) =>
          backend.getMapState(mapState<string, number>('m', { keySerializer: stringSerializer })).put('a', 1),
        );
        const backend = create();
        backend.restore([part]);
        expect(() =>
          backend.getMapState(mapState<number, number>('m', { keySerializer: numberSerializer })),
        ).toThrow(/map keys written by serializer weir.string v1/);
      });
    });
  });
}

// --- Model test with interleaved snapshots ---------------------------------------------------

const MODEL_KEYS: readonly unknown[] = ['a', 'b', 1, ['a', 1], { x: 1 }];
const MODEL_NAMESPACES: readonly (string | number)[] = [VOID_NAMESPACE, 'w'];
const MODEL_MAP_KEYS: readonly unknown[] = ['m1', 2, ['m', 3]];

type SnapshotOperation =
  | { readonly op: 'key'; readonly key: number }
  | { readonly op: 'namespace'; readonly namespace: number }
  | { readonly op: 'valueSet'; readonly n: number }
  | { readonly op: 'valueMutate'; readonly d: number }
  | { readonly op: 'listAdd'; readonly n: number }
  | { readonly op: 'listMutate'; readonly d: number }
  | { readonly op: 'mapPut'; readonly mapKey: number; readonly n: number }
  | { readonly op: 'mapMutate'; readonly mapKey: number; readonly d: number }
  | { readonly op: 'reduce'; readonly n: number }
  | { readonly op: 'aggregate'; readonly n: number }
  | { readonly op: 'clear'; readonly state: StateName }
  | { readonly op: 'snapshot' }
  | { readonly op: 'write'; readonly which: number };

const small = fc.integer({ min: -9, max: 9 });
const snapshotOperation: fc.Arbitrary<SnapshotOperation> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant('key' as const), key: fc.nat(MODEL_KEYS.length - 1) }),
    weight: 3,
  },
  fc.record({ op: fc.constant('namespace' as const), namespace: fc.nat(MODEL_NAMESPACES.length - 1) }),
  fc.record({ op: fc.constant('valueSet' as const), n: small }),
  { arbitrary: fc.record({ op: fc.constant('valueMutate' as const), d: small }), weight: 2 },
  fc.record({ op: fc.constant('listAdd' as const), n: small }),
  fc.record({ op: fc.constant('listMutate' as const), d: small }),
  fc.record({ op: fc.constant('mapPut' as const), mapKey: fc.nat(MODEL_MAP_KEYS.length - 1), n: small }),
  fc.record({ op: fc.constant('mapMutate' as const), mapKey: fc.nat(MODEL_MAP_KEYS.length - 1), d: small }),
  fc.record({ op: fc.constant('reduce' as const), n: small }),
  fc.record({ op: fc.constant('aggregate' as const), n: small }),
  fc.record({ op: fc.constant('clear' as const), state: fc.constantFrom(...STATE_NAMES) }),
  { arbitrary: fc.record({ op: fc.constant('snapshot' as const) }), weight: 2 },
  fc.record({ op: fc.constant('write' as const), which: fc.nat(7) }),
);

/** The model: canonical (state, key, namespace) → a plain value the model owns. */
class SnapshotModel {
  readonly cells = new Map<
    string,
    { state: StateName; key: unknown; namespace: string | number; value: unknown }
  >();

  get(state: StateName, key: unknown, namespace: string | number): unknown {
    return this.cells.get(`${state}|${canonical(key)}|${canonical(namespace)}`)?.value;
  }

  set(state: StateName, key: unknown, namespace: string | number, value: unknown): void {
    const id = `${state}|${canonical(key)}|${canonical(namespace)}`;
    if (value === undefined) this.cells.delete(id);
    else this.cells.set(id, { state, key, namespace, value: structuredClone(value) });
  }

  /** The lines `dump` produces for the same content. */
  lines(): string[] {
    const lines: string[] = [];
    for (const [id, { state, value }] of this.cells) {
      const text =
        state === 'map'
          ? `{${[...(value as Map<string, [unknown, Obj]>).values()].map(canonical).sort().join(',')}}`
          : canonical(value);
      lines.push(`${id}|${text}`);
    }
    return lines.sort();
  }
}

function runSnapshotModel(
  create: (options?: { clock?: ManualClock }) => KeyedStateBackend,
  operations: readonly SnapshotOperation[],
): void {
  const backend = create();
  const states = registerAll(backend);
  const model = new SnapshotModel();
  let key: unknown = MODEL_KEYS[0];
  let namespace: string | number = VOID_NAMESPACE;
  backend.setCurrentKey(key, assignToKeyGroup(key, 128));
  const pending: { snapshot: ReturnType<KeyedStateBackend['snapshot']>; expected: string[] }[] = [];
  const written: { file: KeyedStateFile; expected: string[] }[] = [];
  const current = (state: StateName) => model.get(state, key, namespace);
  const store = (state: StateName, value: unknown) => model.set(state, key, namespace, value);
  const mapOf = () => new Map((current('map') as Map<string, [unknown, Obj]> | undefined) ?? []);

  for (const operation of operations) {
    switch (operation.op) {
      case 'key':
        key = MODEL_KEYS[operation.key];
        backend.setCurrentKey(key, assignToKeyGroup(key, 128));
        break;
      case 'namespace':
        namespace = MODEL_NAMESPACES[operation.namespace];
        for (const name of STATE_NAMES) states[name].setCurrentNamespace(namespace);
        break;
      case 'valueSet':
        states.value.update({ n: operation.n, tags: [operation.n] });
        store('value', { n: operation.n, tags: [operation.n] });
        break;
      case 'valueMutate': {
        const value = states.value.value();
        if (value === undefined) break;
        value.n += operation.d;
        value.tags.push(operation.d);
        states.value.update(value);
        store('value', value);
        break;
      }
      case 'listAdd':
        states.list.add({ n: operation.n, tags: [] });
        store('list', [...((current('list') as Obj[]) ?? []), { n: operation.n, tags: [] }]);
        break;
      case 'listMutate': {
        const list = states.list.get();
        if (list.length === 0) break;
        list[0].n += operation.d;
        list[0].tags.push(operation.d);
        states.list.update(list);
        store('list', list);
        break;
      }
      case 'mapPut': {
        const mapKey = MODEL_MAP_KEYS[operation.mapKey];
        states.map.put(mapKey, { n: operation.n, tags: [] });
        store('map', mapOf().set(canonical(mapKey), [mapKey, { n: operation.n, tags: [] }]));
        break;
      }
      case 'mapMutate': {
        const mapKey = MODEL_MAP_KEYS[operation.mapKey];
        const value = states.map.get(mapKey);
        if (value === undefined) break;
        value.n += operation.d;
        value.tags.push(operation.d);
        states.map.put(mapKey, value);
        store('map', mapOf().set(canonical(mapKey), [mapKey, value]));
        break;
      }
      case 'reduce': {
        states.reducing.add({ n: operation.n, tags: [operation.n] });
        const stored = current('reducing') as Obj | undefined;
        store(
          'reducing',
          stored === undefined
            ? { n: operation.n, tags: [operation.n] }
            : { n: stored.n + operation.n, tags: [...stored.tags, operation.n] },
        );
        break;
      }
      case 'aggregate': {
        states.aggregating.add(operation.n);
        const stored = (current('aggregating') as Obj | undefined) ?? { n: 0, tags: [] };
        store('aggregating', { n: stored.n + operation.n, tags: [...stored.tags, operation.n] });
        break;
      }
      case 'clear':
        states[operation.state].clear();
        store(operation.state, undefined);
        break;
      case 'snapshot':
        pending.push({ snapshot: backend.snapshot(), expected: model.lines() });
        break;
      case 'write': {
        // The asynchronous part of some pending snapshot runs now, between operations.
        if (pending.length === 0) break;
        const [{ snapshot, expected }] = pending.splice(operation.which % pending.length, 1);
        written.push({ file: writeKeyedStateFile(snapshot, []), expected });
        snapshot.release();
        break;
      }
    }
  }
  for (const { snapshot, expected } of pending) {
    written.push({ file: writeKeyedStateFile(snapshot, []), expected });
    snapshot.release();
  }
  expect(dump(backend, states, MODEL_KEYS, MODEL_NAMESPACES, 128)).toEqual(model.lines());
  for (const { file, expected } of written) {
    const copy = create();
    copy.restore([readKeyedStateFile(file.bytes, 'model.keyed')]);
    expect(dump(copy, registerAll(copy), MODEL_KEYS, MODEL_NAMESPACES, 128)).toEqual(expected);
  }
}

// --- Rescaling ---------------------------------------------------------------------------------

function runRescale(
  create: (options?: { range?: KeyGroupRange; maxParallelism?: number }) => KeyedStateBackend,
  options: {
    oldParallelism: number;
    newParallelism: number;
    maxParallelism: number;
    keys: readonly unknown[];
    rangeReads: boolean;
  },
): void {
  const { oldParallelism, newParallelism, maxParallelism, keys, rangeReads } = options;
  const namespaces = [VOID_NAMESPACE, 'w'];
  const owner = (key: unknown, parallelism: number) =>
    operatorIndexForKeyGroup(maxParallelism, parallelism, assignToKeyGroup(key, maxParallelism));
  const expectedLines: string[] = [];
  const allTimers: TimerSnapshotEntry[] = [];
  const files: { file: KeyedStateFile; range: KeyGroupRange }[] = [];
  for (let index = 0; index < oldParallelism; index++) {
    const range = computeKeyGroupRange(maxParallelism, oldParallelism, index);
    const backend = create({ range, maxParallelism });
    const states = registerAll(backend);
    const owned = keys.filter((key) => owner(key, oldParallelism) === index);
    const timers: TimerSnapshotEntry[] = [];
    owned.forEach((key, i) => {
      const keyGroup = assignToKeyGroup(key, maxParallelism);
      expect(keyGroupRangeContains(range, keyGroup)).toBe(true);
      backend.setCurrentKey(key, keyGroup);
      states.value.update({ n: i, tags: [] });
      states.list.setCurrentNamespace(namespaces[i % 2]);
      states.list.add({ n: i, tags: [i] });
      states.map.put(i, { n: i, tags: [] });
      states.aggregating.add(i);
      timers.push({
        service: 's',
        domain: i % 2 === 0 ? 'event' : 'processing',
        key,
        keyGroup,
        namespace: 'w',
        timestampMs: i,
      });
    });
    expectedLines.push(...dump(backend, states, owned, namespaces, maxParallelism));
    allTimers.push(...timers);
    files.push({ file: snapshotFile(backend, timers), range });
  }

  const restoredLines: string[] = [];
  const restoredTimers: TimerSnapshotEntry[] = [];
  for (let index = 0; index < newParallelism; index++) {
    const range = computeKeyGroupRange(maxParallelism, newParallelism, index);
    const parts: KeyedStateFileContents[] = [];
    files.forEach(({ file, range: old }, oldIndex) => {
      const from = Math.max(range.start, old.start);
      const to = Math.min(range.end, old.end);
      if (from > to) return;
      const path = `chk-1/op-${oldIndex}.keyed`;
      if (!rangeReads) {
        parts.push(readKeyedStateFile(file.bytes, path, range));
        return;
      }
      const offsets = file.keyGroupOffsets;
      const sections = file.bytes.subarray(offsets[from - old.start], offsets[to - old.start + 1]);
      parts.push(
        readKeyedStateRange(file.bytes.subarray(0, KEYED_STATE_HEADER_BYTES), sections, path, range),
      );
    });
    const backend = create({ range, maxParallelism });
    const returned = backend.restore(parts);
    const states = registerAll(backend);
    const owned = keys.filter((key) => owner(key, newParallelism) === index);
    restoredLines.push(...dump(backend, states, owned, namespaces, maxParallelism));
    // Nothing else came along: every restored key belongs here.
    for (const key of backend.keys('value')) expect(owner(key, newParallelism)).toBe(index);
    restoredTimers.push(...restoredTimersOf(backend, returned));
  }
  expect(restoredLines.sort()).toEqual(expectedLines.sort());
  expect(restoredTimers.map(canonical).sort()).toEqual(allTimers.map(canonical).sort());
}
