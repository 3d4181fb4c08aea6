/** The benchmark contract, the counting sink every case ends in, and the timing loop with result checks. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Sink, SinkWriter } from '../src/index.ts';

/** What every case computes over its output, so a case that skips work cannot go unnoticed. */
export interface Checksum {
  /** Records that reached the end of the pipeline. */
  readonly count: number;
  /** Sum of those records (as numbers). */
  readonly sum: number;
}

/**
 * One way of doing a benchmark's work. `run` returns the checksum of what it produced;
 * the driver compares it with `expected` after every run and aborts on a mismatch.
 */
export interface BenchCase {
  readonly name: string;
  /** The hand-written plain-JS loop every other case of the benchmark is compared with. */
  readonly reference?: boolean;
  readonly expected: Checksum;
  run(): Checksum | Promise<Checksum>;
}

/** A benchmark: builds its input once, then its cases run over that same input. */
export interface Benchmark {
  /** Short id, matched by the driver's filter argument. */
  readonly name: string;
  readonly title: string;
  /** Input records of a default run (`--quick` divides by QUICK_DIVISOR). */
  readonly recordsDefault: number;
  /** Cases the driver repeats in its closing summary, with the ratio to the reference they aim for. */
  readonly headline?: readonly { readonly caseName: string; readonly targetRatio?: number }[];
  /**
   * Throughput ratios of two cases measured in the same run (numerator's records/s over the
   * denominator's, e.g. disk/heap), printed with both rates and repeated in the summary.
   */
  readonly caseRatios?: readonly CaseRatio[];
  /** Warm-ups and rounds when the command line does not say (a long benchmark runs fewer). */
  readonly warmupsDefault?: number;
  readonly repetitionsDefault?: number;
  /** Node.js flags for the benchmark's own process (e.g. `--max-old-space-size` for a big heap). */
  readonly nodeOptions?: readonly string[];
  setup(records: number): readonly BenchCase[];
  /**
   * For a benchmark that measures something other than records/s (bytes, durations of one
   * operation): runs instead of the cases and returns the lines to print, and those to repeat
   * in the closing summary. `setup` then returns no cases.
   */
  report?(records: number): Promise<BenchmarkReport>;
}

/** See {@link Benchmark.caseRatios}: case names are prefixes of the cases' names. */
export interface CaseRatio {
  readonly label: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly targetRatio?: number;
}

/** What a {@link Benchmark.report} prints. */
export interface BenchmarkReport {
  readonly lines: readonly string[];
  readonly summary: readonly string[];
}

/** Timings of one case, in ms, in the order they ran. */
export interface CaseResult {
  readonly name: string;
  readonly reference: boolean;
  readonly records: number;
  /** Wall-clock time of each measured run. */
  readonly timesMs: readonly number[];
  /**
   * CPU time (user + system, all threads) of each run: on a shared machine it leaves out the
   * time the process waited for a core, so it varies less than wall-clock time.
   */
  readonly cpuTimesMs: readonly number[];
}

export interface BenchmarkResult {
  readonly name: string;
  readonly title: string;
  readonly cases: readonly CaseResult[];
  /** A report benchmark's own lines instead of cases. */
  readonly report?: BenchmarkReport;
}

/**
 * A sink that counts records and sums them as numbers (through `toNumber` when they are not
 * numbers): about the least work a sink can do while still depending on every record. Totals
 * of all writers (subtasks) accumulate in this object; `take()` reads and resets them.
 */
export class CountingSink<T = number> implements Sink<T> {
  readonly #toNumber: (value: T) => number;
  #count = 0;
  #sum = 0;

  constructor(toNumber?: (value: T) => number) {
    this.#toNumber = toNumber ?? ((value) => value as number);
  }

  createWriter(): SinkWriter<T> {
    return new CountingWriter<T>(this.#toNumber, (count, sum) => {
      this.#count += count;
      this.#sum += sum;
    });
  }

  take(): Checksum {
    const totals = { count: this.#count, sum: this.#sum };
    this.#count = 0;
    this.#sum = 0;
    return totals;
  }
}

class CountingWriter<T> implements SinkWriter<T> {
  count = 0;
  sum = 0;
  readonly #toNumber: (value: T) => number;
  readonly #report: (count: number, sum: number) => void;

  constructor(toNumber: (value: T) => number, report: (count: number, sum: number) => void) {
    this.#toNumber = toNumber;
    this.#report = report;
  }

  write(value: T): void {
    this.count++;
    this.sum += this.#toNumber(value);
  }

