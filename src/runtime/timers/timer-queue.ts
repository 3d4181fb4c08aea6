/** A min-heap of timers ordered by timestamp, then registration order (deterministic firing). */

export interface TimerEntry {
  readonly timestampMs: number;
  readonly key: unknown;
  readonly keyGroup: number;
  readonly namespace: string | number;
  readonly sequence: number;
  /** Set when deleted; the heap skips it lazily instead of searching for it. */
  deleted: boolean;
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.timestampMs < b.timestampMs || (a.timestampMs === b.timestampMs && a.sequence < b.sequence);
}

export class TimerQueue {
  #heap: TimerEntry[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(entry: TimerEntry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  /** The earliest live timer, dropping deleted ones found at the top. */
  peek(): TimerEntry | undefined {
    while (this.#heap.length > 0 && this.#heap[0].deleted) this.#popTop();
    return this.#heap[0];
  }

  pop(): TimerEntry | undefined {
    const top = this.peek();
    if (top !== undefined) this.#popTop();
    return top;
  }

  /** Every live timer, in no particular order (for snapshots). */
  *entries(): IterableIterator<TimerEntry> {
    for (const entry of this.#heap) if (!entry.deleted) yield entry;
  }

  #popTop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && before(heap[l], heap[smallest])) smallest = l;
      if (r < heap.length && before(heap[r], heap[smallest])) smallest = r;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
      i = smallest;
    }
  }
}
