/** Disk backend specifics the conformance suite cannot see: the store is really used, commits, views, directories and errors. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { DiskKeyedStateBackend } from '../../../src/state/backends/disk/index.ts';
import { assignToKeyGroup } from '../../../src/state/key-groups.ts';
import { readKeyedStateFile, writeKeyedStateFile } from '../../../src/state/snapshot/index.ts';
import { listState, mapState, valueState } from '../../../src/state/state-descriptors-factory.ts';

const MAX_PARALLELISM = 128;
const directory = mkdtempSync(join(tmpdir(), 'weir-disk-behaviour-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const create = (cacheEntriesMax: number, dir = directory): DiskKeyedStateBackend =>
  new DiskKeyedStateBackend({
    operatorId: 'op',
    keyGroupRange: { start: 0, end: MAX_PARALLELISM - 1 },
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
    directory: dir,
    cacheEntriesMax,
  });
const at = (backend: DiskKeyedStateBackend, key: unknown): void =>
  backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));

describe('disk backend: store behaviour', () => {
  it('keeps 100x more keys than cache slots exactly, through the store, before and after lmdb commits', async () => {
    const backend = create(100);
    const count = backend.getValueState(valueState<number>('count', { defaultValue: 0 }));
    const seen = backend.getListState(listState<string>('seen'));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10_000; i++) {
        at(backend, `k${i}`);
        count.update(count.value()! + 1);
        if (i % 100 === 0) seen.add(`r${round}`);
      }
      // Half the rounds read back while writes are still in flight, half after they committed.
      if (round === 1) await backend.settle();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const stats = backend.cacheStats();
    expect(stats.entries).toBeLessThanOrEqual(100);
    expect(stats.evictions).toBeGreaterThan(29_000); // every key, every round
    // Round 0 read every key before its first write: the key filter answered those, not lmdb.
    expect(backend.keyFilterStats()?.ruledOut).toBeGreaterThan(9_000);
    for (let i = 0; i < 10_000; i++) {
      at(backend, `k${i}`);
      expect(count.value()).toBe(3);
      expect(seen.get()).toEqual(i % 100 === 0 ? ['r0', 'r1', 'r2'] : []);
    }
    expect([...backend.keys('count')]).toHaveLength(10_000);
    expect(existsSync(backend.directory)).toBe(true);
    backend.dispose();
  });

  it('refuses a key filter size that is not an integer ≥ 0, naming the option', () => {
    for (const keyFilterBytes of [-1, 1.5, Number.NaN]) {
      expect(
        () =>
          new DiskKeyedStateBackend({
            operatorId: 'op',
            keyGroupRange: { start: 0, end: MAX_PARALLELISM - 1 },
            maxParallelism: MAX_PARALLELISM,
            clock: new ManualClock(0),
            directory,
            keyFilterBytes,
          }),
      ).toThrow(`keyFilterBytes must be an integer ≥ 0 (0: no filter), got ${keyFilterBytes}`);
    }
  });

  it('snapshots writes that lmdb has not committed yet, and nothing written after', () => {
    const backend = create(4);
    const map = backend.getMapState(mapState<string, number>('m'));
    for (let i = 0; i < 200; i++) {
      at(backend, i);
      map.put('a', i);
    }
    const snapshot = backend.snapshot();
    for (let i = 0; i < 200; i++) {
      at(backend, i);
      map.put('a', -1);
      map.put('b', -1);
    }
    const file = writeKeyedStateFile(snapshot, []);
    snapshot.release();
    const copy = create(4);
    copy.restore([readKeyedStateFile(file.bytes, 'snap')]);
    const restored = copy.getMapState(mapState<string, number>('m'));
    for (let i = 0; i < 200; i++) {
      at(copy, i);
      expect([...restored.entries()]).toEqual([['a', i]]);
    }
    backend.dispose();
    copy.dispose();
  });

  it('opens its store only on the first write and deletes its directory on dispose', async () => {
    const backend = create(1);
    const state = backend.getValueState(valueState<number>('v'));
    at(backend, 'a');
    expect(state.value()).toBeUndefined();
    expect(existsSync(backend.directory)).toBe(false);
    state.update(1);
    at(backend, 'b');
    state.update(2); // evicts 'a': the first write-back opens the store
    expect(existsSync(backend.directory)).toBe(true);
    backend.dispose();
    // Closing lmdb is asynchronous; the directory goes once it is closed.
    for (let i = 0; i < 100 && existsSync(backend.directory); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(existsSync(backend.directory)).toBe(false);
  });

  it('cleans expired entries of keys never seen again out of the store, leaving live ones', async () => {
    const clock = new ManualClock(0);
    const backend = new DiskKeyedStateBackend({
      operatorId: 'ttl',
      keyGroupRange: { start: 0, end: MAX_PARALLELISM - 1 },
      maxParallelism: MAX_PARALLELISM,
      clock,
      directory,
      cacheEntriesMax: 10,
    });
    const state = backend.getValueState(valueState<number>('v', { ttl: { ttlMs: 100 } }));
    const forever = backend.getValueState(valueState<number>('forever'));
    for (let i = 0; i < 2_000; i++) {
      at(backend, `old-${i}`);
      state.update(i);
      forever.update(i);
    }
    await backend.settle(); // the write-backs committed to lmdb
    clock.advance(1_000);
    // Only new keys from now on: the old ones are reached by the incremental cleanup alone.
    for (let i = 0; i < 3_000; i++) {
      at(backend, `new-${i % 50}`);
      state.update(i);
      // Write-backs reach lmdb in batches; the store's cleanup sees what lmdb holds.
      await (i % 500 === 0 ? backend.settle() : undefined);
    }
    // The store itself lost the expired entries (keys() and snapshots would filter them anyway).
    expect(backend.storedEntryCount('v')).toBeLessThanOrEqual(50);
    expect(backend.storedEntryCount('forever')).toBe(2_000);
    expect([...backend.keys('v')].every((key) => String(key).startsWith('new-'))).toBe(true);
    expect(backend.cacheStats().entries).toBeLessThanOrEqual(10);
    backend.dispose();
  });

  it('removes stores that a killed process left behind, and nothing else', () => {
    const parent = join(directory, 'sweep');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = join(parent, `${deadPid}-op-0-127-0123abcd`);
    const notAStore = join(parent, `${deadPid}-op-0-127-4567cdef`);
    const alive = join(parent, `${process.ppid}-op-0-127-89abcdef`);
    for (const path of [stale, notAStore, alive]) mkdirSync(path, { recursive: true });
    for (const path of [stale, alive]) writeFileSync(join(path, 'data.mdb'), '');
    const backend = create(1, parent);
    const state = backend.getValueState(valueState<number>('v'));
    at(backend, 'a');
    state.update(1);
    at(backend, 'b');
    state.update(2); // the first write-back opens the store, which sweeps its parent
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(notAStore)).toBe(true);
    expect(existsSync(alive)).toBe(true);
    backend.dispose();
  });

  it("keeps timers in its store by default, and leaves them to the timer services with timers: 'heap'", () => {
    const options = {
      operatorId: 'op',
      keyGroupRange: { start: 0, end: MAX_PARALLELISM - 1 },
      maxParallelism: MAX_PARALLELISM,
      clock: new ManualClock(0),
      directory,
    };
    const timer = {
      service: 't',
      domain: 'event',
      key: 'k',
      keyGroup: assignToKeyGroup('k', MAX_PARALLELISM),
      namespace: 0,
      timestampMs: 5,
    } as const;
    const inStore = new DiskKeyedStateBackend(options);
    const onHeap = new DiskKeyedStateBackend({ ...options, timers: 'heap' });
    const snapshot = inStore.snapshot();
    const file = readKeyedStateFile(writeKeyedStateFile(snapshot, [timer]).bytes, 'f');
    snapshot.release();
    expect(inStore.createTimerQueue('t', 'event')).toBeDefined();
    expect(onHeap.createTimerQueue('t', 'event')).toBeUndefined();
    const restoredInStore = new DiskKeyedStateBackend(options);
    expect(restoredInStore.restore([file])).toEqual([]);
    expect(restoredInStore.createTimerQueue('t', 'event')!.pop()).toMatchObject({ key: 'k', timestampMs: 5 });
    const restoredOnHeap = new DiskKeyedStateBackend({ ...options, timers: 'heap' });
    expect(restoredOnHeap.restore([file])).toEqual([timer]);
    expect(() => new DiskKeyedStateBackend({ ...options, timers: 'disk' as never })).toThrow(
      /timers must be 'store' or 'heap', got disk/,
    );
    for (const backend of [inStore, onHeap, restoredInStore, restoredOnHeap]) backend.dispose();
  });

  it('reports an unusable directory by path when it first writes', () => {
    const file = join(directory, 'not-a-directory');
    writeFileSync(file, 'x');
    const backend = create(1, file);
    const state = backend.getValueState(valueState<number>('v'));
    at(backend, 'a');
    state.update(1);
    at(backend, 'b');
    expect(() => state.update(2)).toThrow(/cannot open the local state store in .*not-a-directory/);
    expect(readdirSync(directory)).toContain('not-a-directory');
  });
});
