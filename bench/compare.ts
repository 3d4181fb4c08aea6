/** Compares this checkout's engine with an earlier git revision's: both loaded in one process, runs alternated. */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCHMARKS } from './benchmarks.ts';
import { type BenchCase, type Benchmark, median, timeCase } from './harness.ts';

const USAGE = `usage: node bench/compare.ts [--against REV | --against-dir DIR] [--processes N] [--rounds N]
                              [--records N] [--case TEXT] [filter...]

Extracts src/ of git revision REV (default HEAD) into a temporary directory next to a copy of
this bench/. Then, in each of N fresh processes (default 6), loads both engines, warms both up
and runs every selected engine case on both alternately (ABBA, --rounds pairs, default 10),
so both see the same machine load; the process reports the median of its per-pair time
ratios. Printed: the median over processes, and each process's value. Several processes,
because the JIT can settle differently in each: identical code on both sides measures
0.97-1.10 per process on a shared 2-core VM. --against-dir DIR takes src/ from DIR instead.`;

const { values: flags, positionals: filters } = parseArgs({
  allowPositionals: true,
  options: {
    against: { type: 'string', default: 'HEAD' },
    'against-dir': { type: 'string' },
    processes: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '10' },
    records: { type: 'string' },
    case: { type: 'string' },
    'pair-child': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

const RESULT_PREFIX = 'COMPARE-RESULT ';
const processCount = positive(flags.processes, '--processes');
const rounds = positive(flags.rounds, '--rounds');

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got '${text}'`);
  return n;
}

/** Per engine case: the median over rounds of (baseline time / current time), wall and CPU. */
type PairResult = Record<string, { wall: number; cpu: number }>;

function selectCases(benchmark: Benchmark, records: number): BenchCase[] {
  return benchmark
    .setup(records)
    .filter((c) => c.reference !== true && (flags.case === undefined || c.name.includes(flags.case)));
}

/** Child: runs one benchmark's engine cases of both engines alternately, in this process. */
async function pairChild(baselineDir: string, name: string): Promise<PairResult> {
  const { BENCHMARKS: baselineBenchmarks } = (await import(join(baselineDir, 'bench', 'benchmarks.ts'))) as {
    BENCHMARKS: readonly Benchmark[];
  };
  const current = BENCHMARKS.find((b) => b.name === name)!;
  const baseline = baselineBenchmarks.find((b) => b.name === name);
  if (baseline === undefined) throw new Error(`the baseline has no benchmark '${name}'`);
  const records =
    flags.records === undefined
      ? Math.floor(current.recordsDefault / 5)
      : positive(flags.records, '--records');
  const ours = selectCases(current, records);
  const theirs = selectCases(baseline, records);
  const result: PairResult = {};
  for (const ourCase of ours) {
    const theirCase = theirs.find((c) => c.name === ourCase.name);
    if (theirCase === undefined) continue;
    for (let w = 0; w < 2; w++) {
      await timeCase(theirCase);
      await timeCase(ourCase);
    }
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const theirFirst = round % 2 === 0;
      const a = await timeCase(theirFirst ? theirCase : ourCase);
      const b = await timeCase(theirFirst ? ourCase : theirCase);
      const [their, our] = theirFirst ? [a, b] : [b, a];
      wall.push(their.wallMs / our.wallMs);
      cpu.push(their.cpuMs / our.cpuMs);
    }
    result[ourCase.name] = { wall: median(wall), cpu: median(cpu) };
  }
  return result;
}

/** src/ of `revision` (or of directory `srcDir`) plus this bench/, so the same benchmark code drives the old engine. */
function checkoutBaseline(revision: string, srcDir: string | undefined): string {
  const root = join(import.meta.dirname, '..');
  const dir = mkdtempSync(join(tmpdir(), 'weir-baseline-'));
  try {
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
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function spawnPair(baselineDir: string, name: string): Promise<PairResult> {
  const args = [
    import.meta.filename,
    '--pair-child',
    name,
    '--against-dir',
    baselineDir,
    '--rounds',
    String(rounds),
  ];
  if (flags.records !== undefined) args.push('--records', flags.records);
  if (flags.case !== undefined) args.push('--case', flags.case);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined)
        reject(new Error(`comparison of '${name}' failed (exit ${code})`));
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as PairResult);
    });
  });
}

async function main(): Promise<void> {
  if (flags['pair-child'] !== undefined) {
    const result = await pairChild(flags['against-dir']!, flags['pair-child']);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
    return;
  }
  const baselineDir = checkoutBaseline(flags.against, flags['against-dir']);
  try {
    console.log(
      `Weir: speed-up of this checkout over ${flags['against-dir'] ?? flags.against} (>1: faster now)`,
    );
    for (const benchmark of BENCHMARKS) {
      if (filters.length > 0 && !filters.some((f) => benchmark.name.includes(f))) continue;
      // Report benchmarks print bytes and durations of their own, not engine cases to pair.
      if (benchmark.report !== undefined) continue;
      const perProcess: PairResult[] = [];
      for (let i = 0; i < processCount; i++) {
        process.stderr.write(`  ${benchmark.name}: process ${i + 1}/${processCount}\n`);
        perProcess.push(await spawnPair(baselineDir, benchmark.name));
      }
      console.log(`\n${benchmark.title}`);
      for (const name of Object.keys(perProcess[0] ?? {})) {
        const wall = perProcess.map((r) => r[name].wall);
        const cpu = perProcess.map((r) => r[name].cpu);
        console.log(
          `  ${name.padEnd(34)} ${median(wall).toFixed(3)}× wall, ${median(cpu).toFixed(3)}× cpu   (per process: ${wall.map((x) => x.toFixed(2)).join(' ')})`,
        );
      }
    }
  } finally {
    rmSync(baselineDir, { recursive: true, force: true });
  }
}

await main();
