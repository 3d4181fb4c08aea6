/** A deterministic, optionally rate-limited source that generates records from their sequence index. */
import type { Cancellable, Clock } from '../../core/clock.ts';
import { ConfigurationError, WeirError } from '../../core/errors.ts';
import { type RandomSource, SeededRandom } from '../../core/random.ts';
import type { InputStatus, ReaderOutput, SourceReader, SourceReaderContext, SourceSplit } from '../source.ts';
import { StaticSplitSource } from './static-split-source.ts';

/** How a {@link DataGeneratorSource} is configured. */
export interface DataGeneratorOptions<T> {
  /** How many records to generate (indices `0 .. count-1`); omit for an unbounded source. */
  readonly count?: number;
  /**
   * Builds the record for `index`. `random` is seeded from `seed` and `index` alone, so a
   * record never depends on parallelism, batching or restores. It is valid only during the call.
   */
  readonly generate: (index: number, random: RandomSource) => T;
  /** Total records per second over all subtasks (each gets an equal share); omit for no limit. */
  readonly ratePerSecond?: number;
  /** Seed of the per-index random sources; default 0. */
  readonly seed?: number;
  /** The record's event time, if it has one. */
  readonly timestamp?: (value: T, index: number) => number;
}

/**
 * A run of indices `nextIndex, nextIndex + stride, ...` below `endIndex` (`null`: no end).
 * `nextIndex` is the split's position: the next index to emit.
 */
export interface DataGeneratorSplit extends SourceSplit {
  readonly nextIndex: number;
  readonly endIndex: number | null;
  readonly stride: number;
}

/**
 * A bucket holds at most this much unused sending time: a reader that fell behind (backpressure,
 * a pause) catches up by at most one second's worth of records at once, as Guava's limiter does.
 */
const CATCH_UP_MS_MAX = 1000;

/**
 * Generates `generate(i, random)` for each index `i`, split over the subtasks.
 *
 * Bounded (`count` given): indices are cut into one contiguous, near-equal range per subtask.
 * Unbounded: split `k` of `p` emits `k, k+p, k+2p, ...`. A reader owning several splits (after a
 * restore at another parallelism) takes one record from each in turn.
 *
 * @example
 * ```ts
 * const orders = new DataGeneratorSource({
 *   count: 1_000,
 *   ratePerSecond: 100,
 *   generate: (i, random) => ({ id: i, amount: random.nextInt(500) }),
 * });
 * ```
 */
export class DataGeneratorSource<T> extends StaticSplitSource<T, DataGeneratorSplit> {
  readonly boundedness: 'bounded' | 'unbounded';
  readonly #options: DataGeneratorOptions<T>;

  constructor(options: DataGeneratorOptions<T>) {
    super();
    const { count, ratePerSecond, seed } = options;
    if (count !== undefined && !(Number.isSafeInteger(count) && count >= 0)) {
      throw new ConfigurationError(`DataGeneratorSource count must be a non-negative integer, got ${count}`);
    }
    if (ratePerSecond !== undefined && !(Number.isFinite(ratePerSecond) && ratePerSecond > 0)) {
      throw new ConfigurationError(
        `DataGeneratorSource ratePerSecond must be a positive finite number, got ${ratePerSecond}`,
      );
    }
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new ConfigurationError(`DataGeneratorSource seed must be an integer, got ${seed}`);
    }
    this.#options = options;
    this.boundedness = count === undefined ? 'unbounded' : 'bounded';
  }

  /** The splits the enumerator deals out, split `k` to subtask `k`. */
  createSplits(parallelism: number): readonly DataGeneratorSplit[] {
    if (!(Number.isSafeInteger(parallelism) && parallelism >= 1)) {
      throw new WeirError(`cannot split a data generator for parallelism ${parallelism}`);
    }
    const { count } = this.#options;
    const splits: DataGeneratorSplit[] = [];
    if (count === undefined) {
      for (let k = 0; k < parallelism; k++) {
        splits.push({ splitId: `generator-${k}`, nextIndex: k, endIndex: null, stride: parallelism });
      }
      return splits;
    }
    // The first `count % parallelism` ranges get one extra index.
    const base = Math.floor(count / parallelism);
    const extra = count % parallelism;
    for (let k = 0; k < parallelism; k++) {
      const start = k * base + Math.min(k, extra);
      const end = start + base + (k < extra ? 1 : 0);
      splits.push({ splitId: `generator-${k}`, nextIndex: start, endIndex: end, stride: 1 });
    }
    return splits;
  }

  createReader(context: SourceReaderContext): SourceReader<T, DataGeneratorSplit> {
    return new DataGeneratorReader(this.#options, this.boundedness === 'bounded', context);
  }
}

interface SplitState {
  readonly splitId: string;
  nextIndex: number;
  readonly endIndex: number | null;
  readonly stride: number;
}

class DataGeneratorReader<T> implements SourceReader<T, DataGeneratorSplit> {
  readonly #generate: (index: number, random: RandomSource) => T;
  readonly #timestamp: ((value: T, index: number) => number) | undefined;
  readonly #random: IndexRandom;
  readonly #bounded: boolean;
  readonly #clock: Clock;
  // Milliseconds between two records of this reader; undefined: no rate limit.
  readonly #intervalMs: number | undefined;
  #splits: SplitState[] = [];
  #noMoreSplits = false;
  #turn = 0;
  // The rate schedule: record number `n` of this reader is due at baseMs + (n - baseCount) * interval.
  #baseMs = 0;
  #baseCount = 0;
  #emitted = 0;
  #waiting: { promise: Promise<void>; resolve: () => void; timer: Cancellable | undefined } | undefined;