  flush(endOfInput: boolean): void {
    if (!endOfInput) return;
    this.#report(this.count, this.sum);
    this.count = 0;
    this.sum = 0;
  }

  close(): void {}
}

/** mulberry32's step: its 32-bit output for a given state. */
function mulberry32(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** A seeded 32-bit generator (mulberry32), so every run and every case sees the same input. */
export function seededInts(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (state + 0x6d2b79f5) | 0;
    return (mulberry32(state) % bound) | 0;
  };
}

/**
 * The `index`-th draw (from 0) of `seededInts(seed)`, computed directly: mulberry32's state
 * only ever advances by a constant, so input can be generated per record instead of held.
 */
export function seededIntAt(seed: number, index: number, bound: number): number {
  return (mulberry32((seed + Math.imul(index + 1, 0x6d2b79f5)) | 0) % bound) | 0;
}

/** A full garbage collection, so one case's garbage is not collected on the next case's time. */
export const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  return typeof gc === 'function' ? gc : () => {};
})();

/**
 * Measures two ways of doing the same thing `rounds` times each, alternating which goes first
 * (so neither always runs on a warmer or a more fragmented process), and returns each way's
 * run of median duration.
 *
 * @example
 * ```ts
 * const { streamed, whole } = await medianOfAlternating(['streamed', 'whole'], 3, (way) => restoreOnce(way));
 * ```
 */
export async function medianOfAlternating<W extends string, M extends { readonly ms: number }>(
  ways: readonly [W, W],
  rounds: number,
  measure: (way: W) => Promise<M>,
): Promise<Record<W, M>> {
  const runs = new Map<W, M[]>(ways.map((way) => [way, []]));
  for (let round = 0; round < rounds; round++) {
    for (const way of round % 2 === 0 ? ways : [ways[1], ways[0]]) runs.get(way)!.push(await measure(way));
  }
  const medians = {} as Record<W, M>;
  for (const [way, measured] of runs) {
    const sorted = [...measured].sort((a, b) => a.ms - b.ms);
    medians[way] = sorted[sorted.length >> 1];
  }
  return medians;
}

export interface RunOptions {
  readonly records: number;
  readonly warmups: number;
  readonly repetitions: number;
  /** Only the cases whose name contains this run (for profiling one case). */
  readonly caseFilter?: string;
  readonly log: (line: string) => void;
}

/**
 * Runs every case `warmups` times unmeasured, then `repetitions` rounds in which every case
 * runs once, the order rotating per round so that no case always follows the same neighbour.
 */
export async function runBenchmark(benchmark: Benchmark, options: RunOptions): Promise<BenchmarkResult> {
  if (benchmark.report !== undefined) {
    return {
      name: benchmark.name,
      title: benchmark.title,
      cases: [],
      report: await benchmark.report(options.records),
    };
  }
  const filter = options.caseFilter;
  const cases = benchmark
    .setup(options.records)
    .filter((c) => filter === undefined || c.name.includes(filter));
  const times: number[][] = cases.map(() => []);
  const cpuTimes: number[][] = cases.map(() => []);
  for (let w = 0; w < options.warmups; w++) {
    for (const c of cases) await timeCase(c);
  }
  for (let round = 0; round < options.repetitions; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      const { wallMs, cpuMs } = await timeCase(cases[index]);
      times[index].push(wallMs);
      cpuTimes[index].push(cpuMs);
      options.log(
        `  ${benchmark.name} round ${round + 1}: ${cases[index].name} ${wallMs.toFixed(1)} ms (cpu ${cpuMs.toFixed(1)} ms)`,
      );
    }
  }
  return {
    name: benchmark.name,
    title: benchmark.title,
    cases: cases.map((c, i) => ({
      name: c.name,
      reference: c.reference === true,
      records: options.records,
      timesMs: times[i],
      cpuTimesMs: cpuTimes[i],
    })),
  };
}

/** Runs one case after a full GC and checks its output; wall-clock and CPU time in ms. */
export async function timeCase(c: BenchCase): Promise<{ wallMs: number; cpuMs: number }> {
  collectGarbage();
  const cpuStarted = process.cpuUsage();
  const started = performance.now();
  const checksum = await c.run();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStarted);
  if (checksum.count !== c.expected.count || checksum.sum !== c.expected.sum) {
    throw new Error(
      `case '${c.name}' produced count=${checksum.count} sum=${checksum.sum}, expected count=${c.expected.count} sum=${c.expected.sum}`,
    );
  }
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
