/** Timers on the heap: a min-heap ordered by timestamp, then registration order (deterministic firing), with an index for duplicates and deletes. */
import { keyIdentityString } from '../../core/key-identity.ts';
import type { KeyedTimerQueue } from '../../state/keyed-state-backend.ts';

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

/** The timer service's queue when the backend keeps no timers: a TimerQueue plus an index by (key, namespace, timestamp). */
export class HeapTimerQueue implements KeyedTimerQueue {
  readonly #queue = new TimerQueue();
  readonly #index = new Map<string, TimerEntry>();
  #sequence = 0;

  get isEmpty(): boolean {
    return this.#queue.peek() === undefined;
  }

  add(key: unknown, keyGroup: number, namespace: string | number, timestampMs: number): void {
    const id = indexKey(key, namespace, timestampMs);
    if (this.#index.has(id)) return;
    const entry: TimerEntry = {
      timestampMs,
      key,
      keyGroup,
      namespace,
      sequence: this.#sequence++,
      deleted: false,
    };
    this.#index.set(id, entry);
    this.#queue.push(entry);
  }

  remove(key: unknown, _keyGroup: number, namespace: string | number, timestampMs: number): void {
    const id = indexKey(key, namespace, timestampMs);
    const entry = this.#index.get(id);
    if (entry === undefined) return;
    entry.deleted = true;
    this.#index.delete(id);
  }

  peek(): TimerEntry | undefined {
    return this.#queue.peek();
  }

  pop(): TimerEntry | undefined {
    const top = this.#queue.pop();
    if (top !== undefined) this.#index.delete(indexKey(top.key, top.namespace, top.timestampMs));
    return top;
  }

  /** Every live timer, in no particular order (for snapshots). */
  entries(): IterableIterator<TimerEntry> {
    return this.#queue.entries();
  }
}

function indexKey(key: unknown, namespace: string | number, timestampMs: number): string {
  return `${keyIdentityString(key)}\u0000${typeof namespace === 'number' ? 'n' : 's'}${namespace}\u0000${timestampMs}`;
}
