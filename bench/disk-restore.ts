/** Benchmark: restoring a disk backend's state loaded in slices (what a task does) vs all at once at registration (what it did before), from one run: entries/s and peak heap. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { DiskKeyedStateBackend } from '../src/state/backends/disk/index.ts';
import { HeapKeyedStateBackend } from '../src/state/backends/heap/index.ts';
import { assignToKeyGroup } from '../src/state/key-groups.ts';
import {
  type KeyedStateFileContents,
  keyedStatePartOf,
  readKeyedStateFile,
  writeKeyedStateFile,
} from '../src/state/snapshot/index.ts';
import { valueState } from '../src/state/state-descriptors-factory.ts';
import { type Benchmark, type BenchmarkReport, medianOfAlternating } from './harness.ts';

const KEYS_DEFAULT = 1_000_000;
const MAX_PARALLELISM = 128;
const RANGE = { start: 0, end: MAX_PARALLELISM - 1 };
/** Each way runs this many times, alternating; the median is reported. */
const ROUNDS = 3;

type Mode = 'sliced' | 'at once';

interface Measured {
  readonly ms: number;
  readonly heapPeakBytes: number;
  /** Peak of `process.memoryUsage().arrayBuffers` (write runs keep keys and values there). */
  readonly outsidePeakBytes: number;
}

/** A full snapshot of `keys` counters, read back as a restore would get it. */
function restoredState(keys: number): KeyedStateFileContents {
  const source = new HeapKeyedStateBackend({
    operatorId: 'counts',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
  });
  const count = source.getValueState(valueState<number>('count'));
  for (let i = 0; i < keys; i++) {
    const key = `user-${i}`;
    source.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
    count.update(i);
  }
  const snapshot = source.snapshot();
  const file = writeKeyedStateFile(snapshot);
  snapshot.release();
  source.dispose();
  return readKeyedStateFile(file.bytes, 'bench');
}

/** Restores `state` into a fresh disk backend until lmdb committed every entry. */
async function restore(state: KeyedStateFileContents, mode: Mode): Promise<Measured> {
  const directory = mkdtempSync(join(tmpdir(), 'weir-bench-restore-'));
  const backend = new DiskKeyedStateBackend({
    operatorId: 'counts',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
    directory,
  });
  let heapPeakBytes = 0;
  let outsidePeakBytes = 0;
  const sample = (): void => {
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    heapPeakBytes = Math.max(heapPeakBytes, heapUsed);
    outsidePeakBytes = Math.max(outsidePeakBytes, arrayBuffers);
  };
  const sampler = setInterval(sample, 20);
  try {
    const start = performance.now();
    await backend.restoreFrom([keyedStatePartOf(state)]);
    backend.getValueState(valueState<number>('count'));
    // The task's call after open; a store access first loads everything synchronously.
    if (mode === 'sliced') await backend.prefetch([], []);
    else backend.storedEntryCount('count');
    // A synchronous load blocks the sampler: sample where it ends, with every write still queued.
    sample();
    await backend.settle();
    return { ms: performance.now() - start, heapPeakBytes, outsidePeakBytes };
  } finally {
    clearInterval(sampler);
    backend.dispose();
    rmSync(directory, { recursive: true, force: true });
  }
}

export async function measureRestore(keys: number): Promise<BenchmarkReport> {
  const state = restoredState(keys);
  const { sliced, 'at once': atOnce } = await medianOfAlternating(['sliced', 'at once'], ROUNDS, (mode) =>
    restore(state, mode),
  );
  const row = (name: string, r: Measured): string =>
    `${name.padEnd(40)} ${(r.ms / 1000).toFixed(2).padStart(7)} s ${String(Math.round((keys / r.ms) * 1000)).padStart(9)} entries/s   heap peak ${(r.heapPeakBytes / 2 ** 20).toFixed(0).padStart(5)} MiB   outside the heap ${(r.outsidePeakBytes / 2 ** 20).toFixed(0).padStart(5)} MiB`;
  const ratio = `sliced/at once: speed ${(atOnce.ms / sliced.ms).toFixed(2)}×, heap peak ${(sliced.heapPeakBytes / atOnce.heapPeakBytes).toFixed(2)}×, outside the heap ${(sliced.outsidePeakBytes / atOnce.outsidePeakBytes).toFixed(2)}×`;
  return {
    lines: [
      `disk backend restore of ${keys} keys from a full snapshot, median of ${ROUNDS} each, until lmdb committed them`,
      row('in slices, between event-loop turns', sliced),
      row('at once, at registration (before)', atOnce),
      ratio,
    ],
    summary: [ratio],
  };
}

/** In the registry (`npm run bench`): "records" are keys; `--quick` takes a tenth. */
export const diskRestore: Benchmark = {
  name: 'disk-restore',
  title:
    'disk backend: restore loaded in slices vs all at once at registration (speed, peak heap and memory outside it)',
  recordsDefault: KEYS_DEFAULT,
  setup: () => [],
  report: (keys) => measureRestore(keys),
};

if (import.meta.main) {
  const report = await measureRestore(Number(process.env.WEIR_BENCH_RESTORE_KEYS ?? KEYS_DEFAULT));
  for (const line of report.lines) console.log(line);
}
