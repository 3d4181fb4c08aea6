/**
 * Incremental checkpoints of the disk backend at the backend level: the upload ratio with
 * 200,000 keys and 1 % updated (deterministic: bytes, not time), and exact restore from a
 * long chain of deltas (folded by materializeKeyedChangelog) into the disk and heap backends.
 *
 * Why 200,000 keys and not the 1,000,000 of the issue: the ratio is bytes of the delta over
 * bytes of a full snapshot, both linear in keys (about 18 B per key in a full snapshot, about
 * 21 B per updated key in a delta) plus a fixed cost per key group that only the delta feels.
 * Measured (this test's code, the same 1 % and the same keys): 10 k keys 0.0384, 50 k 0.0197,
 * 100 k 0.0158, 200 k 0.0137, 1 M 0.0121. The ratio falls as keys grow, so meeting the same
 * 5 % bound at 200 k proves the mechanism (only changed entries go up) with less margin than
 * at 1 M, not more; 1 M took about 40 s of a 2-core CI run for the same claim, 200 k about 6 s.
 * The 1 M figure itself is bench/disk-incremental-checkpoint.ts's (npm run bench).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/core/binary.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { DiskKeyedStateBackend } from '../../../src/state/backends/disk/index.ts';
import { HeapKeyedStateBackend } from '../../../src/state/backends/heap/heap-keyed-state-backend.ts';
import { assignToKeyGroup } from '../../../src/state/key-groups.ts';
import type { KeyedStateBackend } from '../../../src/state/keyed-state-backend.ts';
import {
  type IncrementalKeyedStateSnapshot,
  type KeyedChangelogFile,
  materializeKeyedChangelog,
  readKeyedChangelog,
  writeKeyedChangelogInParts,
  writeKeyedChangelogInSlices,
} from '../../../src/state/snapshot/keyed-changelog-format.ts';
import { decodeAllTimers, writeKeyedStateFile } from '../../../src/state/snapshot/keyed-state-format.ts';
import type { TimerSnapshotEntry } from '../../../src/state/snapshot/timer-snapshot.ts';
import { valueState } from '../../../src/state/state-descriptors-factory.ts';

const directory = mkdtempSync(join(tmpdir(), 'weir-disk-incremental-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const MAX_PARALLELISM = 128;
const RANGE = { start: 0, end: MAX_PARALLELISM - 1 };
const noYield = (): Promise<void> => Promise.resolve();

function diskBackend(
  options: { chainDeltasMax?: number; cacheEntriesMax?: number; timers?: 'store' | 'heap' } = {},
): DiskKeyedStateBackend {
  return new DiskKeyedStateBackend({
    operatorId: 'counts',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
    directory,
    cacheEntriesMax: 50_000,
    ...options,
  });
}

function put(backend: KeyedStateBackend, key: string, value: number): void {
  backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
  backend.getValueState(valueState<number>('count')).update(value);
}

function heapBackend(): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend({
    operatorId: 'counts',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
  });
}

/**
 * Writes an incremental snapshot as the task would, confirms it, and returns the file;
 * `whileInFlight` runs after the snapshot's synchronous part, before its file is written.
 */
async function checkpoint(
  backend: DiskKeyedStateBackend,
  id: number,
  files: Map<string, Uint8Array>,
  whileInFlight?: () => void,
) {
  const snapshot = backend.snapshotIncremental(id) as IncrementalKeyedStateSnapshot;
  whileInFlight?.();
  let bytes: Uint8Array;
  try {
    bytes = await writeKeyedChangelogInSlices(snapshot, [], { keyGroupsPerSlice: 128, yieldToLoop: noYield });
  } finally {
    snapshot.release();
  }
  const relativePath = `../shared/chk-${id}`;
  files.set(relativePath, bytes);
  snapshot.written({ relativePath, sizeBytes: bytes.length, crc32c: 0 });
  backend.notifyCheckpointComplete(id);
  return {
    isBase: snapshot.isBase,
    bytes,
    chain: [...snapshot.reusedFiles.map((f) => f.relativePath), relativePath],
  };
}

