/**
 * State larger than memory: a keyed job runs in a child process whose JS heap is limited to
 * about 53 MB (`--max-old-space-size=48 --max-semi-space-size=1`) while its state is 221 MB
 * (27,000 keys × 8 KiB, over 4× the heap limit), and every value reads back exactly. The
 * bigger run (64 MB heap, 300+ MB of state, read-modify-write rounds) is bench/disk-larger-than-memory.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'larger-than-memory-job.ts');
const KEYS = 27_000;
const VALUE_BYTES = 8_192;
const CACHE_ENTRIES = 200;

it('completes with exact results when its state is over 4x the JS heap limit', {
  timeout: 180_000,
}, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'weir-larger-than-memory-'));
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--max-old-space-size=48',
        '--max-semi-space-size=1',
        FIXTURE,
        directory,
        String(KEYS),
        String(VALUE_BYTES),
        '2',
        String(CACHE_ENTRIES),
      ],
      { maxBuffer: 1024 * 1024 },
    );
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report.mismatches).toBe(0);
    expect(report.completed).toBe(KEYS);
    expect(report.records).toBe(2 * KEYS);
    expect(report.logicalStateBytes).toBeGreaterThanOrEqual(4 * report.heapLimitBytes);
    expect(report.storeBytesMax).toBeGreaterThanOrEqual(report.logicalStateBytes);
    expect(report.heapUsedMaxBytes).toBeLessThan(report.heapLimitBytes);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
