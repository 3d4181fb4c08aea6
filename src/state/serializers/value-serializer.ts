/** The default state serializer: a tagged binary format for JSON-like values plus Map, Set, Date, bigint and bytes. */
import type { BinaryReader, BinaryWriter } from '../../core/binary.ts';
import { WeirError } from '../../core/errors.ts';
import type { TypeSerializer } from './type-serializer.ts';

/**
 * Format (version 1): one tag byte, then the payload.
 * 0 undefined · 1 null · 2 false · 3 true · 4 safe integer (ZigZag varint; not -0) ·
 * 5 other number (float64, keeps -0/NaN/±Infinity) · 6 string · 7 array (varint count, items;
 * holes read back as undefined) · 8 plain object (varint count, (string key, value) pairs in
 * own-enumerable order) · 9 Map (count, key/value pairs) · 10 Set (count, items) ·
 * 11 Date (float64 time) · 12 bigint · 13 Uint8Array (length-prefixed bytes).
 */
const TAG_UNDEFINED = 0;
const TAG_NULL = 1;
const TAG_FALSE = 2;
const TAG_TRUE = 3;
const TAG_INT = 4;
const TAG_FLOAT = 5;
const TAG_STRING = 6;
const TAG_ARRAY = 7;
const TAG_OBJECT = 8;
const TAG_MAP = 9;
const TAG_SET = 10;
const TAG_DATE = 11;
const TAG_BIGINT = 12;
const TAG_BYTES = 13;

/** Deeper nesting is refused: it is almost always a circular reference, and it would overflow the stack. */
export const VALUE_DEPTH_MAX = 512;

const SUPPORTED =
  'supported are undefined, null, booleans, numbers, strings, bigints, arrays, plain objects, Map, Set, Date and Uint8Array';

/** A value the default serializer (or `copyValue`) cannot handle; `path` locates it, e.g. `value.items[2].fn`. */
export class UnsupportedValueError extends WeirError {
  override name = 'UnsupportedValueError';
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`${path} ${problem}; ${SUPPORTED}`);
    this.path = path;
  }
}