function chainOf(paths: readonly string[], files: Map<string, Uint8Array>): KeyedChangelogFile[] {
  return paths.map((path) => readKeyedChangelog(files.get(path)!, path));
}

/** A timer as a comparable string: service, domain, key, namespace, timestamp. */
function timerId(timer: Omit<TimerSnapshotEntry, 'keyGroup'>): string {
  return JSON.stringify([timer.service, timer.domain, timer.key, timer.namespace, timer.timestampMs]);
}

/** The timers a chain restores (folded, then decoded), as sorted ids. */
function restoredTimerIds(paths: readonly string[], files: Map<string, Uint8Array>): string[] {
  const folded = materializeKeyedChangelog(chainOf(paths, files), RANGE);
  return decodeAllTimers(folded.sections.map((section) => section.timers))
    .map(timerId)
    .sort();
}

describe('incremental checkpoints of the disk backend', () => {
  it('with 200,000 keys and 1 % updated, the second checkpoint uploads at most 5 % of a full one', {
    timeout: 120_000,
  }, async () => {
    const backend = diskBackend();
    try {
      const keys = 200_000;
      for (let i = 0; i < keys; i++) put(backend, `key-${i}`, i);
      const files = new Map<string, Uint8Array>();
      const first = await checkpoint(backend, 1, files);
      expect(first.isBase).toBe(true);
      // 1 %: every 100th key, spread over all key groups.
      for (let i = 0; i < keys; i += 100) put(backend, `key-${i}`, -i);
      const second = await checkpoint(backend, 2, files);
      expect(second.isBase).toBe(false);
      const full = backend.snapshot();
      const fullBytes = writeKeyedStateFile(full).bytes.length;
      full.release();
      const ratio = second.bytes.length / fullBytes;
      console.log(
        `full ${fullBytes} B, base ${first.bytes.length} B, incremental ${second.bytes.length} B: ratio ${ratio.toFixed(4)}`,
      );
      expect(ratio).toBeLessThanOrEqual(0.05);
      // Folded, the chain is the full state: same entries as the canonical snapshot.
      const folded = materializeKeyedChangelog(chainOf(second.chain, files), RANGE);
      const heap = heapBackend();
      heap.restore([folded]);
      const count = heap.getValueState(valueState<number>('count'));
      for (const i of [0, 1, 99, 100, 12_345, 100_000, keys - 1]) {
        heap.setCurrentKey(`key-${i}`, assignToKeyGroup(`key-${i}`, MAX_PARALLELISM));
        expect(count.value()).toBe(i % 100 === 0 ? -i : i);
      }
      expect([...heap.keys('count')].length).toBe(keys);
    } finally {
      backend.dispose();
    }
  });

  it('restores exactly after many subsumed checkpoints, deletes included, into both backends', async () => {
    const backend = diskBackend({ chainDeltasMax: 5 });
    const expected = new Map<string, number>();
    const files = new Map<string, Uint8Array>();
    let chain: string[] = [];
    let bases = 0;
    try {
      for (let id = 1; id <= 23; id++) {
        for (let j = 0; j < 200; j++) {
          const key = `k${(id * 7919 + j * 104_729) % 1_500}`;
          if ((id + j) % 9 === 0) {
            backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
            backend.getValueState(valueState<number>('count')).clear();
            expected.delete(key);
          } else {
            put(backend, key, id * 1_000 + j);
            expected.set(key, id * 1_000 + j);
          }
        }
        // Every third checkpoint is aborted: its changes must reach the next delta.
        if (id % 3 === 0) {
          const aborted = backend.snapshotIncremental(id)!;
          aborted.release();
          continue;
        }
        const taken = await checkpoint(backend, id, files);
        if (taken.isBase) bases++;
        chain = taken.chain;
      }
    } finally {
      backend.dispose();
    }
    // A new base at most every 6 checkpoints bounds the chain.
    expect(bases).toBeGreaterThan(1);
    expect(chain.length).toBeLessThanOrEqual(6);
    for (const target of ['heap', 'disk'] as const) {
      const restored: KeyedStateBackend = target === 'heap' ? heapBackend() : diskBackend();
      try {
        // Rescaled too: two halves restored separately cover every key once.
        restored.restore([materializeKeyedChangelog(chainOf(chain, files), RANGE)]);
        const count = restored.getValueState(valueState<number>('count'));
        const actual = new Map<string, number>();
        for (const key of restored.keys('count')) {
          restored.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
          actual.set(key as string, count.value()!);
        }
        expect(actual, target).toEqual(expected);
      } finally {
        restored.dispose();
      }
    }
    const half = materializeKeyedChangelog(chainOf(chain, files), { start: 0, end: 63 });
    expect(half.sections.every((section) => section.keyGroup <= 63)).toBe(true);
  });

  it('a delta carries the writes made while the checkpoint before it was in flight', async () => {
    // Writes before the first snapshot are not tracked (that snapshot is a base); writes after
    // its view but before it completes must still reach the next delta. One cache slot, so
    // each put evicts the other key and its write reaches the store while checkpoint 1 is
    // still in flight (a larger cache would hold both until checkpoint 2's write-back).
    const backend = diskBackend({ cacheEntriesMax: 1 });
    const files = new Map<string, Uint8Array>();
    try {
      put(backend, 'early', 1);
      const first = await checkpoint(backend, 1, files, () => {
        put(backend, 'during', 2);
        put(backend, 'early', 3);
      });
      const second = await checkpoint(backend, 2, files);
      expect(first.isBase).toBe(true);
      expect(second.isBase).toBe(false);
      expect(second.chain).toEqual(['../shared/chk-1', '../shared/chk-2']);
      const heap = heapBackend();
      heap.restore([materializeKeyedChangelog(chainOf(second.chain, files), RANGE)]);
      const count = heap.getValueState(valueState<number>('count'));
      const restored = new Map<string, number | undefined>();
      for (const key of ['early', 'during']) {
        heap.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
        restored.set(key, count.value());
      }
      expect(restored).toEqual(
        new Map([
          ['early', 3],
          ['during', 2],
        ]),
      );
    } finally {
      backend.dispose();
    }
  });

  it('a base and a delta written in parts are byte for byte the files written whole', async () => {
    const backend = diskBackend();
    try {
      for (let i = 0; i < 2_000; i++) put(backend, `key-${i}`, i);
      for (const id of [1, 2]) {
        const snapshot = backend.snapshotIncremental(id) as IncrementalKeyedStateSnapshot;
        const parts: Uint8Array[] = [];
        try {
          const whole = await writeKeyedChangelogInSlices(snapshot, [], { yieldToLoop: noYield });
          const { sizeBytes, keyGroupOffsets } = await writeKeyedChangelogInParts(
            { write: async (part) => void parts.push(part.slice()) },
            snapshot,
            [],
            { partBytes: 1_000, yieldToLoop: noYield },
          );
          expect(new Uint8Array(Buffer.concat(parts))).toEqual(whole);
          expect(sizeBytes).toBe(whole.length);
          // Each offset is where its key group's section starts; the last where the trailer does.
          expect(keyGroupOffsets).toHaveLength(MAX_PARALLELISM + 1);
          expect(keyGroupOffsets[keyGroupOffsets.length - 1]).toBe(whole.length - 4);
          const file = readKeyedChangelog(whole, 'whole');
          for (const [i, offset] of keyGroupOffsets.slice(0, -1).entries()) {
            expect(whole[offset], `section ${i}`).toBe(file.sections[i].keyGroup);
          }
          expect(parts.length).toBeGreaterThan(id === 1 ? 10 : 1);
          snapshot.written({ relativePath: `../shared/chk-${id}`, sizeBytes, crc32c: 0 });
        } finally {
          snapshot.release();
        }
        backend.notifyCheckpointComplete(id);
        expect(snapshot.isBase).toBe(id === 1);
        for (let i = 0; i < 100; i++) put(backend, `key-${i}`, -i);
      }
    } finally {
      backend.dispose();
    }
  });

  it('reports a damaged file of the chain by path', async () => {
    const backend = diskBackend();
    const files = new Map<string, Uint8Array>();
    try {
      put(backend, 'a', 1);
      await checkpoint(backend, 1, files);
      put(backend, 'b', 2);
      const second = await checkpoint(backend, 2, files);
      const bytes = files.get(second.chain[1])!;
      bytes[bytes.length - 10] ^= 0xff;
      expect(() => chainOf(second.chain, files)).toThrow(/\.\.\/shared\/chk-2/);
      expect(() => materializeKeyedChangelog(chainOf(second.chain.slice(1, 1), files), RANGE)).toThrow();
    } finally {
      backend.dispose();
    }
  });

  it('timers in the store go into a delta as changes: 1 % of 20,000 timers changed uploads under 5 %', async () => {
    const backend = diskBackend();
    const files = new Map<string, Uint8Array>();
    const expected = new Set<string>();
    const queue = backend.createTimerQueue('windows', 'event')!;
    const add = (i: number, timestampMs: number): void => {
      const key = `key-${i}`;
      queue.add(key, assignToKeyGroup(key, MAX_PARALLELISM), 'w', timestampMs);
      expected.add(timerId({ service: 'windows', domain: 'event', key, namespace: 'w', timestampMs }));
    };
    try {
      for (let i = 0; i < 20_000; i++) add(i, 60_000);
      const first = await checkpoint(backend, 1, files);
      // 1 %: every 100th key's window fires and the next one is registered.
      for (let i = 0; i < 20_000; i += 100) {
        const key = `key-${i}`;
        queue.remove(key, assignToKeyGroup(key, MAX_PARALLELISM), 'w', 60_000);
        expected.delete(
          timerId({ service: 'windows', domain: 'event', key, namespace: 'w', timestampMs: 60_000 }),
        );
        add(i, 120_000);
      }
      const second = await checkpoint(backend, 2, files);
      expect([first.isBase, second.isBase]).toEqual([true, false]);
      expect(chainOf(second.chain, files).map((file) => file.timerDeltas)).toEqual([false, true]);
      const ratio = second.bytes.length / first.bytes.length;
      console.log(
        `timers: base ${first.bytes.length} B, delta ${second.bytes.length} B: ratio ${ratio.toFixed(4)}`,
      );
      expect(ratio).toBeLessThanOrEqual(0.05);
      expect(restoredTimerIds(second.chain, files)).toEqual([...expected].sort());
      // Restored into either backend, the queue holds exactly those timers.
      const heap = heapBackend();
      const heapTimers = heap.restore([materializeKeyedChangelog(chainOf(second.chain, files), RANGE)]);
      expect(heapTimers.map(timerId).sort()).toEqual([...expected].sort());
      heap.dispose();
      const disk = diskBackend();
      try {
        disk.restore([materializeKeyedChangelog(chainOf(second.chain, files), RANGE)]);
        const restored = disk.createTimerQueue('windows', 'event')!;
        const popped: string[] = [];
        for (let timer = restored.pop(); timer !== undefined; timer = restored.pop()) {
          popped.push(timerId({ service: 'windows', domain: 'event', ...timer }));
        }
        expect(popped.sort()).toEqual([...expected].sort());
      } finally {
        disk.dispose();
      }
    } finally {
      backend.dispose();
    }
  });

  it('timers on the heap are written in full in every file', async () => {
    const backend = diskBackend({ timers: 'heap' });
    const files = new Map<string, Uint8Array>();
    try {
      put(backend, 'a', 1);
      await checkpoint(backend, 1, files);
      put(backend, 'b', 2);
      const snapshot = backend.snapshotIncremental(2) as IncrementalKeyedStateSnapshot;
      const timer = {
        service: 's',
        domain: 'event',
        key: 'b',
        keyGroup: assignToKeyGroup('b', MAX_PARALLELISM),
        namespace: 0,
        timestampMs: 5,
      } as const;
      const bytes = await writeKeyedChangelogInSlices(snapshot, [timer], { yieldToLoop: noYield });
      snapshot.release();
      const file = readKeyedChangelog(bytes, 'chk-2');
      expect([file.isBase, file.timerDeltas]).toEqual([false, false]);
    } finally {
      backend.dispose();
    }
  });

  it('reads version 1 files, which cannot hold timer deltas', async () => {
    const backend = diskBackend();
    const files = new Map<string, Uint8Array>();
    try {
      put(backend, 'a', 1);
      const { bytes } = await checkpoint(backend, 1, files);
      // The same file as version 1 wrote it: version field, then the header and trailer checksums.
      const asVersion = (flags: number): Uint8Array => {
        const file = bytes.slice();
        const view = new DataView(file.buffer);
        view.setUint16(8, 1, true);
        file[22] = flags;
        view.setUint32(23, crc32c(file, 0, 23), true);
        view.setUint32(file.length - 4, crc32c(file, 0, file.length - 4), true);
        return file;
      };
      const file = readKeyedChangelog(asVersion(1), 'v1');
      expect([file.isBase, file.timerDeltas, file.sections.length]).toEqual([true, false, 128]);
      expect(() => readKeyedChangelog(asVersion(2), 'v1-deltas')).toThrow(
        /v1-deltas.*unknown header flags 2 in a version 1 file/,
      );
    } finally {
      backend.dispose();
    }
  });

  it('a chain of timer deltas folds to the timers in the store, over random adds, removes, fires and aborted checkpoints', async () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        key: fc.integer({ min: 0, max: 40 }),
        at: fc.integer({ min: 0, max: 5 }),
      }),
      fc.record({
        kind: fc.constant('remove' as const),
        key: fc.integer({ min: 0, max: 40 }),
        at: fc.integer({ min: 0, max: 5 }),
      }),
      fc.record({ kind: fc.constant('fire' as const) }),
      fc.record({ kind: fc.constant('checkpoint' as const), aborted: fc.boolean() }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 80 }),
        fc.integer({ min: 0, max: 4 }),
        async (ops, chainDeltasMax) => {
          const backend = diskBackend({ chainDeltasMax, cacheEntriesMax: 4 });
          const files = new Map<string, Uint8Array>();
          const model = new Map<string, { key: string; timestampMs: number }>();
          const queue = backend.createTimerQueue('s', 'processing')!;
          let id = 0;
          try {
            for (const step of [...ops, { kind: 'checkpoint' as const, aborted: false }]) {
              if (step.kind === 'add' || step.kind === 'remove') {
                const key = `k${step.key}`;
                const keyGroup = assignToKeyGroup(key, MAX_PARALLELISM);
                if (step.kind === 'add') queue.add(key, keyGroup, 0, step.at);
                else queue.remove(key, keyGroup, 0, step.at);
                const id = timerId({
                  service: 's',
                  domain: 'processing',
                  key,
                  namespace: 0,
                  timestampMs: step.at,
                });
                if (step.kind === 'add') model.set(id, { key, timestampMs: step.at });
                else model.delete(id);
              } else if (step.kind === 'fire') {
                const timer = queue.pop();
                if (timer !== undefined)
                  model.delete(timerId({ service: 's', domain: 'processing', ...timer }));
              } else if (step.aborted) {
                backend.snapshotIncremental(++id)!.release();
              } else {
                const taken = await checkpoint(backend, ++id, files);
                expect(restoredTimerIds(taken.chain, files)).toEqual([...model.keys()].sort());
              }
            }
          } finally {
            backend.dispose();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
