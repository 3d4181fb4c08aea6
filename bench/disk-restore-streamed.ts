/** Benchmark: a disk backend restored from a checkpoint file streamed section by section (what a task does) vs read whole first (what it did before), from one run: duration and memory outside the heap. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StateFileHandle } from '../src/checkpoint/snapshot-handles.ts';
import { FileSystemCheckpointStorage } from '../src/checkpoint/storage/file-system-checkpoint-storage.ts';
import { stateFileName } from '../src/checkpoint/storage/state-file-names.ts';
import { ManualClock } from '../src/core/clock.ts';
import { DiskKeyedStateBackend } from '../src/state/backends/disk/index.ts';
import { assignToKeyGroup } from '../src/state/key-groups.ts';
import { ChunkedInput } from '../src/state/snapshot/chunked-input.ts';
import {
  type KeyedStatePart,
  keyedStatePartOf,
  readKeyedStateFile,
  streamKeyedStateSections,
  writeKeyedStateFileInParts,
} from '../src/state/snapshot/index.ts';
import { valueState } from '../src/state/state-descriptors-factory.ts';
import { type Benchmark, type BenchmarkReport, collectGarbage, medianOfAlternating } from './harness.ts';

const KEYS_DEFAULT = 200_000;
const VALUE_BYTES = 1_024;
const MAX_PARALLELISM = 128;
const RANGE = { start: 0, end: MAX_PARALLELISM - 1 };
/** Each way runs this many times, alternating; the median is reported. */
const ROUNDS = 3;

type Mode = 'streamed' | 'whole';

interface Measured {
  readonly ms: number;
  /** Peak of `process.memoryUsage().arrayBuffers` during the restore, above where it started. */
  readonly arrayBuffersPeakBytes: number;
}

function newBackend(directory: string): DiskKeyedStateBackend {
  return new DiskKeyedStateBackend({
    operatorId: 'values',
    keyGroupRange: RANGE,
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
    directory,
    cacheEntriesMax: 1_000,
  });
}

/** Restores the file into a fresh backend, registers the state and waits until lmdb holds every entry. */
async function restoreOnce(
  storage: FileSystemCheckpointStorage,
  pointer: string,
  handle: StateFileHandle,
  directory: string,
  mode: Mode,
): Promise<Measured> {
  collectGarbage();
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 5);
  const start = performance.now();
  const backend = newBackend(directory);
  try {
    const path = `${pointer}/${handle.relativePath}`;
    const part: KeyedStatePart =
      mode === 'streamed'
        ? {
            path,
            maxParallelism: MAX_PARALLELISM,
            fileKeyGroupRange: RANGE,
            sections: () =>
              streamKeyedStateSections(
                new ChunkedInput(storage.readFileChunks(pointer, handle), path, handle.sizeBytes),
                RANGE,
                { maxParallelism: MAX_PARALLELISM, range: RANGE },
              ),
          }
        : keyedStatePartOf(readKeyedStateFile(await storage.readFile(pointer, handle), path));
    await backend.restoreFrom([part]);
    backend.getValueState(valueState<Uint8Array>('value'));
    await backend.prefetch([], []);
    await backend.settle();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    return { ms: performance.now() - start, arrayBuffersPeakBytes: peak - baseline };
  } finally {
    clearInterval(sampler);
    backend.dispose();
  }
}

export async function measureStreamedRestore(keys: number): Promise<BenchmarkReport> {
  const directory = mkdtempSync(join(tmpdir(), 'weir-bench-restore-streamed-'));
  const source = newBackend(join(directory, 'source'));
  const storage = new FileSystemCheckpointStorage(join(directory, 'checkpoints'));
  try {
    const state = source.getValueState(valueState<Uint8Array>('value'));
    for (let i = 0; i < keys; i++) {
      const key = `user-${i}`;
      source.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
      state.update(new Uint8Array(VALUE_BYTES).fill(i & 0xff));
      if (i % 10_000 === 0) await source.prefetch([], []);
    }
    await source.settle();
    const location = await storage.createCheckpointLocation('bench', 1);
    const file = await location.openFile(stateFileName('values', 0, 'keyed'));
    const snapshot = source.snapshot();
    await writeKeyedStateFileInParts(file, snapshot);
    snapshot.release();
    const handle = await file.close();
    source.dispose();
    const { streamed, whole } = await medianOfAlternating(['streamed', 'whole'], ROUNDS, (mode) =>
      restoreOnce(storage, location.pointer, handle, join(directory, 'restored'), mode),
    );
    const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1).padStart(7);
    const row = (name: string, r: Measured): string =>
      `${name.padEnd(46)} ${(r.ms / 1000).toFixed(2).padStart(6)} s   outside the heap, peak ${mib(r.arrayBuffersPeakBytes)} MiB`;
    const ratio = `streamed/whole: memory outside the heap ${(streamed.arrayBuffersPeakBytes / whole.arrayBuffersPeakBytes).toFixed(3)}×, duration ${(streamed.ms / whole.ms).toFixed(2)}×`;
    return {
      lines: [
        `restore of a disk backend from a ${mib(handle.sizeBytes).trim()} MiB checkpoint file (${keys} values of ${VALUE_BYTES} bytes), until lmdb holds it, median of ${ROUNDS} each`,
        row('streamed section by section (a task, since)', streamed),
        row('file read whole first (before)', whole),
        ratio,
      ],
      summary: [ratio],
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** In the registry (`npm run bench`): "records" are keys; `--quick` takes a tenth. */
export const diskRestoreStreamed: Benchmark = {
  name: 'disk-restore-streamed',
  title:
    'disk backend: restore streamed section by section vs file read whole (memory outside the heap, duration)',
  recordsDefault: KEYS_DEFAULT,
  setup: () => [],
  report: (keys) => measureStreamedRestore(keys),
};

if (import.meta.main) {
  const report = await measureStreamedRestore(Number(process.env.WEIR_BENCH_RESTORE_KEYS ?? KEYS_DEFAULT));
  for (const line of report.lines) console.log(line);
}
