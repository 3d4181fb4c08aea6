/** Tests of the user-facing state descriptor factories and their validation. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { StateTtlConfig } from '../../src/state/descriptors.ts';
import { stringSerializer } from '../../src/state/serializers/index.ts';
import {
  aggregatingState,
  listState,
  mapState,
  reducingState,
  validateStateDescriptor,
  valueState,
} from '../../src/state/state-descriptors-factory.ts';

describe('state descriptor factories', () => {
  it('build typed, frozen descriptors with only the given options', () => {
    const ttl: StateTtlConfig = { ttlMs: 1000, updateType: 'OnReadAndWrite' };
    const value = valueState<string>('last', { serializer: stringSerializer, ttl, defaultValue: 'none' });
    expect(value).toEqual({
      kind: 'value',
      name: 'last',
      serializer: stringSerializer,
      ttl,
      defaultValue: 'none',
    });
    expect(Object.isFrozen(value)).toBe(true);
    expect(listState<number>('l')).toEqual({ kind: 'list', name: 'l' });
    expect(mapState<string, number>('m', { keySerializer: stringSerializer })).toEqual({
      kind: 'map',
      name: 'm',
      keySerializer: stringSerializer,
    });
    const sum = (a: number, b: number) => a + b;
    expect(reducingState('r', sum)).toEqual({ kind: 'reducing', name: 'r', reduce: sum });
    const aggregate = {
      createAccumulator: () => 0,
      add: (v: number, acc: number) => acc + v,
      getResult: (acc: number) => acc,
    };
    expect(aggregatingState('a', aggregate)).toEqual({ kind: 'aggregating', name: 'a', aggregate });
  });

  it('refuse empty names', () => {
    expect(() => valueState('')).toThrow(ConfigurationError);
    expect(() => listState('   ')).toThrow(/non-empty/);
  });

  it('refuse a TTL that is not a positive finite number of milliseconds, or unknown modes', () => {
    for (const ttlMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '10' as unknown as number]) {
      expect(() => valueState('v', { ttl: { ttlMs } })).toThrow(ConfigurationError);
    }
    expect(() => mapState('m', { ttl: { ttlMs: 5 } })).not.toThrow();
    expect(() => valueState('v', { ttl: { ttlMs: 0 } })).toThrow(
      /ttl.ttlMs of state 'v' must be a positive finite/,
    );
    expect(() => listState('l', { ttl: { ttlMs: 5, updateType: 'OnRead' as 'OnReadAndWrite' } })).toThrow(
      /updateType/,
    );
    expect(() =>
      listState('l', { ttl: { ttlMs: 5, visibility: 'Sometimes' as 'NeverReturnExpired' } }),
    ).toThrow(/visibility/);
  });

  it('refuse missing functions and uncopyable defaults', () => {
    expect(() => reducingState('r', undefined as unknown as (a: number, b: number) => number)).toThrow(
      /reduce function/,
    );
    expect(() =>
      aggregatingState('a', { createAccumulator: () => 0, add: (v: number) => v } as unknown as Parameters<
        typeof aggregatingState
      >[1]),
    ).toThrow(/getResult/);
    class Box {}
    expect(() => valueState('v', { defaultValue: new Box() })).toThrow(/defaultValue of state 'v'/);
  });

  it('validate hand-built descriptors too', () => {
    expect(() => validateStateDescriptor({ kind: 'value', name: 'ok' })).not.toThrow();
    expect(() => validateStateDescriptor({ kind: 'bogus' as 'value', name: 'x' })).toThrow(/unknown kind/);
  });
});
