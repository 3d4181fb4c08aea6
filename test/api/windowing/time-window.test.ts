import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimeWindow } from '../../../src/api/windowing/time-window.ts';

/** Mathematical modulo (non-negative for positive m), the definition the window start must follow. */
function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

const timestamp = fc.integer({ min: -1e12, max: 1e12 });

describe('TimeWindow', () => {
  it('has an exclusive end', () => {
    const w = TimeWindow.of(0, 5_000);
    expect(w.maxTimestamp()).toBe(4_999);
    expect(() => TimeWindow.of(5, 5)).toThrow(/start < end/);
  });

  it('getWindowStartWithOffset: the aligned start at or below the timestamp, also for negative timestamps', () => {
    fc.assert(
      fc.property(
        timestamp,
        fc.integer({ min: 1, max: 1e7 }),
        fc.integer({ min: -1e7, max: 1e7 }),
        (ts, size, rawOffset) => {
          const offset = rawOffset % size;
          const start = TimeWindow.getWindowStartWithOffset(ts, offset, size);
          expect(start).toBe(ts - mod(ts - offset, size));
          expect(start <= ts && ts < start + size).toBe(true);
          expect(mod(start - offset, size)).toBe(0);
        },
      ),
    );
    expect(TimeWindow.getWindowStartWithOffset(-1, 0, 10)).toBe(-10);
    expect(TimeWindow.getWindowStartWithOffset(-10, 0, 10)).toBe(-10);
    expect(TimeWindow.getWindowStartWithOffset(-11, 0, 10)).toBe(-20);
    expect(TimeWindow.getWindowStartWithOffset(3, 5, 10)).toBe(-5);
  });

  it('intersects when overlapping or touching; cover spans both', () => {
    expect(TimeWindow.of(0, 5).intersects(TimeWindow.of(5, 10))).toBe(true);
    expect(TimeWindow.of(0, 5).intersects(TimeWindow.of(6, 10))).toBe(false);
    expect(TimeWindow.of(0, 5).cover(TimeWindow.of(7, 10)).equals(TimeWindow.of(0, 10))).toBe(true);
  });

  it('round-trips through its namespace', () => {
    fc.assert(
      fc.property(timestamp, fc.integer({ min: 1, max: 1e9 }), (start, size) => {
        const w = TimeWindow.of(start, start + size);
        const back = TimeWindow.codec.fromNamespace(TimeWindow.codec.toNamespace(w));
        expect(back.equals(w)).toBe(true);
      }),
    );
    expect(() => TimeWindow.codec.fromNamespace('nope')).toThrow(/not a TimeWindow namespace/);
  });

  it('mergeWindows reports each overlapping group of two or more with its cover', () => {
    const calls: string[] = [];
    TimeWindow.mergeWindows(
      [
        TimeWindow.of(10, 20),
        TimeWindow.of(0, 5),
        TimeWindow.of(15, 30),
        TimeWindow.of(40, 50),
        TimeWindow.of(5, 6),
      ],
      (merged, result) => calls.push(`${merged.map(String).join('+')} -> ${result}`),
    );
    expect(calls).toEqual([
      'TimeWindow[0, 5)+TimeWindow[5, 6) -> TimeWindow[0, 6)',
      'TimeWindow[10, 20)+TimeWindow[15, 30) -> TimeWindow[10, 30)',
    ]);
  });
});
