/** Small serializers for one type each: examples of plugging a serializer into a descriptor. */
import type { BinaryReader, BinaryWriter } from '../../core/binary.ts';
import type { TypeSerializer } from './type-serializer.ts';

/**
 * Strings as length-prefixed UTF-8 (id `weir.string`).
 *
 * @example
 * ```ts
 * const lastSeen = valueState<string>('last-seen', { serializer: stringSerializer });
 * ```
 */
export const stringSerializer: TypeSerializer<string> = {
  id: 'weir.string',
  version: 1,
  serialize(value: string, out: BinaryWriter): void {
    if (typeof value !== 'string')
      throw new TypeError(`stringSerializer got a ${typeof value}, not a string`);
    out.writeString(value);
  },
  deserialize(input: BinaryReader): string {
    return input.readString();
  },
};

/**
 * Numbers as 8-byte doubles (id `weir.number`); exact for every number, -0 and NaN included.
 *
 * @example
 * ```ts
 * const total = reducingState<number>('total', (a, b) => a + b, { serializer: numberSerializer });
 * ```
 */
export const numberSerializer: TypeSerializer<number> = {
  id: 'weir.number',
  version: 1,
  serialize(value: number, out: BinaryWriter): void {
    if (typeof value !== 'number')
      throw new TypeError(`numberSerializer got a ${typeof value}, not a number`);
    out.writeFloat64(value);
  },
  deserialize(input: BinaryReader): number {
    return input.readFloat64();
  },
};

/**
 * Any JSON-serializable value through `JSON.stringify`/`JSON.parse` (id `weir.json`). Slower
 * and lossier than the default serializer (no Map, Set, bigint, undefined, -0, NaN; a Date
 * reads back as a string); useful when the bytes should be readable by other tools.
 *
 * @example
 * ```ts
 * const profile = valueState<{ name: string }>('profile', { serializer: jsonSerializer });
 * ```
 */
export const jsonSerializer: TypeSerializer<unknown> = {
  id: 'weir.json',
  version: 1,
  serialize(value: unknown, out: BinaryWriter): void {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`jsonSerializer cannot represent a ${typeof value}`);
    out.writeString(text);
  },
  deserialize(input: BinaryReader): unknown {
    return JSON.parse(input.readString('JSON text'));
  },
};
