/** Test helpers that drive source readers directly, without a runtime. */

import type {
  ReaderOutput,
  Source,
  SourceReader,
  SourceReaderContext,
  SourceSplit,
} from '../../../src/api/source.ts';
import { type Clock, SystemClock } from '../../../src/core/clock.ts';
import { SeededRandom } from '../../../src/core/random.ts';

/** A record as a reader emitted it. */
export interface Emitted<T> {
  readonly value: T;
  readonly timestampMs: number | undefined;
}

/** A reader context for subtask `subtaskIndex` of `parallelism`. */
export function readerContext(
  subtaskIndex = 0,
  parallelism = 1,
  clock: Clock = new SystemClock(),
): SourceReaderContext {
  return {
    subtaskIndex,
    parallelism,
    clock,
    random: new SeededRandom(subtaskIndex),
    operatorName: 'test-source',
    sendSplitRequest: () => {},
  };
}

/** A reader output that hands every record to `collect`; split outputs do the same. */
export function readerOutput<T>(collect: (value: T, timestampMs?: number) => void): ReaderOutput<T> {
  const output: ReaderOutput<T> = {
    collect,
    createOutputForSplit: () => output,
    releaseOutputForSplit: () => {},
  };
  return output;
}

/** Gives a reader `splits` and "no more splits", as the static enumerator does, then starts it. */
export function startReader<S extends SourceSplit>(
  reader: SourceReader<unknown, S>,
  splits: readonly S[],
): void | Promise<void> {
  reader.addSplits(splits);
  reader.notifyNoMoreSplits();
  return reader.start();
}

/** A source with the fixed split list its static enumerator deals out. */
export type StaticSource<T, S extends SourceSplit> = Source<T, S, unknown> & {
  createSplits(parallelism: number): readonly S[] | Promise<readonly S[]>;
};

export interface DrainOptions {
  /** Records asked per poll, or a function choosing it per poll (to vary batching); default 16. */
  readonly maxRecords?: number | (() => number);
  /** Stop (without awaiting availability) after this many polls; default: run to end of input. */
  readonly pollsMax?: number;
}

/**
 * Polls `reader` until end of input (or `pollsMax` polls), awaiting `isAvailable` after each
 * 'nothing-available', and returns what it emitted. Fails if a poll emits more than asked.
 */
export async function drainReader<T, S extends SourceSplit>(
  reader: SourceReader<T, S>,
  options: DrainOptions = {},
): Promise<Emitted<T>[]> {
  const { maxRecords = 16, pollsMax = Number.POSITIVE_INFINITY } = options;
  const emitted: Emitted<T>[] = [];
  const output = readerOutput((value: T, timestampMs?: number) => {
    emitted.push({ value, timestampMs });
  });
  // A generous bound, so a reader that never ends fails the test instead of hanging it.
  const pollsLimit = Math.min(pollsMax, 10_000_000);
  for (let polls = 0; polls < pollsLimit; ) {
    const asked = typeof maxRecords === 'number' ? maxRecords : maxRecords();
    const before = emitted.length;
    const status = reader.pollNext(output, asked);
    polls++;
    if (emitted.length - before > asked)
      throw new Error(`poll emitted ${emitted.length - before} > ${asked}`);
    if (status === 'end-of-input') return emitted;
    if (status === 'nothing-available' && polls < pollsLimit) await reader.isAvailable();
  }
  if (pollsMax === Number.POSITIVE_INFINITY) throw new Error('reader did not reach end of input');
  return emitted;
}

/** Starts a reader of `source` on `splits`, drains it and closes it; returns the values. */
export async function readSplits<T, S extends SourceSplit>(
  source: Source<T, S, unknown>,
  splits: readonly S[],
  context: SourceReaderContext = readerContext(),
  options: DrainOptions = {},
): Promise<T[]> {
  const reader = source.createReader(context);
  await startReader(reader, splits);
  const emitted = await drainReader(reader, options);
  await reader.close();
  return emitted.map((e) => e.value);
}

/**
 * Runs `parallelism` readers, giving reader `i` the `i`-th contiguous block of splits, and
 * returns each reader's values. Concatenated, they are the whole input in split order.
 */
export async function readInParallel<T, S extends SourceSplit>(
  source: StaticSource<T, S>,
  parallelism: number,
  options: DrainOptions = {},
): Promise<T[][]> {
  const splits = await source.createSplits(parallelism);
  const blockSize = Math.ceil(splits.length / parallelism);
  const results: T[][] = [];
  for (let i = 0; i < parallelism; i++) {
    const block = splits.slice(i * blockSize, (i + 1) * blockSize);
    results.push(await readSplits(source, block, readerContext(i, parallelism), options));
  }
  return results;
}
