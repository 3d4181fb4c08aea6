/**
 * The disk backend writes a registered state's restored entries into its store after
 * registration, in slices between event-loop turns (so a restore's heap stays bounded:
 * see DeferredRestore). These tests pin what must hold while that load is under way: it
 * really is sliced, anything that touches the store first finishes it, a write made
 * meanwhile is never overwritten by a restored value, undecodable entries are reported, and
 * a snapshot holds everything restored. And once loaded, a restored job keeps nothing of the
 * files it restored from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { StateFileHandle } from '../../../src/checkpoint/snapshot-handles.ts';
import type { ByteRange } from '../../../src/checkpoint/storage/checkpoint-file-system.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { FileSystemCheckpointStorage, StreamExecutionEnvironment } from '../../../src/index.ts';
import { DiskKeyedStateBackend, diskStateBackend } from '../../../src/state/backends/disk/index.ts';
import { HeapKeyedStateBackend } from '../../../src/state/backends/heap/index.ts';
import { assignToKeyGroup } from '../../../src/state/key-groups.ts';
import type { KeyedStateBackend } from '../../../src/state/keyed-state-backend.ts';
import type { TypeSerializer } from '../../../src/state/serializers/type-serializer.ts';
import {
  CorruptSnapshotError,
  type KeyedStateFileContents,
  readKeyedStateFile,
  writeKeyedStateFile,
} from '../../../src/state/snapshot/index.ts';
import { valueState } from '../../../src/state/state-descriptors-factory.ts';
import { CapturingLogger } from '../../it/fault-tolerance/support.ts';
import { type FailureSwitch, keyedSumJob } from './fixtures/keyed-sum-job.ts';
import { until } from './fixtures/until.ts';

const MAX_PARALLELISM = 128;
const RANGE = { start: 0, end: MAX_PARALLELISM - 1 };
const KEYS = 5_000;
const PATH = 'chk-3/op-0.keyed';
const directory = mkdtempSync(join(tmpdir(), 'weir-deferred-restore-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const at = (backend: KeyedStateBackend, key: string): void =>
  backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));

/** A checkpoint file in which key `k<i>` counts i. */
function restoredFile(): KeyedStateFileContents {
  const source = new HeapKeyedStateBackend({
    operatorId: 'op',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
  });
  const count = source.getValueState(valueState<number>('count'));
  for (let i = 0; i < KEYS; i++) {
    at(source, `k${i}`);
    count.update(i);
  }
  const snapshot = source.snapshot();
  const file = writeKeyedStateFile(snapshot);
  snapshot.release();
  return readKeyedStateFile(file.bytes, PATH);
}

