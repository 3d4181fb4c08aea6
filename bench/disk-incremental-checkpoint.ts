/** Benchmark: full vs incremental checkpoint of the disk backend, 1,000,000 keys with 1 % updated between checkpoints; prints bytes and durations as ratios from one run. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import { DiskKeyedStateBackend } from '../src/state/backends/disk/index.ts';
import { assignToKeyGroup } from '../src/state/key-groups.ts';
import { writeKeyedChangelogInSlices } from '../src/state/snapshot/keyed-changelog-format.ts';
import { writeKeyedStateFileInSlices } from '../src/state/snapshot/keyed-state-format.ts';
import { valueState } from '../src/state/state-descriptors-factory.ts';

/** Keys in the state (WEIR_BENCH_INCREMENTAL_KEYS changes it). */
const KEYS = Number(process.env.WEIR_BENCH_INCREMENTAL_KEYS ?? 1_000_000);
/** Every this-many-th key is updated between the two checkpoints: 1 %. */
const UPDATE_EVERY = 100;
const MAX_PARALLELISM = 128;

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
async function incremental(id: number): Promise<{ bytes: number; ms: number; base: boolean }> {
  const start = performance.now();
  const snapshot = backend.snapshotIncremental(id)!;
  const bytes = await writeKeyedChangelogInSlices(snapshot);
  snapshot.release();
  const ms = performance.now() - start;
  snapshot.written({ relativePath: `../shared/chk-${id}`, sizeBytes: bytes.length, crc32c: 0 });
  backend.notifyCheckpointComplete(id);
  return { bytes: bytes.length, ms, base: snapshot.isBase };
}

async function full(): Promise<{ bytes: number; ms: number }> {
  const start = performance.now();
  const snapshot = backend.snapshot();
  const file = await writeKeyedStateFileInSlices(snapshot);
  snapshot.release();
  return { bytes: file.bytes.length, ms: performance.now() - start };
}

try {
  for (let i = 0; i < KEYS; i++) put(i, i);
  const base = await incremental(1);
  for (let i = 0; i < KEYS; i += UPDATE_EVERY) put(i, -i);
  const delta = await incremental(2);
  const reference = await full();
  const row = (name: string, r: { bytes: number; ms: number }) =>
    `${name.padEnd(28)} ${String(r.bytes).padStart(12)} B ${r.ms.toFixed(0).padStart(8)} ms`;
  console.log(`disk backend, ${KEYS} keys, ${100 / UPDATE_EVERY} % updated between checkpoints`);
  console.log(row('full (canonical WEIRKEYD)', reference));
  console.log(row(`first incremental (${base.base ? 'base' : 'delta'})`, base));
  console.log(row(`second incremental (${delta.base ? 'base' : 'delta'})`, delta));
  console.log(
    `incremental/full: bytes ${(delta.bytes / reference.bytes).toFixed(4)}, duration ${(delta.ms / reference.ms).toFixed(4)}; base/full: bytes ${(base.bytes / reference.bytes).toFixed(3)}, duration ${(base.ms / reference.ms).toFixed(3)}`,
  );
} finally {
  backend.dispose();
  rmSync(directory, { recursive: true, force: true });
}
