import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventTimeSessionWindows } from '../../../src/api/windowing/assigners/session-windows.ts';
import { MergingWindowSet, type WindowNamespace } from '../../../src/api/windowing/merging-window-set.ts';
import { TimeWindow } from '../../../src/api/windowing/time-window.ts';

const assigner = EventTimeSessionWindows.withGap(1);

/** Plain interval merge: sort by start, join intervals that overlap or touch (as session windows do). */
function referenceMerge(intervals: readonly [number, number][]): string[] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out.map(([s, e]) => `${s}|${e}`);
}

const interval = fc.tuple(fc.integer({ min: -100, max: 300 }), fc.integer({ min: 1, max: 40 }));
const scenario = fc.array(interval, { minLength: 1, maxLength: 40 }).chain((xs) =>
  fc.tuple(
    fc.constant(xs.map(([s, len]) => [s, s + len] as [number, number])),
    fc.shuffledSubarray(
      xs.map((_, i) => i),
      { minLength: xs.length },
    ),
  ),
);

describe('MergingWindowSet', () => {
  it('any insertion order yields the reference interval merge, and no element is lost or duplicated', () => {
    fc.assert(
      fc.property(scenario, ([intervals, order]) => {
        // Simulated window contents: state namespace -> ids of the intervals added there.
        const contents = new Map<WindowNamespace, number[]>();
        let persisted = new MergingWindowSet(assigner, undefined).toPersisted();
        for (const id of order) {
          // Reload each time, as the operator does per record.
          const set = new MergingWindowSet(assigner, persisted);
          const [s, e] = intervals[id];
          const actual = set.addWindow(TimeWindow.of(s, e), (result, merged, target, sources) => {
            expect(merged.length).toBeGreaterThan(0);
            for (const w of merged) expect(result.start <= w.start && w.end <= result.end).toBe(true);
            expect(sources).not.toContain(target);
            const into = contents.get(target) ?? [];
            for (const source of sources) {
              into.push(...(contents.get(source) ?? []));
              contents.delete(source);
            }
            contents.set(target, into);
          });
          expect(actual.start <= s && e <= actual.end).toBe(true);
          const stateWindow = set.getStateWindow(actual)!;
          expect(stateWindow).toBeDefined();
          contents.set(stateWindow, [...(contents.get(stateWindow) ?? []), id]);
          // Invariant: windows in the set never intersect.
          const ws = set.windows().sort((a, b) => a.start - b.start);
          for (let i = 1; i < ws.length; i++) expect(ws[i - 1].intersects(ws[i])).toBe(false);
          persisted = set.toPersisted();
        }
        const final = new MergingWindowSet(assigner, persisted);
        const finalWindows = final.windows().sort((a, b) => a.start - b.start);
        expect(finalWindows.map((w) => `${w.start}|${w.end}`)).toEqual(referenceMerge(intervals));
        // Each final window's state holds exactly the intervals inside it.
        for (const w of finalWindows) {
          const ids = [...(contents.get(final.getStateWindow(w)!) ?? [])].sort((a, b) => a - b);
          const expected = intervals
            .map((iv, i) => [iv, i] as const)
            .filter(([[s, e]]) => w.start <= s && e <= w.end)
            .map(([, i]) => i);
          expect(ids).toEqual(expected);
        }
        // No state lingers under namespaces no window uses.
        const used = new Set(finalWindows.map((w) => final.getStateWindow(w)));
        for (const ns of contents.keys()) expect(used.has(ns)).toBe(true);
      }),
    );
  });

  it('does not call the merge function when a window falls inside an existing one', () => {
    const set = new MergingWindowSet(assigner, undefined);
    set.addWindow(TimeWindow.of(0, 10), () => expect.unreachable());
    const persisted = set.toPersisted();
    const again = new MergingWindowSet(assigner, persisted);
    const actual = again.addWindow(TimeWindow.of(2, 5), () => expect.unreachable());
    expect(String(actual)).toBe('TimeWindow[0, 10)');
    expect(again.isChanged()).toBe(false);
  });

  it('keeps one state window across merges, and reports what changed', () => {
    const set = new MergingWindowSet(assigner, undefined);
    set.addWindow(TimeWindow.of(0, 10), () => expect.unreachable());
    set.addWindow(TimeWindow.of(20, 30), () => expect.unreachable());
    expect(set.isChanged()).toBe(true);
    const calls: unknown[] = [];
    const result = set.addWindow(TimeWindow.of(8, 22), (r, merged, target, sources) =>
      calls.push([String(r), merged.map(String), target, sources]),
    );
    expect(String(result)).toBe('TimeWindow[0, 30)');
    expect(calls).toEqual([
      ['TimeWindow[0, 30)', ['TimeWindow[0, 10)', 'TimeWindow[20, 30)'], '0|10', ['20|30']],
    ]);
    expect(set.getStateWindow(TimeWindow.of(0, 30))).toBe('0|10');
    set.retireWindow(TimeWindow.of(0, 30));
    expect(set.windows()).toEqual([]);
    expect(() => set.retireWindow(TimeWindow.of(0, 30))).toThrow(/not in the merging window set/);
  });
});
