/**
 * Larger-than-memory run of the disk backend: a keyed job under a 64 MB old-space heap
 * (`--max-old-space-size=64 --max-semi-space-size=1`) keeps 328 MB of state (40,000 keys ×
 * 8 KiB), writes it, rewrites every value from its previous version, then reads every value
 * back and checks it. Prints the state/heap-limit ratio and the throughput measured in this run.
 *
 * Usage: node bench/disk-larger-than-memory.ts [KEYS] [VALUE_BYTES]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const KEYS = Number(process.argv[2] ?? 40_000);
const VALUE_BYTES = Number(process.argv[3] ?? 8_192);
/** Write, read-modify-write, read-and-check. */
const ROUNDS = 3;
const CACHE_ENTRIES = 1_000;
const FIXTURE = join(
  import.meta.dirname,
  '..',
  'test',
  'state',
  'disk',
  'fixtures',
  'larger-than-memory-job.ts',
);

const directory = mkdtempSync(join(tmpdir(), 'weir-bench-ltm-'));
try {
  const stdout = execFileSync(
    process.execPath,
    [
      '--max-old-space-size=64',
      '--max-semi-space-size=1',
      FIXTURE,
      directory,
      String(KEYS),
      String(VALUE_BYTES),
      String(ROUNDS),
      String(CACHE_ENTRIES),
    ],
    { encoding: 'utf8', maxBuffer: 1024 * 1024 },
  );
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
  const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
  console.log('(disk c) state larger than memory: keyed job in a child process, disk backend');
  console.log(`  heap limit (v8 heap_size_limit)   ${mib(report.heapLimitBytes)}`);
  console.log(`  peak heap used                    ${mib(report.heapUsedMaxBytes)}`);
  console.log(
    `  state (keys × value bytes)        ${mib(report.logicalStateBytes)}  = ${(report.logicalStateBytes / report.heapLimitBytes).toFixed(2)} × the heap limit`,
  );
  console.log(`  lmdb files at their largest       ${mib(report.storeBytesMax)}`);
  console.log(
    `  records                           ${report.records.toLocaleString('en')} in ${(report.elapsedMs / 1000).toFixed(1)} s = ${Math.round((report.records / report.elapsedMs) * 1000).toLocaleString('en')} records/s`,
  );
  console.log(
    `  exact                             ${report.mismatches === 0 && report.completed === KEYS ? 'yes' : 'NO'} (${report.completed} of ${KEYS} keys complete, ${report.mismatches} mismatches)`,
  );
  if (report.mismatches !== 0 || report.completed !== KEYS) process.exitCode = 1;
} finally {
  rmSync(directory, { recursive: true, force: true });
}
