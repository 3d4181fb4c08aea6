/** A timer priority queue kept in the disk backend's store, with each key group's earliest timers cached (docs/design/timers-in-store.md). */
import { BinaryReader, BinaryWriter } from '../../../core/binary.ts';
import type { KeyGroupRange } from '../../key-group-range.ts';
import { valueSerializer } from '../../serializers/value-serializer.ts';
import type { TimerSnapshotEntry } from '../../snapshot/timer-snapshot.ts';
import { toMapKey } from '../heap/map-key.ts';
import type { LocalKvStore, StoreView } from './local-kv-store.ts';
import { keyBytesOf, storePrefix } from './store-key.ts';

/*
 * Store key: u16 BE queue id | u16 BE key group | 8-byte order-preserving timestamp | key |
 * namespace (key and namespace as in state keys). Queue ids come from the top of the state-id
 * space, so a queue's key group is one 4-byte prefix like a state's. The value is one byte.
 */

/** A timer as the queue returns it. */
export interface StoredTimer {
  readonly timestampMs: number;
  readonly key: unknown;
  readonly keyGroup: number;
  readonly namespace: string | number;
}

/** Timers of one key group cached in memory by default (the group's earliest). */
export const TIMER_HEAD_SIZE = 16;
/** Remembered store-only timers (all groups) below which no sweep runs. */
export const STORE_ONLY_SWEEP_MIN = 4_096;
/** Every timer's value: one byte (the key is the timer). */
const PRESENT = Uint8Array.of(1);
const PREFIX_BYTES = 4;
const TIMESTAMP_BYTES = 8;
const scratch = new BinaryWriter(256);

interface CachedTimer {
  /** The store key's bytes as a latin1 string: its order is the key's byte order. */
  readonly id: string;
  readonly timer: StoredTimer;
}

/** One key group: its earliest timers, and what the store holds beyond them. */
interface GroupHead {
  readonly keyGroup: number;
  /** Sorted by id; every timer of the group in the store up to the last one is here. */
  cache: CachedTimer[];
  /** The store holds no timer of the group beyond the cache. */
  complete: boolean;
  /**
   * While the cache is empty: the last timer it held. Everything the store has up to it was
   * removed (perhaps not committed yet), so a refill scans from just after it rather than
   * skipping, on every refill, the removals of all timers fired before.
   */
  drainedAt: string | undefined;
  /**
   * Timers written beyond the cache whose write may not be committed yet (ids, oldest first,
   * from `storeOnlyFrom`), each with the number of the store's latest write when it was
   * remembered: a refill reads only committed entries and adds these. Forgotten once that
   * write committed (the scan finds them), so they are bounded by the writes in flight.
   */
  storeOnly: string[];
  storeOnlyWrites: number[];
  storeOnlyFrom: number;
  /** Position in the queue's heap of groups, -1 when the group holds no timer. */
  heapIndex: number;
}

/**
 * One timer service's timers of one domain (event or processing time) for one operator
 * subtask, in `store`. At most one timer per (key, namespace, timestamp). Timers leave in
 * timestamp order; equal timestamps by key group, then key and namespace bytes.
 *
 * Memory is about `headSize` cached timers per key group plus the writes not yet committed,
 * whatever the number of timers. A group whose cache runs dry refills it from the store's
 * committed entries (`scan`, no view) and its remembered uncommitted writes.
 *
 * @example
 * ```ts
 * const queue = new DiskTimerQueue(store, 0xffff, { start: 0, end: 127 });
 * queue.add('alice', 17, 0, 60_000);
 * while ((queue.peek()?.timestampMs ?? Infinity) <= watermark) fire(queue.pop()!);
 * ```
 */
export class DiskTimerQueue {
  readonly #store: LocalKvStore;
  readonly #queueId: number;
  readonly #range: KeyGroupRange;
  readonly #headSize: number;
  readonly #groups: GroupHead[];
  /** Groups holding timers, a min-heap by their earliest timer (see `earlier`). */
  readonly #heap: GroupHead[] = [];
  /** Remembered store-only timers over all groups, and the count at which they are next swept. */
  #storeOnlyCount = 0;
  readonly #sweepMin: number;
  #sweepAt: number;

