/** Benchmark: a full checkpoint of a disk backend written in parts (what a task does) vs serialized whole and then written (what it did before), from one run: duration and memory outside the heap. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSystemCheckpointStorage } from '../src/checkpoint/storage/file-system-checkpoint-storage.ts';
import { stateFileName } from '../src/checkpoint/storage/state-file-names.ts';
import { ManualClock } from '../src/core/clock.ts';
import { DiskKeyedStateBackend } from '../src/state/backends/disk/index.ts';
import { assignToKeyGroup } from '../src/state/key-groups.ts';
import { writeKeyedStateFileInParts, writeKeyedStateFileInSlices } from '../src/state/snapshot/index.ts';
import { valueState } from '../src/state/state-descriptors-factory.ts';
import { type Benchmark, type BenchmarkReport, collectGarbage, medianOfAlternating } from './harness.ts';

const KEYS_DEFAULT = 200_000;
const VALUE_BYTES = 1_024;
const MAX_PARALLELISM = 128;
const RANGE = { start: 0, end: MAX_PARALLELISM - 1 };
/** Each way runs this many times, alternating; the median is reported. */
const ROUNDS = 3;

type Mode = 'in parts' | 'whole';

interface Measured {
  readonly ms: number;
  readonly sizeBytes: number;
  /** Peak of `process.memoryUsage().arrayBuffers` during the write, above where it started. */
  readonly arrayBuffersPeakBytes: number;
}

async function checkpointOnce(
  backend: DiskKeyedStateBackend,
  storage: FileSystemCheckpointStorage,
  checkpointId: number,
  mode: Mode,
): Promise<Measured> {
  const location = await storage.createCheckpointLocation('bench', checkpointId);
  const name = stateFileName('values', 0, 'keyed');
  // Garbage from before would otherwise be collected during the write and hide what it holds.
  collectGarbage();
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  };
  const sampler = setInterval(sample, 5);
  const start = performance.now();
  const snapshot = backend.snapshot();
  try {
    let sizeBytes: number;
    if (mode === 'in parts') {
      const file = await location.openFile(name);
      ({ sizeBytes } = await writeKeyedStateFileInParts(
        {
          write: (part) => {
            sample();
            return file.write(part);
          },
        },
        snapshot,
      ));
      await file.close();
    } else {
      const { bytes } = await writeKeyedStateFileInSlices(snapshot);
      sample();
      sizeBytes = (await location.writeFile(name, bytes)).sizeBytes;
    }
    sample();
    return { ms: performance.now() - start, sizeBytes, arrayBuffersPeakBytes: peak - baseline };
  } finally {
    clearInterval(sampler);
    snapshot.release();
    await location.discard();
  }
}

export async function measureCheckpointParts(keys: number): Promise<BenchmarkReport> {
  const directory = mkdtempSync(join(tmpdir(), 'weir-bench-checkpoint-parts-'));
  const backend = new DiskKeyedStateBackend({
    operatorId: 'values',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
    directory: join(directory, 'store'),
    cacheEntriesMax: 1_000,
  });
  const storage = new FileSystemCheckpointStorage(join(directory, 'checkpoints'));
  try {
    const state = backend.getValueState(valueState<Uint8Array>('value'));
    for (let i = 0; i < keys; i++) {
      const key = `user-${i}`;
      backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
      state.update(new Uint8Array(VALUE_BYTES).fill(i & 0xff));
      if (i % 10_000 === 0) await backend.prefetch([], []);
    }
    await backend.settle();
    let checkpointId = 0;
    const { 'in parts': parts, whole } = await medianOfAlternating(['in parts', 'whole'], ROUNDS, (mode) =>
      checkpointOnce(backend, storage, ++checkpointId, mode),
    );
    const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1).padStart(7);
    const row = (name: string, r: Measured): string =>
      `${name.padEnd(44)} ${(r.ms / 1000).toFixed(2).padStart(6)} s   file ${mib(r.sizeBytes)} MiB   outside the heap, peak ${mib(r.arrayBuffersPeakBytes)} MiB`;
    const ratio = `in parts/whole: memory outside the heap ${(parts.arrayBuffersPeakBytes / whole.arrayBuffersPeakBytes).toFixed(3)}×, duration ${(parts.ms / whole.ms).toFixed(2)}×`;
    return {
      lines: [
        `full checkpoint of a disk backend holding ${keys} values of ${VALUE_BYTES} bytes, to a directory, median of ${ROUNDS} each`,
        row('in parts of about 1 MiB (a task, since)', parts),
        row('serialized whole, then written (before)', whole),
        ratio,
      ],
      summary: [ratio],
    };
  } finally {
    backend.dispose();
    rmSync(directory, { recursive: true, force: true });
  }
}

/** In the registry (`npm run bench`): "records" are keys; `--quick` takes a tenth. */
export const diskCheckpointParts: Benchmark = {
  name: 'disk-checkpoint-parts',
  title: 'disk backend: full checkpoint written in parts vs whole (memory outside the heap, duration)',
  recordsDefault: KEYS_DEFAULT,
  setup: () => [],
  report: (keys) => measureCheckpointParts(keys),
};

if (import.meta.main) {
  const report = await measureCheckpointParts(Number(process.env.WEIR_BENCH_CHECKPOINT_KEYS ?? KEYS_DEFAULT));
  for (const line of report.lines) console.log(line);
}
