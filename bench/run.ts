/** Benchmark driver: runs each benchmark in a fresh Node process and prints records/s and ratios to the plain-JS reference. */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { BENCHMARKS } from './benchmarks.ts';
import { type Benchmark, type BenchmarkResult, median, runBenchmark } from './harness.ts';

/** `--quick` runs this many times fewer records, one warm-up and two rounds: a smoke test. */
const QUICK_DIVISOR = 10;
const WARMUPS_DEFAULT = 2;
const REPETITIONS_DEFAULT = 5;
/** Marks the child's result line on its stdout. */
const RESULT_PREFIX = 'BENCH-RESULT ';

const USAGE = `usage: node bench/run.ts [options] [filter...]

Runs every benchmark named by a filter (or, for a filter that names none exactly, whose name
contains it; all when no filter is given), each in its own
Node process, and prints the median time, records/s and the ratio to the plain-JS reference
measured in the same run.

  --quick          ${QUICK_DIVISOR}x fewer records, 1 warm-up, 2 rounds (smoke test)
  --records N      input records per benchmark (default: each benchmark's own)
  --warmups N      unmeasured runs of every case first (default ${WARMUPS_DEFAULT})
  --reps N         measured rounds; every case runs once per round (default ${REPETITIONS_DEFAULT})
  --case TEXT      run only the cases whose name contains TEXT (with --in-process: for profiling)
  --in-process     run in this process instead of one child per benchmark
  --verbose        print every measured run
  --help

environment: WEIR_BENCH_KEYS=N sets keyed-count's distinct keys (default 100000);
             WEIR_BENCH_MANY_KEYS=N those of disk-keyed-count-many-keys (default 1000000;
             the issue's figure is 10000000: records default to twice the keys, and the
             benchmark's process gets a heap large enough for the heap backend's case)

benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}`;

interface Options {
  readonly quick: boolean;
  readonly records: number | undefined;
  /** Undefined: the benchmark's own default, else the driver's. */
  readonly warmups: number | undefined;
  readonly repetitions: number | undefined;
  readonly caseFilter: string | undefined;
  readonly inProcess: boolean;
  readonly verbose: boolean;
  readonly filters: readonly string[];
  readonly child: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      records: { type: 'string' },
      warmups: { type: 'string' },
      reps: { type: 'string' },
      case: { type: 'string' },
      'in-process': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  return {
    quick,
    records: values.records === undefined ? undefined : positiveInteger(values.records, '--records'),
    warmups: values.warmups === undefined ? undefined : nonNegativeInteger(values.warmups, '--warmups'),
    repetitions: values.reps === undefined ? undefined : positiveInteger(values.reps, '--reps'),
    caseFilter: values.case,
    inProcess: values['in-process'] === true,
    verbose: values.verbose === true,
    filters: positionals,
    child: values.child,
  };
}

function positiveInteger(text: string, flag: string): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got '${text}'`);
  return n;
}

function nonNegativeInteger(text: string, flag: string): number {
  return text === '0' ? 0 : positiveInteger(text, flag);
}

function recordsOf(benchmark: Benchmark, options: Options): number {
  if (options.records !== undefined) return options.records;
  return options.quick ? Math.floor(benchmark.recordsDefault / QUICK_DIVISOR) : benchmark.recordsDefault;
}

function warmupsOf(benchmark: Benchmark, options: Options): number {
  if (options.warmups !== undefined) return options.warmups;
  const warmups = benchmark.warmupsDefault ?? WARMUPS_DEFAULT;
  return options.quick ? Math.min(1, warmups) : warmups;
}

function repetitionsOf(benchmark: Benchmark, options: Options): number {
  if (options.repetitions !== undefined) return options.repetitions;
  const repetitions = benchmark.repetitionsDefault ?? REPETITIONS_DEFAULT;
  return options.quick ? Math.min(2, repetitions) : repetitions;
}

function runHere(benchmark: Benchmark, options: Options): Promise<BenchmarkResult> {
  return runBenchmark(benchmark, {
    records: recordsOf(benchmark, options),
    warmups: warmupsOf(benchmark, options),
    repetitions: repetitionsOf(benchmark, options),
    caseFilter: options.caseFilter,
    log: options.verbose ? (line) => process.stderr.write(`${line}\n`) : () => {},
  });
}

/** A fresh process per benchmark: JIT feedback and heap of one benchmark do not colour the next. */
function runInChild(benchmark: Benchmark, argv: readonly string[]): Promise<BenchmarkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        ...(benchmark.nodeOptions ?? []),
        import.meta.filename,
        ...argv,
        '--child',
        benchmark.name,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(new Error(`benchmark '${benchmark.name}' failed (exit code ${code})\n${stdout}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchmarkResult);
    });
  });
}

function formatRate(recordsPerSecond: number): string {
  return recordsPerSecond >= 1e6
    ? `${(recordsPerSecond / 1e6).toFixed(2)} M`
    : `${(recordsPerSecond / 1e3).toFixed(1)} k`;
}

