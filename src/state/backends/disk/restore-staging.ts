/** Restored chunks of states not registered yet wait in the disk backend's store, not in memory. */
import type { KeyedStateChunkInfo, RawKeyedStateChunk } from '../../snapshot/keyed-state-format.ts';
import type { LocalKvStore, StoreView } from './local-kv-store.ts';

/*
 * Store key: u16 BE 0 | u16 BE key group | u16 BE staged-state index (per state name, in
 * the order the restore met them). State id 0 belongs to no registered state (their ids
 * start at 1), so staged chunks never mix with entries, snapshots (which read registered
 * states' and timer queues' prefixes) never see them, and incremental checkpoints leave
 * them untracked. The value is the chunk's encoded entries, as the file had them.
 */

const STAGED_STATES_MAX = 0xffff;

/** A restored chunk whose entries are in the store. */
export interface StagedChunk extends KeyedStateChunkInfo {
  /** The store key of its entries, as a latin1 string (the form `StoreView.get` takes). */
  readonly storeId: string;
}

/** Whether `key` is a staged chunk's (not to be tracked as a change of state). */
export function isStagingKey(key: Uint8Array): boolean {
  return key[0] === 0 && key[1] === 0;
}

/**
 * Writes restored chunks into the store as they are read and gives them back when their
 * state registers, so a restore holds about one section in memory, not the whole state.
 *
 * @example
 * ```ts
 * const staged = staging.stage(chunk);   // at restore: the bytes go to the store
 * const loaded = staging.load(staged);   // at registration: a copy, decoded into the table
 * staging.drop(staged);
 * ```
 */
export class RestoreStaging {
  readonly #store: LocalKvStore;
  readonly #indexes = new Map<string, number>();

  constructor(store: LocalKvStore) {
    this.#store = store;
  }

  stage(chunk: RawKeyedStateChunk): StagedChunk {
    const { meta, keyGroup, entryCount, path } = chunk;
    let index = this.#indexes.get(meta.name);
    if (index === undefined) {
      index = this.#indexes.size;
      if (index >= STAGED_STATES_MAX) {
        throw new RangeError(`more than ${STAGED_STATES_MAX} keyed states restored into one operator`);
      }
      this.#indexes.set(meta.name, index);
    }
    const key = Buffer.of(0, 0, keyGroup >>> 8, keyGroup & 0xff, index >>> 8, index & 0xff);
    this.#store.put(key, chunk.bytes);
    return { meta, keyGroup, entryCount, path, storeId: key.toString('latin1') };
  }

  /** The chunk with its entries, copied out of the store (a store read is only valid until the next). */
  load(chunk: StagedChunk): RawKeyedStateChunk {
    const bytes = this.#store.get(Buffer.from(chunk.storeId, 'latin1'));
    if (bytes === undefined) throw missing(chunk);
    // Not `new Uint8Array(bytes)`: lmdb's fast read is a shared buffer whose `length` property
    // is set to the value's size, larger underneath, and the constructor copies all of it.
    return { ...infoOf(chunk), bytes: Uint8Array.prototype.slice.call(bytes, 0, bytes.length) };
  }

  /** Removes the chunk's entries once its table holds them. */
  drop(chunk: StagedChunk): void {
    this.#store.remove(Buffer.from(chunk.storeId, 'latin1'));
  }
}

/** The chunk with its entries as of `view` (a snapshot writing a state not registered yet through). */
export function stagedChunkIn(view: StoreView, chunk: StagedChunk): RawKeyedStateChunk {
  const bytes = view.get(chunk.storeId);
  if (bytes === undefined) throw missing(chunk);
  return { ...infoOf(chunk), bytes };
}

function infoOf(chunk: StagedChunk): KeyedStateChunkInfo {
  const { meta, keyGroup, entryCount, path } = chunk;
  return { meta, keyGroup, entryCount, path };
}

function missing(chunk: StagedChunk): Error {
  return new Error(
    `the restored entries of state '${chunk.meta.name}' in key group ${chunk.keyGroup} (from ${chunk.path}) are missing from the store (a bug)`,
  );
}
