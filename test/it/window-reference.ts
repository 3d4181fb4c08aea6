/**
 * A plain-JS simulation of Flink's event-time window semantics over one ordered source with
 * per-event watermarks (max timestamp seen − bound − 1): the reference for the window tests.
 */
import fc from 'fast-check';

export interface Ev {
  readonly key: string;
  readonly v: number;
  readonly ts: number;
}

/** One window result: key, window bounds, sum and count of the values in it. */
export interface Firing {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly sum: number;
  readonly count: number;
}

export interface WindowReference {
  readonly firings: Firing[];
  readonly late: Ev[];
}

export type Assignment =
  | { readonly kind: 'fixed'; readonly windowsOf: (ts: number) => [number, number][] }
  | { readonly kind: 'session'; readonly gapMs: number };

export function tumbling(sizeMs: number): Assignment {
  return { kind: 'fixed', windowsOf: (ts) => [[ts - (ts % sizeMs), ts - (ts % sizeMs) + sizeMs]] };
}

export function sliding(sizeMs: number, slideMs: number): Assignment {
  return {
    kind: 'fixed',
    windowsOf: (ts) => {
      const windows: [number, number][] = [];
      for (let start = ts - (ts % slideMs); start > ts - sizeMs; start -= slideMs) {
        windows.push([start, start + sizeMs]);
      }
      return windows;
    },
  };
}

export function session(gapMs: number): Assignment {
  return { kind: 'session', gapMs };
}

interface OpenWindow {
  readonly key: string;
  start: number;
  end: number;
  sum: number;
  count: number;
}

const maxTimestamp = (w: { end: number }): number => w.end - 1;

/**
 * Flink's rules, stated once: a window fires when the watermark reaches its max timestamp
 * (`end - 1`); an element added to a window the watermark has already passed fires it again at
 * once; a window's state is dropped when the watermark reaches `end - 1 + lateness`; an element
 * whose every window is already dropped goes to the late output. Session windows `[ts, ts+gap)`
 * merge with every window they touch (closed intervals), before the lateness check.
 */
export function referenceWindows(
  events: readonly Ev[],
  assignment: Assignment,
  boundMs: number,
  latenessMs: number,
): WindowReference {
  const open: OpenWindow[] = [];
  const firings: Firing[] = [];
  const late: Ev[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  let maxTs = Number.NEGATIVE_INFINITY;
  const fire = (w: OpenWindow): void => {
    firings.push({ key: w.key, start: w.start, end: w.end, sum: w.sum, count: w.count });
  };
  const isDropped = (w: { end: number }): boolean => maxTimestamp(w) + latenessMs <= watermark;

  const advance = (next: number): void => {
    for (const w of open) {
      if (maxTimestamp(w) > watermark && maxTimestamp(w) <= next) fire(w);
    }
    watermark = next;
    for (let i = open.length - 1; i >= 0; i--) if (isDropped(open[i])) open.splice(i, 1);
  };

  for (const e of events) {
    const added = assignment.kind === 'fixed' ? addFixed(e) : addSession(e, assignment.gapMs);
    if (!added) late.push(e);
    if (e.ts > maxTs) maxTs = e.ts;
    const next = maxTs - boundMs - 1;
    if (next > watermark) advance(next);
  }
  advance(Number.POSITIVE_INFINITY);
  return { firings, late };

  function addFixed(e: Ev): boolean {
    let added = false;
    for (const [start, end] of assignment.kind === 'fixed' ? assignment.windowsOf(e.ts) : []) {
      if (isDropped({ end })) continue;
      added = true;
      let w = open.find((o) => o.key === e.key && o.start === start && o.end === end);
      if (w === undefined) {
        w = { key: e.key, start, end, sum: 0, count: 0 };
        open.push(w);
      }
      w.sum += e.v;
      w.count++;
      if (maxTimestamp(w) <= watermark) fire(w);
    }
    return added;
  }

  function addSession(e: Ev, gapMs: number): boolean {
    const start = e.ts;
    const end = e.ts + gapMs;
    const touching = open.filter((o) => o.key === e.key && o.start <= end && o.end >= start);
    const merged: OpenWindow = {
      key: e.key,
      start: Math.min(start, ...touching.map((o) => o.start)),
      end: Math.max(end, ...touching.map((o) => o.end)),
      sum: touching.reduce((s, o) => s + o.sum, 0),
      count: touching.reduce((s, o) => s + o.count, 0),
    };
    if (isDropped(merged)) return false;
    for (const o of touching) open.splice(open.indexOf(o), 1);
    merged.sum += e.v;
    merged.count++;
    open.push(merged);
    if (maxTimestamp(merged) <= watermark) fire(merged);
    return true;
  }
}

/**
 * Events of a few keys whose timestamps mostly move forward but often jump back, sometimes
 * far enough back to be late, so every branch of the rules above is taken.
 */
export const eventsArb: fc.Arbitrary<Ev[]> = fc
  .array(
    fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
      v: fc.integer({ min: 1, max: 9 }),
      dt: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 12 }) },
        { weight: 1, arbitrary: fc.integer({ min: -40, max: -1 }) },
      ),
    }),
    { minLength: 10, maxLength: 80 },
  )
  .map((steps) => {
    let clock = 50;
    return steps.map(({ key, v, dt }) => {
      if (dt >= 0) {
        clock += dt;
        return { key, v, ts: clock };
      }
      return { key, v, ts: Math.max(0, clock + dt) };
    });
  });
