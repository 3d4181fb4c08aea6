/** How keys (stream keys, map-state keys, broadcast keys) become JS Map keys on the heap, and back. */
import { UnhashableKeyError } from '../../../core/key-encoding.ts';

/**
 * A JS Map compares primitives by value and objects by identity, so:
 * - numbers, bigints, booleans are used as they are (a Map already tells `1`, `1n`, `'1'`
 *   and `true` apart, and folds -0 into 0 as the key encoding does);
 * - a string is used as it is, unless it starts with ESCAPE (U+0001), then it gets one more
 *   ESCAPE in front;
 * - an array or plain object becomes ESCAPE + COMPOSITE + a canonical, decodable text
 *   (object fields sorted), so structurally equal keys meet.
 * An escaped string starts with ESCAPE ESCAPE, a composite with ESCAPE COMPOSITE and every
 * other string with neither: the three can never collide, and decoding is exact.
 */
export type MapKey = string | number | bigint | boolean;

const ESCAPE = '\u0001';
const ESCAPE_CODE = 1;
const COMPOSITE = '\u0002';
const COMPOSITE_CODE = 2;
/** The same bound as the key encoding's: deeper keys are refused. */
const KEY_DEPTH_MAX = 32;

/** The Map key of `key`; throws UnhashableKeyError for values that cannot be keys (null, NaN, functions…). */
export function toMapKey(key: unknown): MapKey {
  switch (typeof key) {
    case 'string':
      return key.charCodeAt(0) === ESCAPE_CODE ? ESCAPE + key : key;
    case 'number':
      if (Number.isNaN(key)) throw new UnhashableKeyError('key is NaN, which is not a usable key');
      return key;
    case 'bigint':
    case 'boolean':
      return key;
    default:
      return ESCAPE + COMPOSITE + encodeComposite(key, 0, 'key');
  }
}

/** The key `toMapKey` was given (a structurally equal copy, for arrays and objects). */
export function fromMapKey(mapKey: MapKey): unknown {
  if (typeof mapKey !== 'string' || mapKey.charCodeAt(0) !== ESCAPE_CODE) return mapKey;
  if (mapKey.charCodeAt(1) === COMPOSITE_CODE) return new CompositeDecoder(mapKey, 2).decode();
  return mapKey.slice(1);
}

/**
 * Canonical text: `s<len>:<chars>` string, `n<number>;`, `b<decimal>;`, `t`/`f`,
 * `a<count>:<items>`, `o<count>:` then per field (sorted) `<len>:<name><value>`.
 * Length prefixes make it self-delimiting without escaping.
 */
function encodeComposite(value: unknown, depth: number, path: string): string {
  switch (typeof value) {
    case 'string':
      return `s${value.length}:${value}`;
    case 'number':
      if (Number.isNaN(value)) throw new UnhashableKeyError(`${path} is NaN, which is not a usable key`);
      return `n${value === 0 ? 0 : value};`;
    case 'bigint':
      return `b${value};`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'object': {
      if (value === null) throw new UnhashableKeyError(`${path} is null, which is not a usable key`);
      if (depth >= KEY_DEPTH_MAX)
        throw new UnhashableKeyError(`${path} nests deeper than ${KEY_DEPTH_MAX} levels`);
      if (Array.isArray(value)) {
        let text = `a${value.length}:`;
        for (let i = 0; i < value.length; i++) text += encodeComposite(value[i], depth + 1, `${path}[${i}]`);
        return text;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        const record = value as Record<string, unknown>;
        const fields = Object.keys(record).sort();
        let text = `o${fields.length}:`;
        for (const field of fields) {
          text += `${field.length}:${field}${encodeComposite(record[field], depth + 1, `${path}.${field}`)}`;
        }
        return text;
      }
      throw new UnhashableKeyError(
        `${path} is a ${proto?.constructor?.name ?? 'object'} instance; keys must be strings, numbers, bigints, booleans, arrays or plain objects of those`,
      );
    }
    default:
      throw new UnhashableKeyError(
        `${path} is ${value === undefined ? 'undefined' : `a ${typeof value}`}; keys must be strings, numbers, bigints, booleans, arrays or plain objects of those`,
      );
  }
}

class CompositeDecoder {
  readonly #text: string;
  #at: number;

  constructor(text: string, at: number) {
    this.#text = text;
    this.#at = at;
  }

  decode(): unknown {
    const tag = this.#text[this.#at++];
    switch (tag) {
      case 's':
        return this.#readLengthPrefixed();
      case 'n':
        return Number(this.#readUntil(';'));
      case 'b':
        return BigInt(this.#readUntil(';'));
      case 't':
        return true;
      case 'f':
        return false;
      case 'a': {
        const count = Number(this.#readUntil(':'));
        const array = new Array<unknown>(count);
        for (let i = 0; i < count; i++) array[i] = this.decode();
        return array;
      }
      case 'o': {
        const count = Number(this.#readUntil(':'));
        const record: Record<string, unknown> = {};
        for (let i = 0; i < count; i++) {
          const field = this.#readLengthPrefixed();
          const value = this.decode();
          if (field === '__proto__') {
            Object.defineProperty(record, field, {
              value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          } else {
            record[field] = value;
          }
        }
        return record;
      }
      default:
        // Only toMapKey writes these strings, so this is a bug, not bad input.
        throw new Error(`corrupt composite map key at ${this.#at - 1}: ${JSON.stringify(this.#text)}`);
    }
  }

  #readUntil(terminator: string): string {
    const end = this.#text.indexOf(terminator, this.#at);
    const part = this.#text.slice(this.#at, end);
    this.#at = end + 1;
    return part;
  }

  #readLengthPrefixed(): string {
    const length = Number(this.#readUntil(':'));
    const part = this.#text.slice(this.#at, this.#at + length);
    this.#at += length;
    return part;
  }
}