/** Thrown on the fast path, which tracks no path; the caller re-walks the value to name it. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported();

function writeValue(value: unknown, out: BinaryWriter, depth: number): void {
  switch (typeof value) {
    case 'number':
      if ((value | 0) === value ? value !== 0 || 1 / value > 0 : Number.isSafeInteger(value)) {
        out.writeU8(TAG_INT);
        out.writeZigZag(value);
      } else {
        out.writeU8(TAG_FLOAT);
        out.writeFloat64(value);
      }
      return;
    case 'string':
      out.writeU8(TAG_STRING);
      out.writeString(value);
      return;
    case 'boolean':
      out.writeU8(value ? TAG_TRUE : TAG_FALSE);
      return;
    case 'undefined':
      out.writeU8(TAG_UNDEFINED);
      return;
    case 'bigint':
      out.writeU8(TAG_BIGINT);
      out.writeBigInt(value);
      return;
    case 'object':
      if (value === null) {
        out.writeU8(TAG_NULL);
        return;
      }
      if (depth >= VALUE_DEPTH_MAX) throw UNSUPPORTED;
      writeObject(value, out, depth + 1);
      return;
    default:
      throw UNSUPPORTED;
  }
}

function writeObject(value: object, out: BinaryWriter, depth: number): void {
  if (Array.isArray(value)) {
    out.writeU8(TAG_ARRAY);
    out.writeVarint(value.length);
    for (let i = 0; i < value.length; i++) writeValue(value[i], out, depth);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    out.writeU8(TAG_OBJECT);
    out.writeVarint(keys.length);
    for (let i = 0; i < keys.length; i++) {
      out.writeString(keys[i]);
      writeValue(record[keys[i]], out, depth);
    }
  } else if (value instanceof Map) {
    out.writeU8(TAG_MAP);
    out.writeVarint(value.size);
    for (const [k, v] of value) {
      writeValue(k, out, depth);
      writeValue(v, out, depth);
    }
  } else if (value instanceof Set) {
    out.writeU8(TAG_SET);
    out.writeVarint(value.size);
    for (const item of value) writeValue(item, out, depth);
  } else if (value instanceof Date) {
    out.writeU8(TAG_DATE);
    out.writeFloat64(value.getTime());
  } else if (value instanceof Uint8Array) {
    out.writeU8(TAG_BYTES);
    out.writeBytes(value);
  } else {
    throw UNSUPPORTED;
  }
}

function readValue(input: BinaryReader, depth: number): unknown {
  const tag = input.readU8('value tag');
  switch (tag) {
    case TAG_UNDEFINED:
      return undefined;
    case TAG_NULL:
      return null;
    case TAG_FALSE:
      return false;
    case TAG_TRUE:
      return true;
    case TAG_INT:
      return input.readZigZag('integer');
    case TAG_FLOAT:
      return input.readFloat64('number');
    case TAG_STRING:
      return input.readString('string');
    case TAG_BIGINT:
      return input.readBigInt('bigint');
    case TAG_DATE:
      return new Date(input.readFloat64('date'));
    case TAG_BYTES:
      return input.readBytes('Uint8Array');
    default:
      if (depth >= VALUE_DEPTH_MAX) {
        throw new RangeError(
          `malformed value before offset ${input.position}: nested deeper than ${VALUE_DEPTH_MAX}`,
        );
      }
      return readContainer(tag, input, depth + 1);
  }
}

function readContainer(tag: number, input: BinaryReader, depth: number): unknown {
  switch (tag) {
    case TAG_ARRAY: {
      const count = readCount(input, 'array length');
      const array = new Array<unknown>(count);
      for (let i = 0; i < count; i++) array[i] = readValue(input, depth);
      return array;
    }
    case TAG_OBJECT: {
      const count = readCount(input, 'object field count');
      const record: Record<string, unknown> = {};
      for (let i = 0; i < count; i++)
        setField(record, input.readString('field name'), readValue(input, depth));
      return record;
    }
    case TAG_MAP: {
      const count = readCount(input, 'Map size');
      const map = new Map<unknown, unknown>();
      for (let i = 0; i < count; i++) {
        const key = readValue(input, depth);
        map.set(key, readValue(input, depth));
      }
      return map;
    }
    case TAG_SET: {
      const count = readCount(input, 'Set size');
      const set = new Set<unknown>();
      for (let i = 0; i < count; i++) set.add(readValue(input, depth));
      return set;
    }
    default:
      throw new RangeError(`malformed value: unknown tag ${tag} before offset ${input.position}`);
  }
}

/** A count can never exceed the bytes left (each element takes at least one), which stops a corrupt count from allocating gigabytes. */
function readCount(input: BinaryReader, what: string): number {
  const count = input.readVarint(what);
  if (count > input.remaining) {
    throw new RangeError(`malformed value: ${what} ${count} exceeds the ${input.remaining} bytes left`);
  }
  return count;
}

/** Assigning `__proto__` would set the prototype instead of creating a field. */
function setField(record: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    record[key] = value;
  }
}

/**
 * The default serializer of every state whose descriptor names none (id `weir.value`,
 * version 1). Handles JSON-like values plus -0/NaN/±Infinity, Map, Set, Date, bigint and
 * Uint8Array, nested arbitrarily (up to VALUE_DEPTH_MAX levels). Functions, symbols and class
 * instances throw an UnsupportedValueError naming where they sit in the value; the writer
 * then holds a partial value and should be reset.
 *
 * @example
 * ```ts
 * const out = new BinaryWriter();
 * valueSerializer.serialize({ count: 3, seen: new Set(['a']) }, out);
 * const back = valueSerializer.deserialize(new BinaryReader(out.finish()));
 * ```
 */
export const valueSerializer: TypeSerializer<unknown> = {
  id: 'weir.value',
  version: 1,
  serialize(value: unknown, out: BinaryWriter): void {
    try {
      writeValue(value, out, 0);
    } catch (error) {
      if (error === UNSUPPORTED) throw describeUnsupported(value);
      throw error;
    }
  },
  deserialize(input: BinaryReader): unknown {
    return readValue(input, 0);
  },
};

