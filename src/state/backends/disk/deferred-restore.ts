/** Restored state the disk backend writes into its store after registration, in slices, so a restore's heap stays bounded. */
import type { RegisteredStateInfo } from '../../snapshot/keyed-state-decoding.ts';
import { type RestorableTable, restoreChunkCells } from '../heap/heap-keyed-state-restore.ts';
import type { LocalKvStore } from './local-kv-store.ts';
import type { RestoreStaging, StagedChunk } from './restore-staging.ts';

/** Cells restored between two checks of the store's backpressure. */
const CELLS_PER_SLICE = 1_024;

interface StagedState {
  readonly table: RestorableTable;
  readonly registered: RegisteredStateInfo;
  /** By group index; an entry is dropped once taken for restoring. */
  readonly chunks: (StagedChunk | undefined)[];
  /** The next group index to restore. */
  next: number;
}

/**
 * Every write a restore makes stays on the heap until lmdb commits it, and commits are only
 * seen between event-loop turns; registration is synchronous, so decoding a large restored
 * state there would hold all of it at once (a 1,000,000-key restore ran out of a 53 MB heap).
 * Registration stages the checked chunks here instead, and `load` writes them before the
 * first input batch, awaiting the store whenever `inFlightBytesMax` of writes wait for lmdb.
 * Anything that reads the store before that (a state read in `open`, a timer, a snapshot)
 * calls `loadNow` first: correct, and as memory-hungry as a synchronous restore.
 */
export class DeferredRestore {
  readonly #store: LocalKvStore;
  readonly #staging: RestoreStaging;
  readonly #maxParallelism: number;
  readonly #staged: StagedState[] = [];
  /** The chunk being restored, resumable between cells. */
  #cells: Generator<undefined, void, undefined> | undefined;
  #failure: unknown;
  #loading: Promise<void> | undefined;

  constructor(store: LocalKvStore, staging: RestoreStaging, maxParallelism: number) {
    this.#store = store;
    this.#staging = staging;
    this.#maxParallelism = maxParallelism;
  }

  /** Chunks are left to restore, or a failed load left the state incomplete (checked on every store read of the backend's tables). */
  get pending(): boolean {
    return this.#staged.length > 0 || this.#cells !== undefined || this.#failure !== undefined;
  }

  /** Stages the (already checked) chunks of a newly registered state, by group index. */
  stage(
    table: RestorableTable,
    registered: RegisteredStateInfo,
    chunks: readonly (StagedChunk | undefined)[],
  ): void {
    this.#staged.push({ table, registered, chunks: chunks.slice(), next: 0 });
  }

  /** Restores everything staged, pausing while the store is backed up. Idempotent while running. */
  load(inFlightBytesMax: number): Promise<void> {
    this.#loading ??= this.#load(inFlightBytesMax).finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /** Restores everything staged at once; rethrows a failure of an earlier slice (the state is incomplete). */
  loadNow(): void {
    while (this.#step(Number.POSITIVE_INFINITY));
  }

  /** Forgets what is staged (the backend is being disposed). */
  clear(): void {
    this.#staged.length = 0;
    this.#cells = undefined;
  }

  async #load(inFlightBytesMax: number): Promise<void> {
    const store = this.#store;
    while (this.#step(CELLS_PER_SLICE)) {
      // Yield a turn even when not backed up, so lmdb's commits are seen and release their runs.
      if (store.isBackedUp(inFlightBytesMax)) await store.room(inFlightBytesMax);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Restores up to `cells` cells; true while more is left. */
  #step(cells: number): boolean {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      for (let done = 0; done < cells; ) {
        const current = this.#cells ?? this.#nextWork();
        if (current === undefined) return false;
        if (current.next().done === true) this.#cells = undefined;
        else done++;
      }
      return true;
    } catch (error) {
      this.#failure = error;
      this.#cells = undefined;
      this.#staged.length = 0;
      throw error;
    }
  }

  #nextWork(): Generator<undefined, void, undefined> | undefined {
    for (;;) {
      const state = this.#staged[0];
      if (state === undefined) return undefined;
      const { chunks } = state;
      while (state.next < chunks.length && chunks[state.next] === undefined) state.next++;
      if (state.next === chunks.length) {
        this.#staged.shift();
        continue;
      }
      const chunk = chunks[state.next]!;
      chunks[state.next++] = undefined;
      this.#cells = this.#restoreChunk(state, chunk);
      return this.#cells;
    }
  }

  /** The chunk's cells, one per step, its entries read from the store first and removed from it after. */
  *#restoreChunk(state: StagedState, staged: StagedChunk): Generator<undefined, void, undefined> {
    const chunk = this.#staging.load(staged);
    yield* restoreChunkCells(state.table, state.registered, chunk, this.#maxParallelism, 0);
    this.#staging.drop(staged);
  }
}
