/** Tests of MurmurHash3 x86 32-bit against the reference implementation's published outputs. */
import { describe, expect, it } from 'vitest';
import { murmur3x86_32 } from '../../src/core/murmur3.ts';

const utf8 = new TextEncoder();
const hash = (text: string, seed = 0): number => {
  const bytes = utf8.encode(text);
  return murmur3x86_32(bytes, bytes.length, seed);
};

describe('murmur3x86_32', () => {
  it('matches the reference vectors', () => {
    expect(hash('')).toBe(0);
    expect(hash('', 1)).toBe(0x514e28b7);
    expect(hash('', 0xffffffff)).toBe(0x81f16f39);
    expect(hash('hello')).toBe(0x248bfa47);
    expect(hash('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    expect(murmur3x86_32(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 4, 0x5082edee)).toBe(0x2362f9de);
  });

  it('hashes only the first `length` bytes', () => {
    const bytes = utf8.encode('helloXYZ');
    expect(murmur3x86_32(bytes, 5)).toBe(hash('hello'));
  });
});
