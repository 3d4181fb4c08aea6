/** TimeWindow: the half-open interval [start, end) of event or processing time. */
import type { Window, WindowCodec } from './window.ts';

/**
 * The interval `[start, end)` in milliseconds; `end` is exclusive, so the last timestamp in
 * the window is `end - 1`. Two windows are equal when their bounds are.
 *
 * @example
 * const w = TimeWindow.of(0, 5_000);
 * w.maxTimestamp(); // 4999
 */
export class TimeWindow implements Window {
  readonly start: number;
  readonly end: number;

  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }

  /** Creates `[start, end)`; `start < end` is required. */
  static of(start: number, end: number): TimeWindow {
    if (!(start < end)) throw new RangeError(`TimeWindow needs start < end, got [${start}, ${end})`);
    return new TimeWindow(start, end);
  }

  maxTimestamp(): number {
    return this.end - 1;
  }

  /** Whether the windows overlap or touch; touching session windows merge (as in Flink). */
  intersects(other: TimeWindow): boolean {
    return this.start <= other.end && this.end >= other.start;
  }

  /** The smallest window containing both. */
  cover(other: TimeWindow): TimeWindow {
    return new TimeWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }

  equals(other: unknown): boolean {
    return other instanceof TimeWindow && other.start === this.start && other.end === this.end;
  }

  toString(): string {
    return `TimeWindow[${this.start}, ${this.end})`;
  }

  /**
   * The start of the window of length `sizeMs` (aligned to `offsetMs`) that contains
   * `timestampMs`. Uses the remainder's sign as Flink does, so negative timestamps land in
   * the window below them rather than the one above.
   */
  static getWindowStartWithOffset(timestampMs: number, offsetMs: number, sizeMs: number): number {
    const remainder = (timestampMs - offsetMs) % sizeMs;
    return remainder < 0 ? timestampMs - (remainder + sizeMs) : timestampMs - remainder;
  }

  /**
   * Groups the windows that overlap (transitively) and reports each group of two or more
   * together with the window covering it. Used by session window assigners.
   */
  static mergeWindows(
    windows: readonly TimeWindow[],
    callback: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void,
  ): void {
    const sorted = [...windows].sort((a, b) => a.start - b.start);
    const groups: Array<{ cover: TimeWindow; members: TimeWindow[] }> = [];
    let current: { cover: TimeWindow; members: TimeWindow[] } | undefined;
    for (const window of sorted) {
      if (current?.cover.intersects(window)) {
        current.members.push(window);
        current.cover = current.cover.cover(window);
      } else {
        current = { cover: window, members: [window] };
        groups.push(current);
      }
    }
    for (const group of groups) {
      if (group.members.length > 1) callback(group.members, group.cover);
    }
  }

  /** Namespaces `start|end`: stable, exact for every finite number, readable in `weir inspect`. */
  static readonly codec: WindowCodec<TimeWindow> = {
    toNamespace: (window) => `${window.start}|${window.end}`,
    fromNamespace: (namespace) => {
      const text = String(namespace);
      const bar = text.indexOf('|');
      const start = Number(text.slice(0, bar));
      const end = Number(text.slice(bar + 1));
      if (bar < 0 || !(start < end)) throw new RangeError(`not a TimeWindow namespace: '${text}'`);
      return new TimeWindow(start, end);
    },
  };
}
