/** A collision-free string for any usable key, for maps that mix keys of different types. */
import { KeyEncoder } from './key-encoding.ts';

const encoder = new KeyEncoder();

/**
 * A type tag plus the key's text for primitives (cheap), or plus its canonical bytes for
 * composite keys. Two keys get the same string exactly when they are the same key.
 */
export function keyIdentityString(key: unknown): string {
  switch (typeof key) {
    case 'string':
      return 's' + key;
    case 'number':
      return 'n' + (key === 0 ? 0 : key);
    case 'bigint':
      return 'b' + key;
    case 'boolean':
      return key ? 't' : 'f';
  }
  const length = encoder.encode(key);
  return 'c' + Buffer.from(encoder.bytes().buffer, encoder.bytes().byteOffset, length).toString('latin1');
}
