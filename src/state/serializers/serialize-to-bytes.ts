/** One-shot helpers that serialize a single value to a byte array and back, reusing a scratch writer. */
import { BinaryReader, BinaryWriter } from '../../core/binary.ts';
import type { TypeSerializer } from './type-serializer.ts';

/** Reused across calls; a nested call (a serializer that calls toBytes) gets a fresh writer. */
const scratch = new BinaryWriter(4096);
let scratchInUse = false;

/**
 * The bytes of `value` under `serializer`, as a new array.
 *
 * @example
 * ```ts
 * const bytes = toBytes(valueSerializer, { a: 1 });
 * fromBytes(valueSerializer, bytes); // { a: 1 }
 * ```
 */
export function toBytes<T>(serializer: TypeSerializer<T>, value: T): Uint8Array {
  if (scratchInUse) {
    const out = new BinaryWriter();
    serializer.serialize(value, out);
    return out.finish();
  }
  scratchInUse = true;
  try {
    scratch.reset();
    serializer.serialize(value, scratch);
    return scratch.finish();
  } finally {
    scratchInUse = false;
  }
}

/** Reads one value from `bytes`; throws a RangeError if bytes are left over (a sign of a wrong serializer). */
export function fromBytes<T>(serializer: TypeSerializer<T>, bytes: Uint8Array): T {
  const input = new BinaryReader(bytes);
  const value = serializer.deserialize(input);
  if (!input.isAtEnd()) {
    throw new RangeError(
      `${serializer.id} v${serializer.version} read ${input.position} of ${bytes.length} bytes; ${input.remaining} left over`,
    );
  }
  return value;
}