/** A disk backend holding `restoredFile()`, its state not registered yet. */
function restoredDiskBackend(cacheEntriesMax = 2): DiskKeyedStateBackend {
  const backend = new DiskKeyedStateBackend({
    operatorId: 'op',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
    directory,
    cacheEntriesMax,
    inFlightBytesMax: 16 * 1024,
  });
  backend.restore([restoredFile()]);
  return backend;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('disk backend: restored state loaded after registration', () => {
  it('is written into the store over many event-loop turns, then reads back exactly', async () => {
    const backend = restoredDiskBackend();
    const count = backend.getValueState(valueState<number>('count'));
    let turns = 0;
    let loaded = false;
    const ticking = (async () => {
      while (!loaded) {
        turns++;
        await nextTurn();
      }
    })();
    const loading = backend.prefetch([], []);
    expect(loading).toBeInstanceOf(Promise);
    await loading;
    loaded = true;
    await ticking;
    // 5,000 cells in slices of 1,024 (at least 4 turns between them, more while lmdb catches
    // up with the 16 KiB bound); loaded in one go, the ticker would see 1 turn.
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(backend.storedEntryCount('count')).toBe(KEYS);
    for (let i = 0; i < KEYS; i++) {
      at(backend, `k${i}`);
      expect(count.value()).toBe(i);
    }
    backend.dispose();
  });

  it('finishes loading before a state read that comes first', async () => {
    const backend = restoredDiskBackend();
    const count = backend.getValueState(valueState<number>('count'));
    const loading = backend.prefetch([], []);
    for (let i = KEYS - 1; i >= 0; i--) {
      at(backend, `k${i}`);
      expect(count.value()).toBe(i);
    }
    await loading;
    backend.dispose();
  });

  it('never lets a restored value overwrite a write made while loading', async () => {
    const backend = restoredDiskBackend();
    const count = backend.getValueState(valueState<number>('count'));
    const loading = backend.prefetch([], []);
    // Blind writes through a two-slot cache: each is evicted into the store at once, where a
    // restored value written after it would win.
    for (let i = 0; i < KEYS; i++) {
      at(backend, `k${i}`);
      count.update(-i);
    }
    await loading;
    await backend.settle();
    for (let i = 0; i < KEYS; i++) {
      at(backend, `k${i}`);
      expect(count.value()).toBe(-i);
    }
    backend.dispose();
  });

  it('snapshots every restored entry while loading', async () => {
    const backend = restoredDiskBackend();
    backend.getValueState(valueState<number>('count'));
    const loading = backend.prefetch([], []);
    const snapshot = backend.snapshot();
    const file = writeKeyedStateFile(snapshot);
    snapshot.release();
    await loading;
    const heap = new HeapKeyedStateBackend({
      operatorId: 'op',
      keyGroupRange: RANGE,
      maxParallelism: MAX_PARALLELISM,
      clock: new ManualClock(0),
    });
    heap.restore([readKeyedStateFile(file.bytes, 'copy')]);
    const count = heap.getValueState(valueState<number>('count'));
    for (let i = 0; i < KEYS; i++) {
      at(heap, `k${i}`);
      expect(count.value()).toBe(i);
    }
    backend.dispose();
  });

  it('reports entries the registered serializer cannot decode when it loads them, and after', async () => {
    const liar: TypeSerializer<unknown> = {
      id: 'liar',
      version: 1,
      serialize: () => {},
      deserialize: (input) => input.readString('a string that is not there'),
      canRead: () => true,
    };
    const backend = restoredDiskBackend();
    const count = backend.getValueState(valueState('count', { serializer: liar }));
    const loading = backend.prefetch([], []);
    await expect(loading).rejects.toThrow(CorruptSnapshotError);
    await expect(loading).rejects.toThrow(
      new RegExp(`${PATH}.*state 'count' in key group \\d+ could not be read with serializer liar v1`),
    );
    // The state is incomplete: every later store access fails the same way.
    at(backend, 'k1');
    expect(() => count.value()).toThrow(CorruptSnapshotError);
    expect(() => backend.snapshot()).toThrow(CorruptSnapshotError);
    backend.dispose();
  });
});

/**
 * Checkpoint storage that remembers (weakly) the memory of every file it read: the buffer,
 * which views of it (restored chunks) keep alive, not the view it returned. Only buffers
 * the file has to itself (small reads may share a pooled one).
 */
class WatchedStorage extends FileSystemCheckpointStorage {
  readonly reads: WeakRef<ArrayBufferLike>[] = [];
  streamedChunks = 0;

  override async *readFileChunks(
    pointer: string,
    handle: StateFileHandle,
    range?: ByteRange,
  ): AsyncGenerator<Uint8Array> {
    for await (const chunk of super.readFileChunks(pointer, handle, range)) {
      this.reads.push(new WeakRef(chunk.buffer));
      this.streamedChunks++;
      yield chunk;
    }
  }

  override async readFile(pointer: string, handle: StateFileHandle): Promise<Uint8Array> {
    const bytes = await super.readFile(pointer, handle);
    if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength) {
      this.reads.push(new WeakRef(bytes.buffer));
    }
    return bytes;
  }
}

