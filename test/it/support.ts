/** Shared helpers of the integration tests: parallelisms, multisets, seeded data, waiting, temp dirs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type InputStatus,
  type MapFunctionObject,
  type ReaderOutput,
  type RuntimeContext,
  SeededRandom,
  type Source,
  type SourceReader,
  type SourceSplit,
  type SplitEnumeratorContext,
  StaticSplitEnumerator,
  type StaticSplitEnumeratorState,
} from '../../src/index.ts';

/** Every integration test runs its job at each of these parallelisms. */
export const PARALLELISMS = [1, 2, 4] as const;

/** A multiset as a sorted array of canonical strings, so `toEqual` compares multisets. */
export function multiset(values: Iterable<unknown>): string[] {
  return [...values].map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).sort();
}

/** Groups values by key, keeping their order: the per-key sequences a keyed job must preserve. */
export function groupInOrder<T, K>(values: Iterable<T>, keyOf: (value: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const value of values) {
    const key = keyOf(value);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [value]);
    else group.push(value);
  }
  return groups;
}

/** The same map with its entries sorted by key, for stable comparison and readable diffs. */
export function sortedEntries<K, V>(map: Map<K, V>): [K, V][] {
  return [...map.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
}

/** A random source for test data; the seed goes into every assertion message. */
export function seeded(seed: number): SeededRandom {
  return new SeededRandom(seed);
}

/** A seed for this run: fixed by WEIR_TEST_SEED to replay a failure, else new each run. */
export function testSeed(): number {
  const fixed = process.env.WEIR_TEST_SEED;
  return fixed === undefined ? (Math.random() * 2 ** 31) >>> 0 : Number(fixed);
}

/** A rich map that tags each record with its subtask: `open` runs per subtask, on a per-subtask copy. */
export class TagSubtask<T, R> implements MapFunctionObject<T, R> {
  subtask = -1;
  readonly tag: (value: T, subtask: number) => R;
  constructor(tag: (value: T, subtask: number) => R) {
    this.tag = tag;
  }
  open(context: RuntimeContext): void {
    this.subtask = context.subtaskIndex;
  }
  map(value: T): R {
    return this.tag(value, this.subtask);
  }
}

/** Polls `condition` between event-loop turns; fails (with `what`) only if it never holds. */
export async function waitFor(condition: () => boolean, what: string, attemptsMax = 5_000): Promise<void> {
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Runs `body` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<R>(body: (dir: string) => Promise<R>): Promise<R> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-it-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface GateSplit extends SourceSplit {}

/**
 * A one-subtask source that emits `elements`, then holds the job open (reporting nothing
 * available) until `release()`, then emits `afterRelease` and ends. Lets a test act while the
 * job is running with a known prefix of its input, e.g. advance a ManualClock to fire
 * processing-time timers, or hold one input back until the other has been seen.
 */
export class GatedSource<T> implements Source<T, GateSplit, StaticSplitEnumeratorState<GateSplit>> {
  readonly boundedness = 'bounded';
  readonly maxParallelism = 1;
  readonly #elements: readonly T[];
  /** Elements from this index on wait for the release. */
  readonly #gateIndex: number;
  #released = false;
  #onRelease: (() => void)[] = [];

  constructor(elements: readonly T[], afterRelease: readonly T[] = []) {
    this.#elements = [...elements, ...afterRelease];
    this.#gateIndex = elements.length;
  }

  release(): void {
    this.#released = true;
    for (const wake of this.#onRelease.splice(0)) wake();
  }

  createEnumerator(context: SplitEnumeratorContext<GateSplit>): StaticSplitEnumerator<GateSplit> {
    return new StaticSplitEnumerator(context, [{ splitId: 'gate' }]);
  }

  restoreEnumerator(
    context: SplitEnumeratorContext<GateSplit>,
    state: StaticSplitEnumeratorState<GateSplit>,
  ): StaticSplitEnumerator<GateSplit> {
    return new StaticSplitEnumerator(context, state);
  }

  createReader(): SourceReader<T, GateSplit> {
    const gate = this;
    const elements = this.#elements;
    let index = 0;
    let owned = false;
    let noMoreSplits = false;
    return {
      start() {},
      addSplits(splits) {
        owned ||= splits.length > 0;
      },
      notifyNoMoreSplits() {
        noMoreSplits = true;
      },
      pollNext(output: ReaderOutput<T>, maxRecords: number): InputStatus {
        // Splits and "no more splits" come as mail, which wakes the task: no waiting needed here.
        if (!owned) return noMoreSplits ? 'end-of-input' : 'nothing-available';
        const limit = gate.#released ? elements.length : gate.#gateIndex;
        const end = Math.min(limit, index + maxRecords);
        while (index < end) output.collect(elements[index++]);
        if (index < limit) return 'more-available';
        return gate.#released ? 'end-of-input' : 'nothing-available';
      },
      isAvailable(): Promise<void> {
        if (gate.#released) return Promise.resolve();
        return new Promise((resolve) => gate.#onRelease.push(resolve));
      },
      snapshotSplits: () => [],
      close() {},
    };
  }
}
