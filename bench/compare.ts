/** Compares this checkout's engine with an earlier git revision's, alternating fresh processes of both. */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCHMARKS } from './benchmarks.ts';
import { type BenchmarkResult, median } from './harness.ts';

const USAGE = `usage: node bench/compare.ts [--against REV | --against-dir DIR] [--processes N] [--records N]
                              [--reps N] [--warmups N] [--case TEXT] [filter...]

Extracts src/ of git revision REV (default HEAD) into a temporary directory next to a copy of
this bench/, then runs the selected benchmarks' engine cases in fresh processes, alternating
baseline and current (ABBA), N processes each (default 6). Two processes of the SAME code
differ by up to ±15% on a shared machine (JIT decisions, neighbours), so one process per side
proves nothing: the speed-up printed is the ratio of the medians over all processes of each
process's median, plus the ratio of the best runs. --against-dir DIR takes src/ from DIR.`;

const { values: flags, positionals: filters } = parseArgs({
  allowPositionals: true,
  options: {
    against: { type: 'string', default: 'HEAD' },
    'against-dir': { type: 'string' },
    processes: { type: 'string', default: '6' },
    records: { type: 'string' },
    reps: { type: 'string', default: '5' },
    warmups: { type: 'string', default: '2' },
    case: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const processCount = Number(flags.processes);
if (!Number.isSafeInteger(processCount) || processCount < 1)
  throw new Error('--processes needs a positive integer');

const root = join(import.meta.dirname, '..');

/** src/ of `revision` (or of directory `srcDir`) plus this bench/, so the same benchmark code drives the old engine. */
function checkoutBaseline(revision: string, srcDir: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-baseline-'));
  if (srcDir !== undefined) {
    cpSync(join(srcDir, 'src'), join(dir, 'src'), { recursive: true });
  } else {
    const archive = execFileSync('git', ['archive', '--format=tar', revision, 'src'], {
      cwd: root,
      maxBuffer: 256 * 1024 * 1024,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
  }
  cpSync(import.meta.dirname, join(dir, 'bench'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** One child process of bench/run.ts in `dir`, running one benchmark. */
function runChild(dir: string, benchmark: string): Promise<BenchmarkResult> {
  const args = ['--child', benchmark, '--reps', flags.reps, '--warmups', flags.warmups];
  if (flags.records !== undefined) args.push('--records', flags.records);
  if (flags.case !== undefined) args.push('--case', flags.case);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, 'bench', 'run.ts'), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH-RESULT '));
      if (code !== 0 || line === undefined) reject(new Error(`${dir}: '${benchmark}' failed (exit ${code})`));
      else resolve(JSON.parse(line.slice('BENCH-RESULT '.length)) as BenchmarkResult);
    });
  });
}

interface Side {
  /** Per case name: each process's median wall time, and every run's wall time. */
  readonly medians: Map<string, number[]>;
  readonly all: Map<string, number[]>;
}

function record(side: Side, result: BenchmarkResult): void {
  for (const c of result.cases) {
    if (c.reference) continue;
    side.medians.set(c.name, [...(side.medians.get(c.name) ?? []), median(c.timesMs)]);
    side.all.set(c.name, [...(side.all.get(c.name) ?? []), ...c.timesMs]);
  }
}

async function compare(benchmark: string, baselineDir: string): Promise<void> {
  const baseline: Side = { medians: new Map(), all: new Map() };
  const current: Side = { medians: new Map(), all: new Map() };
  for (let i = 0; i < processCount; i++) {
    process.stderr.write(`  ${benchmark}: process pair ${i + 1}/${processCount}\n`);
    const baselineFirst = i % 2 === 0;
    for (const isBaseline of baselineFirst ? [true, false] : [false, true]) {
      const result = await runChild(isBaseline ? baselineDir : root, benchmark);
      record(isBaseline ? baseline : current, result);
    }
  }
  console.log(`\n${benchmark}: ${processCount} processes per side`);
  console.log(
    '  case                               baseline ms   current ms   speed-up (medians)   speed-up (best)',
  );
  for (const [name, ours] of current.medians) {
    const theirs = baseline.medians.get(name);
    if (theirs === undefined) continue;
    const ourMs = median(ours);
    const theirMs = median(theirs);
    const best = Math.min(...baseline.all.get(name)!) / Math.min(...current.all.get(name)!);
    console.log(
      `  ${name.padEnd(34)} ${theirMs.toFixed(1).padStart(11)}   ${ourMs.toFixed(1).padStart(10)}   ${(theirMs / ourMs).toFixed(3).padStart(17)}×   ${best.toFixed(3).padStart(14)}×`,
    );
  }
}

const baselineDir = checkoutBaseline(flags.against, flags['against-dir']);
try {
  console.log(`Weir: this checkout against ${flags['against-dir'] ?? flags.against}`);
  for (const benchmark of BENCHMARKS) {
    if (filters.length > 0 && !filters.some((f) => benchmark.name.includes(f))) continue;
    await compare(benchmark.name, baselineDir);
  }
} finally {
  rmSync(baselineDir, { recursive: true, force: true });
}