  constructor(options: DataGeneratorOptions<T>, bounded: boolean, context: SourceReaderContext) {
    this.#generate = options.generate;
    this.#timestamp = options.timestamp;
    this.#random = new IndexRandom(options.seed ?? 0);
    this.#bounded = bounded;
    this.#clock = context.clock;
    this.#intervalMs =
      options.ratePerSecond === undefined ? undefined : (1000 * context.parallelism) / options.ratePerSecond;
  }

  start(): void {
    this.#baseMs = this.#clock.now();
  }

  addSplits(splits: readonly DataGeneratorSplit[]): void {
    for (const split of splits) {
      const { splitId, nextIndex, endIndex, stride } = split;
      if (
        !(Number.isSafeInteger(nextIndex) && nextIndex >= 0 && Number.isSafeInteger(stride) && stride >= 1)
      ) {
        throw new WeirError(`invalid data generator split ${JSON.stringify(split)}`);
      }
      if ((endIndex === null) === this.#bounded) {
        throw new WeirError(`data generator split ${splitId} does not match the source's boundedness`);
      }
      if (endIndex === null || nextIndex < endIndex) {
        this.#splits.push({ splitId, nextIndex, endIndex, stride });
      }
    }
    this.#wake();
  }

  notifyNoMoreSplits(): void {
    this.#noMoreSplits = true;
    this.#wake();
  }

  /** Ends a wait for splits (or for the rate limit: the next poll re-checks the schedule). */
  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.timer?.cancel();
    waiting?.resolve();
  }

  pollNext(output: ReaderOutput<T>, maxRecords: number): InputStatus {
    const splits = this.#splits;
    const interval = this.#intervalMs;
    const now = interval === undefined ? 0 : this.#clock.now();
    if (interval !== undefined) this.#catchUp(now);
    for (let n = 0; n < maxRecords && splits.length > 0; n++) {
      if (interval !== undefined && this.#dueMs(this.#emitted) > now) return 'nothing-available';
      if (this.#turn >= splits.length) this.#turn = 0;
      const split = splits[this.#turn];
      const index = split.nextIndex;
      const value = this.#generate(index, this.#random.at(index));
      const timestampMs = this.#timestamp?.(value, index);
      split.nextIndex = index + split.stride;
      this.#emitted++;
      if (split.endIndex !== null && split.nextIndex >= split.endIndex) {
        splits.splice(this.#turn, 1);
      } else {
        this.#turn++;
      }
      output.collect(value, timestampMs);
    }
    if (splits.length === 0)
      return this.#bounded && this.#noMoreSplits ? 'end-of-input' : 'nothing-available';
    if (interval !== undefined && this.#dueMs(this.#emitted) > now) return 'nothing-available';
    return 'more-available';
  }

  isAvailable(): Promise<void> {
    // Without splits an unbounded reader (or a bounded one still expecting splits) idles until
    // splits arrive or it is closed.
    const idle = this.#splits.length === 0 && !(this.#bounded && this.#noMoreSplits);
    if (!idle && (this.#intervalMs === undefined || this.#splits.length === 0)) return Promise.resolve();
    const dueMs = idle ? undefined : this.#dueMs(this.#emitted);
    if (dueMs !== undefined && dueMs <= this.#clock.now()) return Promise.resolve();
    if (this.#waiting !== undefined) return this.#waiting.promise;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    const waiting = { promise, resolve, timer: undefined as Cancellable | undefined };
    this.#waiting = waiting;
    if (dueMs !== undefined) {
      waiting.timer = this.#clock.schedule(dueMs, () => {
        if (this.#waiting === waiting) this.#waiting = undefined;
        resolve();
      });
    }
    return promise;
  }

  snapshotSplits(): DataGeneratorSplit[] {
    return this.#splits.map(({ splitId, nextIndex, endIndex, stride }) => ({
      splitId,
      nextIndex,
      endIndex,
      stride,
    }));
  }

  close(): void {
    this.#wake();
    this.#splits = [];
  }

  #dueMs(recordNumber: number): number {
    return this.#baseMs + (recordNumber - this.#baseCount) * (this.#intervalMs ?? 0);
  }

  /** Forgets schedule slots older than the catch-up bound, so a stalled reader does not burst. */
  #catchUp(nowMs: number): void {
    if (nowMs - this.#dueMs(this.#emitted) > CATCH_UP_MS_MAX) {
      this.#baseMs = nowMs - CATCH_UP_MS_MAX;
      this.#baseCount = this.#emitted;
    }
  }
}

/**
 * The random source handed to `generate` for one index: `SeededRandom(mix(seed, index))`, built
 * lazily so generators that ignore it cost no allocation.
 */
class IndexRandom implements RandomSource {
  readonly #seed: number;
  #index = 0;
  #random: SeededRandom | undefined;

  constructor(seed: number) {
    this.#seed = seed >>> 0;
  }

  at(index: number): this {
    this.#index = index;
    this.#random = undefined;
    return this;
  }

  next(): number {
    this.#random ??= new SeededRandom(mixIndex(this.#seed, this.#index));
    return this.#random.next();
  }

  nextInt(bound: number): number {
    return Math.floor(this.next() * bound);
  }
}

/** murmur3's 32-bit finalizer: a bijection that spreads every input bit over the output. */
function fmix32(value: number): number {
  let h = value | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit seed for `index` (up to 2^53) under `seed`; neighbouring indices get unrelated seeds. */
function mixIndex(seed: number, index: number): number {
  const low = index >>> 0;
  const high = Math.floor(index / 0x1_0000_0000) >>> 0;
  return fmix32(seed ^ fmix32(low ^ fmix32(high + 0x9e3779b9)));
}
