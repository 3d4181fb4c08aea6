/** Incremental checkpoints of the disk backend: which store keys changed since the last confirmed checkpoint, and the chain of shared files. */

import type { KeyGroupRange } from '../../key-group-range.ts';
import type {
  ChangelogSectionWriter,
  IncrementalKeyedStateSnapshot,
  SharedFileRef,
} from '../../snapshot/keyed-changelog-format.ts';
import type { KeyedStateMeta } from '../../snapshot/keyed-state-format.ts';
import { SnapshotWriteError } from '../../snapshot/snapshot-errors.ts';
import type { TimerSnapshotEntry } from '../../snapshot/timer-snapshot.ts';
import { decodeTimerKey, type TimerQueueView, timersInView } from './disk-timer-queue.ts';
import type { StoreView } from './local-kv-store.ts';
import { type StagedChunk, stagedChunkIn } from './restore-staging.ts';
import { STORE_KEY_PREFIX_BYTES, storePrefix, storePrefixOfId } from './store-key.ts';

/** Changed keys tracked by default before the next checkpoint falls back to a base (about 25 MB of heap). */
export const CHANGED_KEYS_MAX_DEFAULT = 250_000;
/** Deltas after a base before the next checkpoint writes a new base (bounds restore work and file count). */
export const CHAIN_DELTAS_MAX_DEFAULT = 8;

/** Options of {@link IncrementalSnapshots}. */
export interface IncrementalSnapshotOptions {
  readonly changedKeysMax?: number;
  readonly chainDeltasMax?: number;
}

/** The chain a completed checkpoint left: what the next delta extends. */
interface Chain {
  readonly checkpointId: number;
  readonly files: readonly SharedFileRef[];
  readonly baseBytes: number;
  readonly deltaBytes: number;
  /** The seal count when its view was taken: a base requested later is not satisfied by it. */
  readonly sealIndex: number;
}

/** Changes between two snapshots; `undefined` when not tracked (see `IncrementalSnapshots.#current`). */
interface Epoch {
  readonly checkpointId: number;
  readonly keys: Set<string> | undefined;
}

/** What a new incremental snapshot has to write. */
export interface IncrementalPlan {
  readonly isBase: boolean;
  readonly reusedFiles: readonly SharedFileRef[];
  /** Delta only: the changed store keys (latin1 strings) by their four-byte (state, key group) prefix. */
  readonly changedByPrefix: ReadonlyMap<number, string[]>;
  /** Call with the new file once it is durable. */
  readonly written: (file: SharedFileRef) => void;
}

/**
 * Bookkeeping for incremental checkpoints of one backend. Every store write is `record`ed
 * into the current epoch; a snapshot `plan`s its file: a delta of the keys changed since the
 * last *confirmed* (completed) checkpoint, or a new base when there is none, when more keys
 * changed than tracked, when the chain holds `chainDeltasMax` deltas or its deltas outgrew
 * the base, or when a base was requested (a restored state got registered). An aborted
 * checkpoint's epoch stays, so the next delta still carries its changes.
 */
export class IncrementalSnapshots {
  readonly #changedKeysMax: number;
  readonly #chainDeltasMax: number;
  /**
   * Keys changed since the last snapshot was planned; undefined while not tracked: once more
   * keys changed than tracked, and before the first snapshot, which is a base whatever
   * changed (a delta only carries epochs sealed after a confirmed checkpoint, so keys written
   * before the first plan are never read, and a job without checkpoints pays nothing).
   */
  #current: Set<string> | undefined;
  #trackedCount = 0;
  readonly #epochs: Epoch[] = [];
  #confirmed: Chain | undefined;
  readonly #written = new Map<number, Chain>();
  #sealCount = 0;
  /** The seal count when a base was last requested: needed until a base taken after it is confirmed. */
  #baseRequestedAtSeal = -1;

