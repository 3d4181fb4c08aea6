/** The contract between keyed operators and a state backend (heap now, on-disk later). */
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from './descriptors.ts';
import type { KeyGroupRange } from './key-group-range.ts';
import type {
  AggregatingState,
  InternalKvState,
  ListState,
  MapState,
  ReducingState,
  ValueState,
} from './keyed-state.ts';
import type { IncrementalKeyedStateSnapshot } from './snapshot/keyed-changelog-format.ts';
import type { KeyedStateFileContents, KeyedStateSnapshot } from './snapshot/keyed-state-format.ts';
import type { KeyedStatePart } from './snapshot/keyed-state-part.ts';
import type { TimerSnapshotEntry } from './snapshot/timer-snapshot.ts';

/** A timer as a queue hands it out. */
export interface QueuedTimer {
  readonly timestampMs: number;
  readonly key: unknown;
  readonly keyGroup: number;
  readonly namespace: string | number;
}

/**
 * One timer service's timers of one domain: at most one per (key, namespace, timestamp),
 * taken out earliest first. A backend that keeps timers itself hands these out
 * (`createTimerQueue`); otherwise the timer service keeps them on the heap.
 */
export interface KeyedTimerQueue {
  readonly isEmpty: boolean;
  /** Adds the timer unless it is queued already. */
  add(key: unknown, keyGroup: number, namespace: string | number, timestampMs: number): void;
  /** Removes the timer if it is queued. */
  remove(key: unknown, keyGroup: number, namespace: string | number, timestampMs: number): void;
  peek(): QueuedTimer | undefined;
  pop(): QueuedTimer | undefined;
}

/**
 * Keyed state of one operator in one subtask. The operator sets the current key before it
 * calls user code; every state handle it gave out then reads and writes that key's entry.
 * Handles are created once (in `open`) and stay valid for the backend's lifetime.
 */
export interface KeyedStateBackend {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;

  /** `keyGroup` is the key's group, already computed by the caller (it lies in the range). */
  setCurrentKey(key: unknown, keyGroup: number): void;
  getCurrentKey(): unknown;
  getCurrentKeyGroup(): number;

  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> & InternalKvState;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> & InternalKvState;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> & InternalKvState;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> & InternalKvState;
  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT> & InternalKvState;

  /**
   * Called with the keys (and their groups) of an input batch before the batch runs, so a
   * backend whose storage is asynchronous can load them in one batched read; and once with
   * no keys after the operator opened, before any record or timer, so a backend can finish
   * restore work it deferred. The heap backend returns undefined at once; the caller awaits
   * only a returned promise.
   */
  prefetch(keys: readonly unknown[], keyGroups: Int32Array | readonly number[]): undefined | Promise<void>;

  /**
   * Optional: true while the backend's writes wait for its storage beyond its bound, so work
   * that writes state outside input batches (a watermark firing a million timers) stops and
   * lets the task await `prefetch` before it goes on. A backend whose writes complete
   * synchronously (the heap) leaves it out: such work then runs in one go.
   */
  isBackedUp?(): boolean;

  /** Every key that has a non-empty entry in the named state (any namespace), for `applyToKeyedState`. */
  keys(stateName: string, namespace?: string | number): IterableIterator<unknown>;

  /**
   * The synchronous part of a checkpoint: a point-in-time view of every state, taken in
   * O(states × key groups) without visiting entries. Processing may continue and change
   * state at once; nothing it does reaches the view (copy-on-write, including values user
   * code mutates in place). Serialize it with `writeKeyedStateFile` or
   * `KeyedStateFileWriter`, then `release()` it: copy-on-write costs only while a snapshot
   * is pending. Entries expired at this moment are left out. Restored states the operator
   * has not registered (yet) are included as they were restored.
   */
  snapshot(): KeyedStateSnapshot;

  /**
   * Optional: the synchronous part of incremental checkpoint `checkpointId` (never of a
   * savepoint, which is always full and canonical), or undefined to take a full one. Same
   * guarantees as `snapshot()`.
   */
  snapshotIncremental?(checkpointId: number): IncrementalKeyedStateSnapshot | undefined;

  /** Optional: checkpoint `checkpointId` completed (an incremental backend may now build on it). */
  notifyCheckpointComplete?(checkpointId: number): void;

  /**
   * Takes restored key-group sections (from one or more old subtasks' files, see
   * `readKeyedStateFile`/`readKeyedStateRange`) and returns their timers for the task to
   * re-register (`registerRestoredTimers`). Call before any state is registered; each key
   * group of the backend's range at most once. Entries stay undecoded until the operator
   * registers their state (`getValueState`…), which then checks kind, TTL and serializers
   * (IncompatibleStateError) and decodes them (CorruptSnapshotError if they do not decode):
   * the heap backend at once, the disk backend by the next `prefetch` or state access, which
   * report the CorruptSnapshotError then. The backend keeps references into the parts' bytes
   * until then: do not reuse the buffers.
   */
  restore(parts: readonly KeyedStateFileContents[]): TimerSnapshotEntry[];

  /**
   * `restore` from parts whose sections are read as they are pulled (what the task calls).
   * A backend that keeps state outside memory takes them section by section, so a restore
   * holds about one section per part at a time instead of the whole state; without this
   * method the task reads the parts whole and calls `restore`.
   */
  restoreFrom?(parts: readonly KeyedStatePart[]): Promise<TimerSnapshotEntry[]>;

  /**
   * Optional: a queue for the timers of timer service `service` in `domain`, kept by the
   * backend (in its store), which then also snapshots and restores them: its snapshots
   * write them, and `restore` does not return them. Same name and domain, same queue.
   * Without it, or when it returns undefined, timer services keep their timers on the heap
   * and the task snapshots them.
   */
  createTimerQueue?(service: string, domain: 'event' | 'processing'): KeyedTimerQueue | undefined;

  /** Releases resources; the backend is unusable afterwards. */
  dispose(): void;
}

/** Builds a keyed backend for one operator in one subtask. */
export interface KeyedStateBackendFactory {
  readonly name: string;
  create(options: {
    readonly operatorId: string;
    readonly keyGroupRange: KeyGroupRange;
    readonly maxParallelism: number;
    readonly clock: import('../core/clock.ts').Clock;
  }): KeyedStateBackend;
}
