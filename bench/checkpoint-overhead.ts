/** Issue 3's benchmark: keyed-count throughput with checkpoints every second against checkpointing off, in one run. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CheckpointStats, StreamExecutionEnvironment } from '../src/index.ts';
import { CountPerKey, countPerKeyLoop } from './count-per-key.ts';
import { type BenchCase, type Benchmark, type Checksum, CountingSink, seededInts } from './harness.ts';

const KEY_COUNT = 100_000;

const reference = (data: readonly number[]): Checksum => countPerKeyLoop(data, (key) => key);

/** Runs the keyed count; with `intervalMs`, checkpoints go to a fresh directory on the local disk. */
async function run(data: readonly number[], intervalMs: number | undefined): Promise<Checksum> {
  const directory = mkdtempSync(join(tmpdir(), 'weir-bench-ck-'));
  try {
    const env = StreamExecutionEnvironment.create({
      parallelism: 1,
      checkpointing: intervalMs === undefined ? {} : { intervalMs },
      checkpointStorage: directory,
    });
    const sink = new CountingSink();
    env
      .fromCollection(data)
      .keyBy((key) => key)
      .process(() => new CountPerKey<number, number>())
      .sinkTo(sink);
    const client = env.executeAsync('bench: checkpoint overhead');
    await client.result();
    if (intervalMs !== undefined) reportCheckpoints(client.checkpointStatistics(), intervalMs);
    return sink.take();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Checkpoint statistics of a measured run go to standard error (the driver passes it through). */
function reportCheckpoints(stats: readonly CheckpointStats[], intervalMs: number): void {
  const completed = stats.filter((s) => s.status === 'COMPLETED');
  const largest = completed.reduce<CheckpointStats | undefined>(
    (a, b) => (a === undefined || b.stateSizeBytes > a.stateSizeBytes ? b : a),
    undefined,
  );
  const detail =
    largest === undefined
      ? 'none completed'
      : `largest: ${(largest.stateSizeBytes / 1e6).toFixed(1)} MB, sync ${largest.syncDurationMs.toFixed(1)} ms, async ${largest.asyncDurationMs.toFixed(0)} ms, total ${largest.durationMs} ms`;
  process.stderr.write(`  [every ${intervalMs} ms] ${completed.length} checkpoints completed; ${detail}\n`);
}

export const checkpointOverhead: Benchmark = {
  name: 'checkpoint-overhead',
  title: `keyed count (${KEY_COUNT.toLocaleString('en')} keys, p=1) with checkpoints to a local directory vs checkpointing off`,
  recordsDefault: 4_000_000,
  setup(records: number): readonly BenchCase[] {
    const next = seededInts(0x5eed_0003);
    const data = Array.from({ length: records }, (_, i) => (i < KEY_COUNT ? i : next(KEY_COUNT)));
    const expected = reference(data);
    return [
      { name: 'checkpointing off', reference: true, expected, run: () => run(data, undefined) },
      { name: 'checkpoint every 1 s', expected, run: () => run(data, 1_000) },
      { name: 'checkpoint every 200 ms', expected, run: () => run(data, 200) },
    ];
  },
};

const LARGE_KEY_COUNT = 1_000_000;

/** Checkpoint duration (sync and async parts) and size with 1,000,000 keys in state. */
export const checkpointSize: Benchmark = {
  name: 'checkpoint-size',
  title: `keyed count over ${LARGE_KEY_COUNT.toLocaleString('en')} keys (p=1): checkpoints every 500 ms vs off; sizes and durations on stderr`,
  recordsDefault: 3_000_000,
  setup(records: number): readonly BenchCase[] {
    const next = seededInts(0x5eed_0004);
    const keys = Math.min(LARGE_KEY_COUNT, records);
    const data = Array.from({ length: records }, (_, i) => (i < keys ? i : next(keys)));
    const expected = reference(data);
    return [
      { name: 'checkpointing off', reference: true, expected, run: () => run(data, undefined) },
      { name: 'checkpoint every 500 ms', expected, run: () => run(data, 500) },
    ];
  },
};
