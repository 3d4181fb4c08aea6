/** Tests of the default value serializer, copyValue and the simple serializers. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader, BinaryWriter } from '../../src/core/binary.ts';
import {
  copyValue,
  fromBytes,
  jsonSerializer,
  numberSerializer,
  stringSerializer,
  toBytes,
  UnsupportedValueError,
  VALUE_DEPTH_MAX,
  valueSerializer,
} from '../../src/state/serializers/index.ts';
import { valueArbitrary } from './value-arbitrary.ts';

const roundTrip = (value: unknown): unknown => fromBytes(valueSerializer, toBytes(valueSerializer, value));

/** Every object reachable from `value`, to check that a copy shares none. */
function objectsIn(value: unknown, found = new Set<object>()): Set<object> {
  if (typeof value !== 'object' || value === null || found.has(value)) return found;
  found.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      objectsIn(k, found);
      objectsIn(v, found);
    }
  } else if (value instanceof Set || Array.isArray(value)) {
    for (const item of value) objectsIn(item, found);
  } else if (!(value instanceof Date) && !(value instanceof Uint8Array)) {
    for (const item of Object.values(value)) objectsIn(item, found);
  }
  return found;
}

describe('valueSerializer', () => {
  it('round-trips arbitrary nested values exactly', () => {
    fc.assert(
      fc.property(valueArbitrary, (value) => {
        expect(roundTrip(value)).toStrictEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the special numbers and the number/bigint distinction', () => {
    for (const n of [
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      2 ** 53,
      0.1,
      -(2 ** 31),
    ]) {
      expect(Object.is(roundTrip(n), n)).toBe(true);
    }
    expect(roundTrip(1n)).toBe(1n);
    expect(roundTrip(1)).toBe(1);
  });

  it('reads back a field named __proto__ as a field, not a prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const back = roundTrip(value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['__proto__', 'a']);
    expect(back.polluted).toBeUndefined();
    expect(Object.getPrototypeOf(copyValue(value))).toBe(Object.prototype);
  });

  it('reads a null-prototype object back as a plain object with the same fields', () => {
    const bare = Object.assign(Object.create(null), { a: 1 });
    const back = roundTrip(bare) as object;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back).toEqual({ a: 1 });
  });

  it('keeps the version-1 byte format', () => {
    expect([...toBytes(valueSerializer, { a: 1 })]).toEqual([8, 1, 1, 97, 4, 2]);
    expect([...toBytes(valueSerializer, [true, null, undefined, -1])]).toEqual([7, 4, 3, 1, 0, 4, 1]);
    expect([...toBytes(valueSerializer, 'hé')]).toEqual([6, 3, 104, 0xc3, 0xa9]);
    expect([...toBytes(valueSerializer, new Set([1n]))]).toEqual([10, 1, 12, 2, 1]);
    expect([...toBytes(valueSerializer, -0)]).toEqual([5, 0, 0, 0, 0, 0, 0, 0, 0x80]);
  });

  it('reuses a writer across values', () => {
    const out = new BinaryWriter();
    valueSerializer.serialize({ x: [1, 2, 3] }, out);
    out.reset();
    valueSerializer.serialize('second', out);
    expect(valueSerializer.deserialize(new BinaryReader(out.finish()))).toBe('second');
  });

  it('reports any truncated encoding with a RangeError', () => {
    fc.assert(
      fc.property(valueArbitrary, fc.nat(), (value, at) => {
        const bytes = toBytes(valueSerializer, value);
        const cut = at % bytes.length;
        expect(() => fromBytes(valueSerializer, bytes.subarray(0, cut))).toThrow(RangeError);
      }),
      { numRuns: 200 },
    );
  });

  it('reports unknown tags, absurd counts and left-over bytes', () => {
    expect(() => fromBytes(valueSerializer, new Uint8Array([99]))).toThrow(/unknown tag 99/);
    expect(() => fromBytes(valueSerializer, new Uint8Array([7, 0xff, 0xff, 0x7f]))).toThrow(/array length/);
    expect(() => fromBytes(valueSerializer, new Uint8Array([1, 1]))).toThrow(/1 left over/);
  });

  it('names the path of an unsupported value', () => {
    class Order {
      id = 1;
    }
    const cases: [unknown, string, RegExp][] = [
      [() => 1, 'value', /is a function/],
      [{ a: [1, { fn() {} }] }, 'value.a[1].fn', /is a function \(fn\)/],
      [{ 'odd key': Symbol('s') }, 'value["odd key"]', /is a symbol/],
      [[new Order()], 'value[0]', /is a Order instance/],
      [new Map([['k', /re/]]), 'value.values()[0]', /RegExp instance/],
      [new Map([[new Error('x'), 1]]), 'value.keys()[0]', /Error instance/],
      [new Set([1, new Int32Array(2)]), 'value.values()[1]', /Int32Array instance/],
    ];
    for (const [value, path, problem] of cases) {
      let error: unknown;
      try {
        toBytes(valueSerializer, value);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(UnsupportedValueError);
      expect((error as UnsupportedValueError).path).toBe(path);
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).toMatch(/supported are/);
      expect(() => copyValue(value)).toThrow(UnsupportedValueError);
    }
  });

  it('refuses circular values with a clear error instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(() => toBytes(valueSerializer, cyclic)).toThrow(
      /deeper than 512 levels \(a circular reference\?\)/,
    );
    expect(() => copyValue(cyclic)).toThrow(UnsupportedValueError);
    let deep: unknown = 0;
    for (let i = 0; i < VALUE_DEPTH_MAX - 1; i++) deep = [deep];
    expect(roundTrip(deep)).toStrictEqual(deep);
  });
});

describe('copyValue', () => {
  it('deep-copies: equal value, no shared objects', () => {
    fc.assert(
      fc.property(valueArbitrary, (value) => {
        const copy = copyValue(value);
        expect(copy).toStrictEqual(value);
        const original = objectsIn(value);
        for (const object of objectsIn(copy)) expect(original.has(object)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('returns primitives as they are', () => {
    for (const value of [undefined, null, 1, 'a', 2n, true]) expect(copyValue(value)).toBe(value);
  });
});

describe('simple serializers', () => {
  it('round-trip their type', () => {
    fc.assert(
      fc.property(fc.string(), fc.double(), (s, n) => {
        expect(fromBytes(stringSerializer, toBytes(stringSerializer, s))).toBe(s);
        expect(Object.is(fromBytes(numberSerializer, toBytes(numberSerializer, n)), n)).toBe(true);
      }),
    );
    const json = { a: [1, 'x', null], b: { c: true } };
    expect(fromBytes(jsonSerializer, toBytes(jsonSerializer, json))).toStrictEqual(json);
  });

  it('refuse values of another type', () => {
    expect(() => toBytes(stringSerializer, 1 as unknown as string)).toThrow(/not a string/);
    expect(() => toBytes(numberSerializer, '1' as unknown as number)).toThrow(/not a number/);
    expect(() => toBytes(jsonSerializer, undefined)).toThrow(/cannot represent/);
  });

  it('work with a serializer that nests toBytes inside serialize', () => {
    const nesting = {
      id: 'test.nesting',
      version: 1,
      serialize(value: string, out: BinaryWriter) {
        out.writeBytes(toBytes(stringSerializer, value));
      },
      deserialize(input: BinaryReader) {
        return fromBytes(stringSerializer, input.readBytes());
      },
    };
    expect(fromBytes(nesting, toBytes(nesting, 'inner'))).toBe('inner');
  });
});