  constructor(options: IncrementalSnapshotOptions = {}) {
    this.#changedKeysMax = options.changedKeysMax ?? CHANGED_KEYS_MAX_DEFAULT;
    this.#chainDeltasMax = options.chainDeltasMax ?? CHAIN_DELTAS_MAX_DEFAULT;
    if (!(Number.isSafeInteger(this.#changedKeysMax) && this.#changedKeysMax >= 1)) {
      throw new RangeError(`changedKeysMax must be a positive integer, got ${this.#changedKeysMax}`);
    }
    if (!(Number.isSafeInteger(this.#chainDeltasMax) && this.#chainDeltasMax >= 0)) {
      throw new RangeError(`chainDeltasMax must be a non-negative integer, got ${this.#chainDeltasMax}`);
    }
  }

  /** A store key was written (called for every put and remove, with a view of the key). */
  record(key: Buffer): void {
    const current = this.#current;
    if (current === undefined) return;
    const id = key.toString('latin1');
    if (current.has(id)) return;
    current.add(id);
    // Past the bound the set is dropped (its memory with it): the next snapshot must be a base anyway.
    if (++this.#trackedCount > this.#changedKeysMax) {
      this.#trackedCount -= current.size;
      this.#current = undefined;
    }
  }

  /** The next snapshot must be a base (its chain cannot express what happened). */
  requestBase(): void {
    this.#baseRequestedAtSeal = this.#sealCount;
  }

  /** Seals the current epoch as checkpoint `checkpointId`'s and decides what to write. */
  plan(checkpointId: number): IncrementalPlan {
    this.#epochs.push({ checkpointId, keys: this.#current });
    this.#current = new Set();
    const sealIndex = ++this.#sealCount;
    const confirmed = this.#confirmed;
    const pending = this.#epochs.filter(
      (epoch) => confirmed === undefined || epoch.checkpointId > confirmed.checkpointId,
    );
    const isBase =
      confirmed === undefined ||
      this.#baseRequestedAtSeal >= confirmed.sealIndex ||
      pending.some((epoch) => epoch.keys === undefined) ||
      confirmed.files.length - 1 >= this.#chainDeltasMax ||
      confirmed.deltaBytes > confirmed.baseBytes;
    const changedByPrefix = new Map<number, string[]>();
    if (!isBase) {
      const seen = new Set<string>();
      for (const epoch of pending) {
        for (const id of epoch.keys!) {
          if (seen.has(id)) continue;
          seen.add(id);
          const prefix = storePrefixOfId(id);
          let bucket = changedByPrefix.get(prefix);
          if (bucket === undefined) changedByPrefix.set(prefix, (bucket = []));
          bucket.push(id);
        }
      }
      // Key order inside a state and key group, as lmdb keeps them (latin1 order is byte order).
      for (const bucket of changedByPrefix.values()) bucket.sort();
    }
    const reusedFiles = isBase ? [] : confirmed!.files;
    return {
      isBase,
      reusedFiles,
      changedByPrefix,
      written: (file) => {
        this.#written.set(checkpointId, {
          checkpointId,
          files: [...reusedFiles, file],
          baseBytes: isBase ? file.sizeBytes : confirmed!.baseBytes,
          deltaBytes: isBase ? 0 : confirmed!.deltaBytes + file.sizeBytes,
          sealIndex,
        });
      },
    };
  }

  /** Checkpoint `checkpointId` completed: later deltas extend its chain, and its changes are covered. */
  confirm(checkpointId: number): void {
    const chain = this.#written.get(checkpointId);
    for (const id of [...this.#written.keys()]) if (id <= checkpointId) this.#written.delete(id);
    if (
      chain === undefined ||
      (this.#confirmed !== undefined && checkpointId <= this.#confirmed.checkpointId)
    ) {
      return;
    }
    this.#confirmed = chain;
    while (this.#epochs.length > 0 && this.#epochs[0].checkpointId <= checkpointId) this.#epochs.shift();
    this.#trackedCount = this.#current?.size ?? 0;
    for (const epoch of this.#epochs) this.#trackedCount += epoch.keys?.size ?? 0;
  }

  /** For tests and metrics: files of the last confirmed chain. */
  confirmedFiles(): readonly SharedFileRef[] {
    return this.#confirmed?.files ?? [];
  }
}

/** One registered state as the snapshot saw it. */
export interface IncrementalTableView {
  readonly meta: KeyedStateMeta;
  readonly stateId: number;
}

/**
 * The incremental snapshot the disk backend hands the task: a base streams every entry of
 * the view (and restored chunks of states not registered yet); a delta writes, for each
 * changed key, its value in the view or a deletion. Store values are the canonical payload,
 * written through unchanged (TTL expiry is checked when the state is read after a restore).
 * Timers kept in the store go the same way: all of them in a base, the changed ones (added
 * or removed) in a delta.
 */
export class DiskIncrementalSnapshot implements IncrementalKeyedStateSnapshot {
  readonly checkpointId: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly isBase: boolean;
  readonly reusedFiles: readonly SharedFileRef[];
  readonly timerDeltas: boolean;
  readonly #plan: IncrementalPlan;
  readonly #tables: readonly IncrementalTableView[];
  readonly #timerQueues: readonly TimerQueueView[];
  readonly #pending: readonly (readonly (StagedChunk | undefined)[])[];
  #view: StoreView | undefined;
  /** The last key group's timer changes: `timersOf` and `removedTimersOf` ask for the same group in turn. */
  #timerDelta: { keyGroup: number; added: TimerSnapshotEntry[]; removed: TimerSnapshotEntry[] } | undefined;

  /** `timersInStore`: every timer of the operator is in `timerQueues` (a delta then writes timer changes). */
  constructor(options: {
    readonly checkpointId: number;
    readonly keyGroupRange: KeyGroupRange;
    readonly maxParallelism: number;
    readonly plan: IncrementalPlan;
    readonly tables: readonly IncrementalTableView[];
    readonly timerQueues: readonly TimerQueueView[];
    readonly pending: readonly (readonly (StagedChunk | undefined)[])[];
    readonly view: StoreView;
    readonly timersInStore: boolean;
  }) {
    this.checkpointId = options.checkpointId;
    this.keyGroupRange = options.keyGroupRange;
    this.maxParallelism = options.maxParallelism;
    this.#plan = options.plan;
    this.isBase = options.plan.isBase;
    this.reusedFiles = options.plan.reusedFiles;
    this.timerDeltas = !this.isBase && options.timersInStore;
    this.#tables = options.tables;
    this.#timerQueues = options.timerQueues;
    this.#pending = options.pending;
    this.#view = options.view;
  }

  /** Every timer of the key group; with `timerDeltas`, those added since the previous file. */
  timersOf(keyGroup: number): TimerSnapshotEntry[] {
    const view = this.#view;
    if (view === undefined) throw new Error('an incremental snapshot was written after its release');
    if (!this.timerDeltas) return timersInView(view, this.#timerQueues, keyGroup);
    return this.#timerChanges(view, keyGroup).added;
  }

  /** With `timerDeltas`: the timers of the key group removed since the previous file. */
  removedTimersOf(keyGroup: number): TimerSnapshotEntry[] {
    const view = this.#view;
    if (view === undefined) throw new Error('an incremental snapshot was written after its release');
    return this.timerDeltas ? this.#timerChanges(view, keyGroup).removed : [];
  }

  #timerChanges(
    view: StoreView,
    keyGroup: number,
  ): { added: TimerSnapshotEntry[]; removed: TimerSnapshotEntry[] } {
    if (this.#timerDelta?.keyGroup === keyGroup) return this.#timerDelta;
    const added: TimerSnapshotEntry[] = [];
    const removed: TimerSnapshotEntry[] = [];
    for (const { service, domain, queueId } of this.#timerQueues) {
      for (const id of this.#plan.changedByPrefix.get(storePrefix(queueId, keyGroup)) ?? []) {
        const { timestampMs, key, namespace } = decodeTimerKey(Buffer.from(id, 'latin1'));
        const timer = { service, domain, key, keyGroup, namespace, timestampMs };
        (view.get(id) === undefined ? removed : added).push(timer);
      }
    }
    this.#timerDelta = { keyGroup, added, removed };
    return this.#timerDelta;
  }

  writeKeyGroup(keyGroup: number, out: ChangelogSectionWriter): void {
    const view = this.#view;
    if (view === undefined) throw new Error('an incremental snapshot was written after its release');
    for (const { meta, stateId } of this.#tables) {
      try {
        out.beginState(meta);
        if (this.isBase) {
          for (const { key, value } of view.prefixed(storePrefix(stateId, keyGroup))) {
            out.put(key.subarray(STORE_KEY_PREFIX_BYTES), value);
          }
        } else {
          for (const id of this.#plan.changedByPrefix.get(storePrefix(stateId, keyGroup)) ?? []) {
            const key = Buffer.from(id, 'latin1').subarray(STORE_KEY_PREFIX_BYTES);
            const value = view.get(id);
            if (value === undefined) out.remove(key);
            else out.put(key, value);
          }
        }
        out.endState();
      } catch (error) {
        throw new SnapshotWriteError(meta.name, `in key group ${keyGroup}`, { cause: error });
      }
    }
    if (!this.isBase) return;
    const groupIndex = keyGroup - this.keyGroupRange.start;
    for (const chunks of this.#pending) {
      const chunk = chunks[groupIndex];
      if (chunk === undefined) continue;
      out.beginState(chunk.meta);
      out.raw(stagedChunkIn(view, chunk));
      out.endState();
    }
  }

  written(file: SharedFileRef): void {
    this.#plan.written(file);
  }

  release(): void {
    const view = this.#view;
    this.#view = undefined;
    view?.release();
  }
}
