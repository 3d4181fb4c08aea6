/** Tests of BinaryWriter/BinaryReader round trips, truncation errors and CRC-32C. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryReader, BinaryWriter, crc32c } from '../../src/core/binary.ts';

const utf8 = new TextEncoder();

function roundTrip<T>(
  write: (out: BinaryWriter, value: T) => void,
  read: (input: BinaryReader) => T,
  value: T,
): T {
  const out = new BinaryWriter(16);
  write(out, value);
  const input = new BinaryReader(out.finish());
  const back = read(input);
  expect(input.isAtEnd()).toBe(true);
  return back;
}

describe('BinaryWriter and BinaryReader', () => {
  it('round-trips unsigned varints up to 2^53 - 1', () => {
    for (const n of [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      expect(
        roundTrip(
          (o, v) => o.writeVarint(v),
          (i) => i.readVarint(),
          n,
        ),
      ).toBe(n);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(
          roundTrip(
            (o, v) => o.writeVarint(v),
            (i) => i.readVarint(),
            n,
          ),
        ).toBe(n);
      }),
    );
  });

  it('encodes varints in LEB128 form', () => {
    const out = new BinaryWriter();
    out.writeVarint(300);
    expect([...out.finish()]).toEqual([0xac, 0x02]);
  });

  it('refuses varints that are negative, fractional or beyond 2^53', () => {
    const out = new BinaryWriter();
    expect(() => out.writeVarint(-1)).toThrow(RangeError);
    expect(() => out.writeVarint(1.5)).toThrow(RangeError);
    expect(() => out.writeVarint(2 ** 53)).toThrow(RangeError);
  });

  it('round-trips zigzag integers across the whole safe range, small magnitudes in one byte', () => {
    for (const n of [0, -1, 1, -64, 63, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, -(2 ** 53 - 1), 2 ** 53 - 1]) {
      expect(
        roundTrip(
          (o, v) => o.writeZigZag(v),
          (i) => i.readZigZag(),
          n,
        ),
      ).toBe(n);
    }
    fc.assert(
      fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(
          roundTrip(
            (o, v) => o.writeZigZag(v),
            (i) => i.readZigZag(),
            n,
          ),
        ).toBe(n);
      }),
    );
    const out = new BinaryWriter();
    out.writeZigZag(-1);
    out.writeZigZag(63);
    expect([...out.finish()]).toEqual([1, 126]);
  });

  it('keeps the zigzag mapping standard beyond 32 bits', () => {
    // zigzag(-2^40) = 2^41 - 1 written as a plain varint must read back as the same bytes.
    const a = new BinaryWriter();
    a.writeZigZag(-(2 ** 40));
    const b = new BinaryWriter();
    b.writeVarint(2 ** 41 - 1);
    expect([...a.finish()]).toEqual([...b.finish()]);
  });

  it('round-trips float64 including -0, NaN and the infinities', () => {
    for (const n of [
      0,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Math.PI,
      5e-324,
    ]) {
      expect(
        Object.is(
          roundTrip(
            (o, v) => o.writeFloat64(v),
            (i) => i.readFloat64(),
            n,
          ),
          n,
        ),
      ).toBe(true);
    }
  });

  it('round-trips bigints of any size and sign', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }), (n) => {
        expect(
          roundTrip(
            (o, v) => o.writeBigInt(v),
            (i) => i.readBigInt(),
            n,
          ),
        ).toBe(n);
      }),
    );
    for (const n of [0n, -1n, 255n, 256n, 2n ** 48n - 1n, 2n ** 48n, -(2n ** 64n)]) {
      expect(
        roundTrip(
          (o, v) => o.writeBigInt(v),
          (i) => i.readBigInt(),
          n,
        ),
      ).toBe(n);
    }
  });

  it('round-trips strings as UTF-8, short and long', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
        expect(
          roundTrip(
            (o, v) => o.writeString(v),
            (i) => i.readString(),
            s,
          ),
        ).toBe(s);
      }),
    );
    const long = 'é€😀'.repeat(5000);
    expect(
      roundTrip(
        (o, v) => o.writeString(v),
        (i) => i.readString(),
        long,
      ),
    ).toBe(long);
  });

  it('writes well-formed strings as standard UTF-8 with a varint byte length', () => {
    for (const s of ['', 'a', 'é€😀', 'x'.repeat(42), 'y'.repeat(43), 'z'.repeat(200), '\ufeffbom']) {
      const out = new BinaryWriter();
      out.writeString(s);
      const bytes = utf8.encode(s);
      const prefix = new BinaryWriter();
      prefix.writeVarint(bytes.length);
      expect([...out.finish()]).toEqual([...prefix.finish(), ...bytes]);
    }
  });

  it('keeps a leading U+FEFF and lone surrogates (WTF-8) instead of altering the string', () => {
    for (const s of [
      '\ufeff',
      `\ufeff${'a'.repeat(100)}`,
      '\ud800',
      'a\udc00b',
      `${'x'.repeat(100)}\ud83d`,
    ]) {
      expect(
        roundTrip(
          (o, v) => o.writeString(v),
          (i) => i.readString(),
          s,
        ),
      ).toBe(s);
    }
    fc.assert(
      // Arbitrary UTF-16 code units: lone and paired surrogates alike (fast-check's 'binary' unit is slow).
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 120 }), (units) => {
        const s = String.fromCharCode(...units);
        expect(
          roundTrip(
            (o, v) => o.writeString(v),
            (i) => i.readString(),
            s,
          ),
        ).toBe(s);
      }),
    );
  });

  it('round-trips length-prefixed bytes, u8 and u32 (little-endian)', () => {
    const out = new BinaryWriter(16);
    out.writeU8(0xff);
    out.writeU32(0x01020304);
    out.writeBytes(new Uint8Array([9, 8, 7]));
    out.writeRawBytes(new Uint8Array([1, 2]));
    const bytes = out.finish();
    expect([...bytes.subarray(1, 5)]).toEqual([4, 3, 2, 1]);
    const input = new BinaryReader(bytes);
    expect(input.readU8()).toBe(0xff);
    expect(input.readU32()).toBe(0x01020304);
    expect([...input.readBytes()]).toEqual([9, 8, 7]);
    expect([...input.readRawBytes(2)]).toEqual([1, 2]);
    expect(input.isAtEnd()).toBe(true);
  });

  it('grows past its initial capacity and can be reset and reused', () => {
    const out = new BinaryWriter(16);
    for (let i = 0; i < 10_000; i++) out.writeVarint(i);
    const first = out.finish();
    out.reset();
    expect(out.length).toBe(0);
    out.writeString('again');
    const input = new BinaryReader(out.finish());
    expect(input.readString()).toBe('again');
    const reread = new BinaryReader(first);
    for (let i = 0; i < 10_000; i++) expect(reread.readVarint()).toBe(i);
  });

  it('reads within a sub-range of a larger array', () => {
    const out = new BinaryWriter();
    out.writeU8(1);
    out.writeU32(7);
    out.writeU8(2);
    const input = new BinaryReader(out.finish(), 1, 5);
    expect(input.readU32()).toBe(7);
    expect(input.isAtEnd()).toBe(true);
    expect(() => input.readU8('trailer')).toThrow(/trailer/);
  });

  it('reports truncation with a RangeError naming what was being read', () => {
    const out = new BinaryWriter();
    out.writeString('hello world');
    out.writeFloat64(1);
    out.writeBigInt(2n ** 100n);
    const bytes = out.finish();
    const truncated = [
      { cut: 5, read: (i: BinaryReader) => i.readString('operator name'), what: /operator name/ },
      { cut: 0, read: (i: BinaryReader) => i.readString('operator name'), what: /operator name length/ },
    ];
    for (const { cut, read, what } of truncated) {
      const input = new BinaryReader(bytes.subarray(0, cut));
      expect(() => read(input)).toThrow(RangeError);
      expect(() => read(new BinaryReader(bytes.subarray(0, cut)))).toThrow(what);
    }
    const afterString = new BinaryReader(bytes.subarray(0, 15));
    afterString.readString();
    expect(() => afterString.readFloat64('checkpoint id')).toThrow(
      /truncated input: reading checkpoint id needs 8/,
    );
    const noBigInt = new BinaryReader(bytes.subarray(0, bytes.length - 3));
    noBigInt.readString();
    noBigInt.readFloat64();
    expect(() => noBigInt.readBigInt()).toThrow(/bigint/);
    expect(() => new BinaryReader(new Uint8Array([0x80, 0x80])).readVarint('count')).toThrow(/count/);
    expect(() => new BinaryReader(new Uint8Array(3)).readU32('magic')).toThrow(/magic/);
  });

  it('reports malformed varints and invalid UTF-8', () => {
    const tooLong = new Uint8Array(10).fill(0xff);
    expect(() => new BinaryReader(tooLong).readVarint('size')).toThrow(/malformed size/);
    const badUtf8 = new Uint8Array([2, 0xff, 0xfe]);
    expect(() => new BinaryReader(badUtf8).readString('name')).toThrow(/malformed name/);
  });
});

describe('crc32c', () => {
  it('matches the known test vectors', () => {
    expect(crc32c(utf8.encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    // RFC 3720 (iSCSI) appendix B.4 vectors.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('checksums a sub-range and composes over chunks', () => {
    const data = utf8.encode('xx123456789yy');
    expect(crc32c(data, 2, 11)).toBe(0xe3069283);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), (bytes, at) => {
        const split = bytes.length === 0 ? 0 : at % (bytes.length + 1);
        const first = crc32c(bytes, 0, split);
        expect(crc32c(bytes, split, bytes.length, first)).toBe(crc32c(bytes));
      }),
    );
  });

  it('agrees with a bit-by-bit reference implementation', () => {
    const reference = (bytes: Uint8Array): number => {
      let crc = 0xffffffff;
      for (const byte of bytes) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      return (crc ^ 0xffffffff) >>> 0;
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(crc32c(bytes)).toBe(reference(bytes));
      }),
    );
  });

  it('refuses a range outside the array', () => {
    expect(() => crc32c(new Uint8Array(4), 2, 8)).toThrow(RangeError);
  });
});