function printResult(benchmark: Benchmark, result: BenchmarkResult, options: Options): void {
  if (result.report !== undefined) {
    console.log(`\n${result.title}`);
    for (const line of result.report.lines) console.log(`  ${line}`);
    return;
  }
  const reference = result.cases.find((c) => c.reference);
  const referenceMs = reference === undefined ? Number.NaN : median(reference.timesMs);
  const records = result.cases[0]?.records ?? 0;
  console.log(`\n${result.title}`);
  console.log(
    `  ${records.toLocaleString('en')} records; median of ${repetitionsOf(benchmark, options)} rounds after ${warmupsOf(benchmark, options)} warm-up(s); every case's output checked against the reference`,
  );
  const referenceCpuMs = reference === undefined ? Number.NaN : median(reference.cpuTimesMs);
  const header = ['case', 'median ms', 'records/s', 'ns/record', '× plain-JS', 'spread', 'cpu ms', '× (cpu)'];
  const rows = result.cases.map((c) => {
    const ms = median(c.timesMs);
    const spread = (Math.max(...c.timesMs) - Math.min(...c.timesMs)) / ms;
    return [
      c.reference ? `${c.name} (reference)` : c.name,
      ms.toFixed(1),
      formatRate((c.records / ms) * 1000),
      ((ms * 1e6) / c.records).toFixed(1),
      Number.isNaN(referenceMs) ? '—' : (referenceMs / ms).toFixed(3),
      `${(spread * 100).toFixed(0)}%`,
      median(c.cpuTimesMs).toFixed(1),
      Number.isNaN(referenceCpuMs) ? '—' : (referenceCpuMs / median(c.cpuTimesMs)).toFixed(3),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    `  ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('   ')}`;
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  if (options.child !== undefined) {
    const benchmark = BENCHMARKS.find((b) => b.name === options.child);
    if (benchmark === undefined) throw new Error(`unknown benchmark '${options.child}'`);
    const result = await runHere(benchmark, options);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
    return;
  }
  const selected = selectBenchmarks(options.filters);
  if (selected.length === 0)
    throw new Error(`no benchmark matches ${options.filters.join(', ')}\n\n${USAGE}`);
  console.log(
    `Weir benchmarks — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}${options.quick ? ' — QUICK smoke run, numbers are indicative only' : ''}`,
  );
  console.log(
    "× plain-JS: the reference loop's median time over the case's median time (higher is better, 1 = as fast as plain JS);\n" +
      'cpu ms and × (cpu): the same from CPU time, which leaves out time spent waiting for a core on a busy machine.\n' +
      "Parallel subtasks share this process's one event loop (local mode), so p=2 cannot be faster than p=1.",
  );
  const summary: string[] = [];
  for (const benchmark of selected) {
    process.stderr.write(
      `running ${benchmark.name} (${recordsOf(benchmark, options).toLocaleString('en')} records)…\n`,
    );
    const result = options.inProcess ? await runHere(benchmark, options) : await runInChild(benchmark, argv);
    printResult(benchmark, result, options);
    const ratios = caseRatios(benchmark, result);
    for (const line of ratios) console.log(line);
    summary.push(...headlines(benchmark, result), ...ratios);
  }
  if (summary.length > 0) console.log(`\nSummary\n${summary.join('\n')}`);
}

/** Exact names first, so that 'keyed-count' does not also pick 'disk-keyed-count-hot'. */
function selectBenchmarks(filters: readonly string[]): Benchmark[] {
  if (filters.length === 0) return [...BENCHMARKS];
  return BENCHMARKS.filter((b) =>
    filters.some(
      (f) => b.name === f || (!BENCHMARKS.some((other) => other.name === f) && b.name.includes(f)),
    ),
  );
}

function headlines(benchmark: Benchmark, result: BenchmarkResult): string[] {
  if (result.report !== undefined) return result.report.summary.map((line) => `  ${benchmark.name}: ${line}`);
  const reference = result.cases.find((c) => c.reference);
  if (reference === undefined) return [];
  return (benchmark.headline ?? []).flatMap(({ caseName, targetRatio }) => {
    const c = result.cases.find((r) => r.name === caseName);
    if (c === undefined) return [];
    const ms = median(c.timesMs);
    const ratio = median(reference.timesMs) / ms;
    const cpuRatio = median(reference.cpuTimesMs) / median(c.cpuTimesMs);
    const verdict = (r: number): string => (r >= (targetRatio ?? 0) ? 'met' : 'NOT met');
    const target =
      targetRatio === undefined
        ? ''
        : `; target ≥ ${targetRatio.toFixed(2)}×: ${verdict(ratio)} by wall time, ${verdict(cpuRatio)} by CPU time`;
    return [
      `  ${benchmark.name} / ${caseName}: ${formatRate((c.records / ms) * 1000)} records/s, ${ratio.toFixed(2)}× plain JS (${cpuRatio.toFixed(2)}× by CPU time)${target}`,
    ];
  });
}

/** Each of the benchmark's case ratios (e.g. disk/heap) from the medians of this run, with both rates. */
function caseRatios(benchmark: Benchmark, result: BenchmarkResult): string[] {
  return (benchmark.caseRatios ?? []).flatMap(({ label, numerator, denominator, targetRatio }) => {
    const top = result.cases.find((c) => c.name.startsWith(numerator));
    const bottom = result.cases.find((c) => c.name.startsWith(denominator));
    if (top === undefined || bottom === undefined) return [];
    const ratio = median(bottom.timesMs) / median(top.timesMs);
    const cpuRatio = median(bottom.cpuTimesMs) / median(top.cpuTimesMs);
    const rate = (c: typeof top): string => `${formatRate((c.records / median(c.timesMs)) * 1000)} records/s`;
    const verdict = (r: number): string => (r >= (targetRatio ?? 0) ? 'met' : 'NOT met');
    const target =
      targetRatio === undefined
        ? ''
        : `; target ≥ ${targetRatio.toFixed(2)}: ${verdict(ratio)} by wall time, ${verdict(cpuRatio)} by CPU time`;
    return [
      `  ${benchmark.name}: ${label} ${ratio.toFixed(3)} (${cpuRatio.toFixed(3)} by CPU time): ${rate(top)} vs ${rate(bottom)}${target}`,
    ];
  });
}

await main();