/**
 * A deep copy of a value the default serializer supports (the same rules and errors), so a
 * copy-on-write snapshot can hand out values that later in-place mutation cannot reach.
 * Primitives are returned as they are.
 *
 * @example
 * ```ts
 * const a = { tags: new Set(['x']), at: new Date(0) };
 * const b = copyValue(a); // b.tags !== a.tags, b.at !== a.at
 * ```
 */
export function copyValue<T>(value: T): T {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol') throw describeUnsupported(value);
    return value;
  }
  try {
    return copyObject(value, 1) as T;
  } catch (error) {
    if (error === UNSUPPORTED) throw describeUnsupported(value);
    throw error;
  }
}

function copyAny(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol') throw UNSUPPORTED;
    return value;
  }
  if (depth >= VALUE_DEPTH_MAX) throw UNSUPPORTED;
  return copyObject(value, depth + 1);
}

function copyObject(value: object, depth: number): unknown {
  if (Array.isArray(value)) {
    const array = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) array[i] = copyAny(value[i], depth);
    return array;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const source = value as Record<string, unknown>;
    const record: Record<string, unknown> = proto === null ? Object.create(null) : {};
    for (const key of Object.keys(source)) setField(record, key, copyAny(source[key], depth));
    return record;
  }
  if (value instanceof Map) {
    const map = new Map<unknown, unknown>();
    for (const [k, v] of value) map.set(copyAny(k, depth), copyAny(v, depth));
    return map;
  }
  if (value instanceof Set) {
    const set = new Set<unknown>();
    for (const item of value) set.add(copyAny(item, depth));
    return set;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof Uint8Array) return value.slice();
  throw UNSUPPORTED;
}

/** The slow second walk that finds and names the first unsupported part of a value. */
function describeUnsupported(root: unknown): UnsupportedValueError {
  return findUnsupported(root, 'value', 0) ?? new UnsupportedValueError('value', 'could not be handled');
}

function findUnsupported(value: unknown, path: string, depth: number): UnsupportedValueError | undefined {
  switch (typeof value) {
    case 'function':
      return new UnsupportedValueError(path, `is a function (${value.name || 'anonymous'})`);
    case 'symbol':
      return new UnsupportedValueError(path, `is a symbol (${value.toString()})`);
    case 'object':
      if (value === null) return undefined;
      if (depth >= VALUE_DEPTH_MAX) {
        return new UnsupportedValueError(
          abbreviate(path),
          `nests deeper than ${VALUE_DEPTH_MAX} levels (a circular reference?)`,
        );
      }
      return findUnsupportedIn(value, path, depth + 1);
    default:
      return undefined;
  }
}

function findUnsupportedIn(value: object, path: string, depth: number): UnsupportedValueError | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnsupported(value[i], `${path}[${i}]`, depth);
      if (found) return found;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
      const found = findUnsupported(record[key], path + segment, depth);
      if (found) return found;
    }
    return undefined;
  }
  if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      const found =
        findUnsupported(k, `${path}.keys()[${i}]`, depth) ??
        findUnsupported(v, `${path}.values()[${i}]`, depth);
      if (found) return found;
      i++;
    }
    return undefined;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const item of value) {
      const found = findUnsupported(item, `${path}.values()[${i}]`, depth);
      if (found) return found;
      i++;
    }
    return undefined;
  }
  if (value instanceof Date || value instanceof Uint8Array) return undefined;
  const className = (proto as { constructor?: { name?: string } } | undefined)?.constructor?.name || 'class';
  return new UnsupportedValueError(path, `is a ${className} instance, not a plain object`);
}

const PATH_CHARS_MAX = 120;

function abbreviate(path: string): string {
  return path.length <= PATH_CHARS_MAX ? path : `${path.slice(0, PATH_CHARS_MAX)}…`;
}