  /** `sweepMin`: see STORE_ONLY_SWEEP_MIN (tests lower it so sweeps happen in short runs). */
  constructor(
    store: LocalKvStore,
    queueId: number,
    range: KeyGroupRange,
    headSize = TIMER_HEAD_SIZE,
    sweepMin = STORE_ONLY_SWEEP_MIN,
  ) {
    if (!Number.isInteger(headSize) || headSize < 1)
      throw new RangeError(`headSize must be a positive integer, got ${headSize}`);
    this.#store = store;
    this.#queueId = queueId;
    this.#range = range;
    this.#headSize = headSize;
    this.#sweepMin = sweepMin;
    this.#sweepAt = sweepMin;
    this.#groups = [];
    for (let keyGroup = range.start; keyGroup <= range.end; keyGroup++) {
      // A new queue's store range is empty: a restore adds its timers through `add`.
      this.#groups.push({
        keyGroup,
        cache: [],
        complete: true,
        drainedAt: undefined,
        storeOnly: [],
        storeOnlyWrites: [],
        storeOnlyFrom: 0,
        heapIndex: -1,
      });
    }
  }

  get isEmpty(): boolean {
    return this.#heap.length === 0;
  }

  /** Adds the timer unless it is queued already. */
  add(key: unknown, keyGroup: number, namespace: string | number, timestampMs: number): void {
    const group = this.#group(keyGroup);
    const storeKey = this.#storeKey(keyGroup, key, namespace, timestampMs);
    const id = storeKey.toString('latin1');
    const cache = group.cache;
    if (group.complete || (cache.length > 0 && id <= cache[cache.length - 1].id)) {
      const at = searchId(cache, id);
      if (at < cache.length && cache[at].id === id) return;
      cache.splice(at, 0, { id, timer: { timestampMs, key, keyGroup, namespace } });
      this.#store.put(storeKey, PRESENT);
      if (cache.length > this.#headSize) {
        // Past the head: the last timer stays in the store only.
        const dropped = cache.pop()!;
        group.complete = false;
        this.#rememberStoreOnly(group, dropped.id);
      }
      if (at === 0) this.#reposition(group);
      return;
    }
    // The store's own read sees uncommitted writes, removals included.
    if (this.#store.get(storeKey) !== undefined) return;
    this.#store.put(storeKey, PRESENT);
    this.#rememberStoreOnly(group, id);
  }

  /** Removes the timer if it is queued. */
  remove(key: unknown, keyGroup: number, namespace: string | number, timestampMs: number): void {
    const group = this.#group(keyGroup);
    const storeKey = this.#storeKey(keyGroup, key, namespace, timestampMs);
    const id = storeKey.toString('latin1');
    const cache = group.cache;
    const at = searchId(cache, id);
    if (at < cache.length && cache[at].id === id) {
      this.#removeCached(group, at, storeKey);
      return;
    }
    // Within the cache's span but not in it, or with nothing beyond the cache: not queued.
    if (group.complete || (cache.length > 0 && id < cache[cache.length - 1].id)) return;
    // A remembered add stays remembered: a refill skips what the store says was removed.
    if (this.#store.get(storeKey) === undefined) return;
    this.#store.remove(storeKey);
  }

  /** The earliest timer, or undefined. */
  peek(): StoredTimer | undefined {
    return this.#heap[0]?.cache[0].timer;
  }

  /** Removes and returns the earliest timer. */
  pop(): StoredTimer | undefined {
    const group = this.#heap[0];
    if (group === undefined) return undefined;
    const first = group.cache[0];
    this.#removeCached(group, 0, Buffer.from(first.id, 'latin1'));
    return first.timer;
  }

  #removeCached(group: GroupHead, at: number, storeKey: Buffer): void {
    const [removed] = group.cache.splice(at, 1);
    if (group.cache.length === 0) group.drainedAt = removed.id;
    this.#store.remove(storeKey);
    if (group.cache.length === 0 && !group.complete) this.#refill(group);
    if (at === 0) this.#reposition(group);
  }

  /**
   * Fills an empty cache with the group's next timers: the earliest committed entries not
   * removed since, merged with the uncommitted writes beyond the old cache.
   */
  #refill(group: GroupHead): void {
    const store = this.#store;
    const candidates = new Map<string, Buffer>();
    for (let i = group.storeOnlyFrom; i < group.storeOnly.length; i++) {
      const id = group.storeOnly[i];
      const storeKey = Buffer.from(id, 'latin1');
      const pending = store.inFlightValue(storeKey);
      // Committed (the scan below finds it if it is still there) or removed since.
      if (pending !== undefined && pending !== null) candidates.set(id, storeKey);
    }
    const start = Buffer.alloc(PREFIX_BYTES);
    start.writeUInt16BE(this.#queueId);
    start.writeUInt16BE(group.keyGroup, 2);
    const end = Buffer.alloc(PREFIX_BYTES);
    end.writeUInt32BE((start.readUInt32BE(0) + 1) >>> 0);
    let from =
      group.drainedAt === undefined
        ? start
        : Buffer.concat([Buffer.from(group.drainedAt, 'latin1'), Buffer.alloc(1)]);
    let exhausted = false;
    let committed = 0;
    while (committed < this.#headSize) {
      const entries = store.scan(from, end, this.#headSize);
      for (const { key } of entries) {
        if (store.inFlightValue(key) === null) continue;
        candidates.set(key.toString('latin1'), key);
        committed++;
      }
      if (entries.length < this.#headSize) {
        exhausted = true;
        break;
      }
      from = Buffer.concat([entries[entries.length - 1].key, Buffer.alloc(1)]);
    }
    const ids = [...candidates.keys()].sort();
    const taken = ids.slice(0, this.#headSize);
    group.cache = taken.map((id) => ({ id, timer: decodeTimerKey(candidates.get(id)!) }));
    // Still to remember: the uncommitted writes not taken into the cache.
    const writeCount = store.writeCount;
    this.#storeOnlyCount -= group.storeOnly.length - group.storeOnlyFrom;
    group.storeOnly = [];
    group.storeOnlyWrites = [];
    group.storeOnlyFrom = 0;
    for (let i = taken.length; i < ids.length; i++) {
      if (store.inFlightValue(candidates.get(ids[i])!) === undefined) continue;
      group.storeOnly.push(ids[i]);
      group.storeOnlyWrites.push(writeCount);
      this.#storeOnlyCount++;
    }
    group.complete = exhausted && ids.length <= this.#headSize;
    group.drainedAt = undefined;
  }

  /**
   * Remembers a timer the store holds beyond the group's cache, possibly uncommitted (a refill
   * needs it until its write commits), and now and then forgets, in every group, those whose
   * write has committed: an amortized sweep, so memory follows the writes in flight.
   */
  #rememberStoreOnly(group: GroupHead, id: string): void {
    group.storeOnly.push(id);
    group.storeOnlyWrites.push(this.#store.writeCount);
    if (++this.#storeOnlyCount <= this.#sweepAt) return;
    const committed = this.#store.committedWriteCount;
    for (const each of this.#groups) this.#forgetCommitted(each, committed);
    this.#sweepAt = Math.max(this.#sweepMin, 2 * this.#storeOnlyCount);
  }

  #forgetCommitted(group: GroupHead, committedWriteCount: number): void {
    const { storeOnly, storeOnlyWrites } = group;
    let from = group.storeOnlyFrom;
    while (from < storeOnly.length && storeOnlyWrites[from] <= committedWriteCount) from++;
    this.#storeOnlyCount -= from - group.storeOnlyFrom;
    if (from === storeOnly.length) {
      group.storeOnly = [];
      group.storeOnlyWrites = [];
      from = 0;
    } else if (from > 1024 && from * 2 > storeOnly.length) {
      group.storeOnly = storeOnly.slice(from);
      group.storeOnlyWrites = storeOnlyWrites.slice(from);
      from = 0;
    }
    group.storeOnlyFrom = from;
  }

  #group(keyGroup: number): GroupHead {
    const group = this.#groups[keyGroup - this.#range.start];
    if (group === undefined) {
      throw new RangeError(
        `timer of key group ${keyGroup} outside [${this.#range.start}, ${this.#range.end}]`,
      );
    }
    return group;
  }

  /** The timer's store key, as a view of a shared scratch buffer. */
  #storeKey(keyGroup: number, key: unknown, namespace: string | number, timestampMs: number): Buffer {
    scratch.reset();
    scratch.writeU8(this.#queueId >>> 8);
    scratch.writeU8(this.#queueId & 0xff);
    scratch.writeU8(keyGroup >>> 8);
    scratch.writeU8(keyGroup & 0xff);
    writeOrderedTimestamp(scratch, timestampMs);
    scratch.writeRawBytes(keyBytesOf(toMapKey(key)));
    valueSerializer.serialize(namespace, scratch);
    // A view, not a copy (this runs for every timer registration): valid until the next call;
    // the store copies the keys it is given, and callers keep their own copies.
    const bytes = scratch.view();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  // The heap of groups, by each group's earliest timer.

  #reposition(group: GroupHead): void {
    const heap = this.#heap;
    if (group.cache.length === 0) {
      if (group.heapIndex < 0) return;
      const last = heap.pop()!;
      if (last !== group) {
        heap[group.heapIndex] = last;
        last.heapIndex = group.heapIndex;
        this.#siftDown(last.heapIndex);
        this.#siftUp(last.heapIndex);
      }
      group.heapIndex = -1;
      return;
    }
    if (group.heapIndex < 0) {
      group.heapIndex = heap.length;
      heap.push(group);
    }
    this.#siftUp(group.heapIndex);
    this.#siftDown(group.heapIndex);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(heap[i], heap[parent])) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && earlier(heap[left], heap[least])) least = left;
      if (right < heap.length && earlier(heap[right], heap[least])) least = right;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const x = heap[a];
    heap[a] = heap[b];
    heap[b] = x;
    heap[a].heapIndex = a;
    heap[b].heapIndex = b;
  }
}

/**
 * Whether group `a`'s earliest timer leaves before group `b`'s: by timestamp, then key group
 * (ids begin with the key group, so they order groups by group first: compare the timestamp
 * bytes that follow it).
 */
function earlier(a: GroupHead, b: GroupHead): boolean {
  const x = a.cache[0].id.substring(PREFIX_BYTES, PREFIX_BYTES + TIMESTAMP_BYTES);
  const y = b.cache[0].id.substring(PREFIX_BYTES, PREFIX_BYTES + TIMESTAMP_BYTES);
  return x < y || (x === y && a.keyGroup < b.keyGroup);
}

/** The timer a store key holds (a queue's key, as a snapshot's view returns it). */
export function decodeTimerKey(storeKey: Uint8Array): StoredTimer {
  const keyGroup = (storeKey[2] << 8) | storeKey[3];
  const timestampMs = readOrderedTimestamp(storeKey, PREFIX_BYTES);
  const input = new BinaryReader(storeKey, PREFIX_BYTES + TIMESTAMP_BYTES);
  const key = valueSerializer.deserialize(input);
  const namespace = valueSerializer.deserialize(input) as string | number;
  return { timestampMs, key, keyGroup, namespace };
}

/** First index whose id is not below `id`. */
function searchId(cache: readonly CachedTimer[], id: string): number {
  let low = 0;
  let high = cache.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (cache[mid].id < id) low = mid + 1;
    else high = mid;
  }
  return low;
}

const timestampView = new DataView(new ArrayBuffer(8));

/** A float64 whose bytes sort as the numbers do: sign bit flipped for non-negative values, every bit for negative ones. */
function writeOrderedTimestamp(out: BinaryWriter, timestampMs: number): void {
  timestampView.setFloat64(0, timestampMs === 0 ? 0 : timestampMs);
  const negative = (timestampView.getUint8(0) & 0x80) !== 0;
  for (let i = 0; i < 8; i++) {
    const byte = timestampView.getUint8(i);
    out.writeU8(negative ? ~byte & 0xff : i === 0 ? byte ^ 0x80 : byte);
  }
}

function readOrderedTimestamp(bytes: Uint8Array, offset: number): number {
  const negative = (bytes[offset] & 0x80) === 0;
  for (let i = 0; i < 8; i++) {
    const byte = bytes[offset + i];
    timestampView.setUint8(i, negative ? ~byte & 0xff : i === 0 ? byte ^ 0x80 : byte);
  }
  return timestampView.getFloat64(0);
}

/** A timer queue as a snapshot needs it: whose timers, under which id in the store. */
export interface TimerQueueView {
  readonly service: string;
  readonly domain: 'event' | 'processing';
  readonly queueId: number;
}

/** The timers of `keyGroup` in `view`, for each queue (a snapshot's asynchronous part). */
export function timersInView(
  view: StoreView,
  queues: readonly TimerQueueView[],
  keyGroup: number,
): TimerSnapshotEntry[] {
  const timers: TimerSnapshotEntry[] = [];
  for (const { service, domain, queueId } of queues) {
    for (const { key } of view.prefixed(storePrefix(queueId, keyGroup))) {
      const { timestampMs, key: timerKey, namespace } = decodeTimerKey(key);
      timers.push({ service, domain, key: timerKey, keyGroup, namespace, timestampMs });
    }
  }
  return timers;
}
