/** Benchmark: full vs incremental checkpoint of the disk backend, 1,000,000 keys with 1 % updated between checkpoints; prints bytes and durations as ratios from one run, and what a local-recovery copy costs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { DiskKeyedStateBackend } from '../src/state/backends/disk/index.ts';
import { assignToKeyGroup } from '../src/state/key-groups.ts';
import { writeKeyedChangelogInSlices } from '../src/state/snapshot/keyed-changelog-format.ts';
import { writeKeyedStateFileInSlices } from '../src/state/snapshot/keyed-state-format.ts';
import { valueState } from '../src/state/state-descriptors-factory.ts';
import type { Benchmark, BenchmarkReport } from './harness.ts';

/** Keys in the state by default (WEIR_BENCH_INCREMENTAL_KEYS changes it when run on its own). */
const KEYS_DEFAULT = 1_000_000;
/** Every this-many-th key is updated between the two checkpoints: 1 %. */
const UPDATE_EVERY = 100;
const MAX_PARALLELISM = 128;

interface Measured {
  readonly bytes: number;
  readonly ms: number;
}

/** Builds `keys` keys of state, takes a base, updates 1 %, takes a delta and a full snapshot; reports sizes and times. */
export async function measureIncrementalCheckpoints(keys: number): Promise<BenchmarkReport> {
  const directory = mkdtempSync(join(tmpdir(), 'weir-bench-incremental-'));
  const backend = new DiskKeyedStateBackend({
    operatorId: 'counts',
    keyGroupRange: { start: 0, end: MAX_PARALLELISM - 1 },
    maxParallelism: MAX_PARALLELISM,
    clock: new ManualClock(0),
    directory,
  });
  const count = backend.getValueState(valueState<number>('count'));
  const put = (i: number, value: number): void => {
    const key = `key-${i}`;
    backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
    count.update(value);
  };

  /** Synchronous part plus serialization (the upload itself is the bytes' write, proportional to them). */
  const incremental = async (id: number): Promise<Measured & { base: boolean; file: Uint8Array }> => {
    const start = performance.now();
    const snapshot = backend.snapshotIncremental(id)!;
    const bytes = await writeKeyedChangelogInSlices(snapshot);
    snapshot.release();
    const ms = performance.now() - start;
    snapshot.written({ relativePath: `../shared/chk-${id}`, sizeBytes: bytes.length, crc32c: 0 });
    backend.notifyCheckpointComplete(id);
    return { bytes: bytes.length, ms, base: snapshot.isBase, file: bytes };
  };
  const full = async (): Promise<Measured> => {
    const start = performance.now();
    const snapshot = backend.snapshot();
    const file = await writeKeyedStateFileInSlices(snapshot);
    snapshot.release();
    return { bytes: file.bytes.length, ms: performance.now() - start };
  };

  try {
    for (let i = 0; i < keys; i++) put(i, i);
    const base = await incremental(1);
    for (let i = 0; i < keys; i += UPDATE_EVERY) put(i, -i);
    const delta = await incremental(2);
    const reference = await full();
    const upload = await timeWrite(join(directory, 'upload'), base.file, true);
    const localCopy = await timeWrite(join(directory, 'local-copy'), base.file, false);
    const row = (name: string, r: Measured): string =>
      `${name.padEnd(28)} ${String(r.bytes).padStart(12)} B ${r.ms.toFixed(0).padStart(8)} ms`;
    const ratios = `incremental/full: bytes ${(delta.bytes / reference.bytes).toFixed(4)}, duration ${(delta.ms / reference.ms).toFixed(4)}; base/full: bytes ${(base.bytes / reference.bytes).toFixed(3)}, duration ${(base.ms / reference.ms).toFixed(3)}`;
    const local = `local-recovery copy of the base: ${localCopy.toFixed(1)} ms (write from memory, no fsync) vs ${upload.toFixed(1)} ms for its upload to a local checkpoint directory (write + fsync): ${(localCopy / upload).toFixed(2)}×, run concurrently`;
    return {
      lines: [
        `disk backend, ${keys} keys, ${100 / UPDATE_EVERY} % updated between checkpoints`,
        row('full (canonical WEIRKEYD)', reference),
        row(`first incremental (${base.base ? 'base' : 'delta'})`, base),
        row(`second incremental (${delta.base ? 'base' : 'delta'})`, delta),
        ratios,
        local,
      ],
      summary: [ratios, local],
    };
  } finally {
    backend.dispose();
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Time to write `bytes` to `path`, with or without fsync, in ms. */
async function timeWrite(path: string, bytes: Uint8Array, sync: boolean): Promise<number> {
  const start = performance.now();
  await writeFile(path, bytes);
  if (sync) {
    const handle = await open(path, 'r');
    await handle.sync();
    await handle.close();
  }
  return performance.now() - start;
}

/** In the registry (`npm run bench`): "records" are keys; `--quick` takes a tenth. */
export const diskIncrementalCheckpoint: Benchmark = {
  name: 'disk-incremental-checkpoint',
  title:
    'disk backend: full vs incremental checkpoint, 1 % of the keys updated (bytes and durations from one run)',
  recordsDefault: KEYS_DEFAULT,
  setup: () => [],
  report: (keys) => measureIncrementalCheckpoints(keys),
};

if (import.meta.main) {
  const report = await measureIncrementalCheckpoints(
    Number(process.env.WEIR_BENCH_INCREMENTAL_KEYS ?? KEYS_DEFAULT),
  );
  for (const line of report.lines) console.log(line);
}