/** Holds every keyed state stream before its first chunk while the gate is closed. */
class GatedStorage extends FileSystemCheckpointStorage {
  #gate: PromiseWithResolvers<void> | undefined;
  waiting = 0;

  closeGate(): void {
    this.#gate = Promise.withResolvers();
  }

  openGate(): void {
    this.#gate?.resolve();
    this.#gate = undefined;
  }

  override async *readFileChunks(
    pointer: string,
    handle: StateFileHandle,
    range?: ByteRange,
  ): AsyncGenerator<Uint8Array> {
    const gate = this.#gate;
    if (gate !== undefined) {
      this.waiting++;
      await gate.promise;
    }
    yield* super.readFileChunks(pointer, handle, range);
  }
}

/**
 * A keyed sum on the disk backend (two keyed subtasks, full checkpoints into `storage`, one
 * restart allowed) that has processed 3,000 records and taken a checkpoint: set
 * `failures.failNext` to make it fail over onto that checkpoint.
 */
async function checkpointedJob(storage: FileSystemCheckpointStorage, root: string, name: string) {
  const failures: FailureSwitch = { failNext: false, processed: 0 };
  const logger = new CapturingLogger();
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    maxParallelism: 16,
    stateBackend: diskStateBackend({ directory: join(root, 'state'), incremental: false }),
    checkpointing: { intervalMs: 1e9 },
    checkpointStorage: storage,
    restartStrategy: { kind: 'fixed-delay', attempts: 1, delayMs: 0 },
    logger,
  });
  keyedSumJob(env, { count: 1_000_000, ratePerSecond: 20_000, keys: 2_000 }, failures);
  const client = env.executeAsync(name);
  await until(() => failures.processed > 3_000, 'records flow');
  await client.triggerCheckpoint();
  return { client, failures, logger };
}

describe('a restored job', () => {
  it('keeps none of the files it restored from once its state is loaded, and says when it is', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const root = mkdtempSync(join(directory, 'released-'));
    // The failover restores through the job's own storage, so every chunk streamed from a
    // keyed state file is seen; each is a view of the buffer its file is read into. Full
    // snapshots, so those files are the ones restored from (an incremental chain's are folded
    // into copies the references below would not see).
    const storage = new WatchedStorage(join(root, 'checkpoints'));
    const { client, failures, logger } = await checkpointedJob(storage, root, 'restored files');
    failures.failNext = true;
    await until(() => storage.streamedChunks > 0, 'the failover restores');
    const restoredAt = failures.processed;
    await until(() => failures.processed > restoredAt + 2_000, 'records flow after the restore');
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    const kept = storage.reads.filter((ref) => ref.deref() !== undefined).length;
    await client.cancel();
    expect(kept).toBe(0);
    // Both subtasks of the keyed operator say when their state is loaded; the others restore nothing into a store.
    const loaded = logger.text().match(/restored keyed state of '[^']+' loaded in \d+\.\d s/g);
    expect(loaded).toHaveLength(2);
    expect(new Set(loaded?.map((line) => line.split("'")[1]))).toEqual(new Set(['KeyedProcess']));
  });

  it('cancelled while a failover restores, stops the restore at its next section', async () => {
    const root = mkdtempSync(join(directory, 'cancelled-'));
    const storage = new GatedStorage(join(root, 'checkpoints'));
    const { client, failures, logger } = await checkpointedJob(storage, root, 'cancelled restore');
    storage.closeGate();
    failures.failNext = true;
    await until(() => storage.waiting === 2, 'both keyed subtasks of the failover wait for their file');
    // Cancels the tasks synchronously, before their restores read anything.
    const cancelled = client.cancel();
    storage.openGate();
    await cancelled;
    // The first attempt loaded nothing (no restore); the cancelled failover never got to load.
    expect(logger.text()).not.toMatch(/restored keyed state of '[^']+' loaded/);
    expect(logger.text()).toMatch(/was cancelled while restoring its keyed state|restoring from checkpoint/);
  });
});
