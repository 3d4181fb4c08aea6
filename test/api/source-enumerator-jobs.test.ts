/**
 * Split enumerators in running jobs: a split assigned around a checkpoint is read exactly once
 * after a restore, a pull-based source rescales through savepoints (2 → 3 → 1) with exact
 * results, a discovering enumerator feeds a running job, and a backpressured source stops polling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CollectSink,
  type InputStatus,
  ManualClock,
  type ReaderOutput,
  type Sink,
  type Source,
  type SourceReader,
  type SourceReaderContext,
  type SourceSplit,
  type SplitEnumerator,
  type SplitEnumeratorContext,
  StreamExecutionEnvironment,
} from '../../src/index.ts';
import { multiset, waitFor, withTempDir } from '../it/support.ts';

/** The integers `[next, end)`. */
interface RangeSplit extends SourceSplit {
  readonly next: number;
  readonly end: number;
}

const ranges = (count: number, size: number, first = 0): RangeSplit[] =>
  Array.from({ length: count }, (_, k) => ({
    splitId: `r${first + k}`,
    next: (first + k) * size,
    end: (first + k + 1) * size,
  }));

/** What the test controls and observes, shared with every enumerator and reader of a source. */
class Control {
  /** Answer split requests at once; else they wait for `answer()`. */
  auto = true;
  readonly #requests: (() => void)[] = [];
  /** Records all readers together may emit; readers wait beyond it. */
  budget = Number.POSITIVE_INFINITY;
  emitted = 0;
  polls = 0;
  /** Splits the next discovery run finds (dynamic sources). */
  discoverable: RangeSplit[] = [];
  #waiters: (() => void)[] = [];

  get pendingRequests(): number {
    return this.#requests.length;
  }
  request(answer: () => void): void {
    this.#requests.push(answer);
    if (this.auto) this.answer();
  }
  answer(): void {
    for (const answer of this.#requests.splice(0)) answer();
  }
  raiseBudget(to: number): void {
    this.budget = to;
    for (const wake of this.#waiters.splice(0)) wake();
  }
  budgetAvailable(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Hands out one split per request (pull-based, as Flink's FileSource); with discovery, finds new splits periodically. */
class PullEnumerator implements SplitEnumerator<RangeSplit, RangeSplit[]> {
  readonly #context: SplitEnumeratorContext<RangeSplit>;
  readonly #pool: RangeSplit[];
  readonly #control: Control;
  readonly #bounded: boolean;
  readonly #discoveryPeriodMs: number | undefined;
  /** Requests that found the pool empty (unbounded: they wait for discovery). */
  readonly #parked: number[] = [];

  constructor(
    context: SplitEnumeratorContext<RangeSplit>,
    pool: readonly RangeSplit[],
    control: Control,
    bounded: boolean,
    discoveryPeriodMs: number | undefined,
  ) {
    this.#context = context;
    this.#pool = [...pool];
    this.#control = control;
    this.#bounded = bounded;
    this.#discoveryPeriodMs = discoveryPeriodMs;
  }

  start(): void {
    if (this.#discoveryPeriodMs === undefined) return;
    this.#context.callAsync(
      () => this.#control.discoverable.splice(0),
      (found, error) => {
        if (error !== undefined) throw error;
        this.#pool.push(...(found ?? []));
        for (const reader of this.#parked.splice(0)) this.#answer(reader);
      },
      this.#discoveryPeriodMs,
    );
  }

  handleSplitRequest(subtaskIndex: number): void {
    this.#control.request(() => this.#answer(subtaskIndex));
  }

  addReader(): void {}

  addSplitsBack(splits: readonly RangeSplit[]): void {
    this.#pool.unshift(...splits);
  }

  snapshotState(): RangeSplit[] {
    return [...this.#pool];
  }

  close(): void {}

  #answer(subtaskIndex: number): void {
    if (!this.#context.registeredReaders().has(subtaskIndex)) return;
    const split = this.#pool.shift();
    if (split !== undefined) this.#context.assignSplits(new Map([[subtaskIndex, [split]]]));
    else if (this.#bounded) this.#context.signalNoMoreSplits(subtaskIndex);
    else this.#parked.push(subtaskIndex);
  }
}

/** Reads its splits in order, within the control's budget; asks for the next split when it runs out. */
class RangeReader implements SourceReader<number, RangeSplit> {
  readonly #context: SourceReaderContext;
  readonly #control: Control;
  readonly #splits: { splitId: string; next: number; end: number }[] = [];
  #noMoreSplits = false;

  constructor(context: SourceReaderContext, control: Control) {
    this.#context = context;
    this.#control = control;
  }

  start(): void {
    if (this.#splits.length === 0) this.#context.sendSplitRequest();
  }

  addSplits(splits: readonly RangeSplit[]): void {
    for (const { splitId, next, end } of splits) this.#splits.push({ splitId, next, end });
  }

  notifyNoMoreSplits(): void {
    this.#noMoreSplits = true;
  }

  pollNext(output: ReaderOutput<number>, maxRecords: number): InputStatus {
    const control = this.#control;
    control.polls++;
    for (let n = 0; n < maxRecords; n++) {
      const split = this.#splits[0];
      if (split === undefined) return this.#noMoreSplits ? 'end-of-input' : 'nothing-available';
      if (control.emitted >= control.budget) return 'nothing-available';
      control.emitted++;
      output.createOutputForSplit(split.splitId).collect(split.next++);
      if (split.next >= split.end) {
        this.#splits.shift();
        output.releaseOutputForSplit(split.splitId);
        if (this.#splits.length === 0) this.#context.sendSplitRequest();
      }
    }
    return 'more-available';
  }

  isAvailable(): Promise<void> {
    // Splits arrive as mail, which wakes the task by itself; only the budget needs a promise.
    return this.#control.budgetAvailable();
  }

  snapshotSplits(): RangeSplit[] {
    return this.#splits.map((s) => ({ ...s }));
  }

  close(): void {}
}

class PullSource implements Source<number, RangeSplit, RangeSplit[]> {
  readonly boundedness;
  readonly #splits: readonly RangeSplit[];
  readonly #control: Control;
  readonly #discoveryPeriodMs: number | undefined;

  constructor(control: Control, splits: readonly RangeSplit[], discoveryPeriodMs?: number) {
    this.#control = control;
    this.#splits = splits;
    this.#discoveryPeriodMs = discoveryPeriodMs;
    this.boundedness = discoveryPeriodMs === undefined ? ('bounded' as const) : ('unbounded' as const);
  }

  createEnumerator(context: SplitEnumeratorContext<RangeSplit>): PullEnumerator {
    return this.restoreEnumerator(context, this.#splits);
  }

  restoreEnumerator(
    context: SplitEnumeratorContext<RangeSplit>,
    state: readonly RangeSplit[],
  ): PullEnumerator {
    const bounded = this.boundedness === 'bounded';
    return new PullEnumerator(context, state, this.#control, bounded, this.#discoveryPeriodMs);
  }

  createReader(context: SourceReaderContext): RangeReader {
    return new RangeReader(context, this.#control);
  }
}

const sumTo = (n: number) => (n * (n - 1)) / 2;
/** The last [count, sum] a job's keyed reduce emitted: exact iff every record counted once. */
const last = (sink: CollectSink<[number, number]>) =>
  [...sink.values].sort((a, b) => a[0] - b[0]).at(-1) ?? [0, 0];

/** source → (fails once at `failAt`) → keyed [count, sum] → sink. */
function countingJob(
  env: StreamExecutionEnvironment,
  source: PullSource,
  failAt?: { value: number; done: boolean },
) {
  const sink = new CollectSink<[number, number]>();
  env
    .fromSource(source, undefined, 'Source: ranges')
    .uid('ranges')
    .map((v) => {
      if (failAt !== undefined && !failAt.done && v === failAt.value) {
        failAt.done = true;
        throw new Error(`injected failure at ${v}`);
      }
      return [1, v] as [number, number];
    })
    .keyBy(() => 0)
    .reduce((a, b) => [a[0] + b[0], a[1] + b[1]] as [number, number])
    .uid('sum')
    .sinkTo(sink);
  return sink;
}

describe('a split assigned around a checkpoint', () => {
  for (const order of ['checkpoint, then assignment', 'assignment, then checkpoint'] as const) {
    it(`is neither lost nor duplicated after a restore (${order})`, async () => {
      const control = new Control();
      control.auto = false;
      const env = new StreamExecutionEnvironment({
        parallelism: 1,
        clock: new ManualClock(),
        // Only the checkpoint the test triggers.
        checkpointing: { intervalMs: 1e12 },
        restartStrategy: { kind: 'fixed-delay', attempts: 1, delayMs: 0 },
      });
      const failAt = { value: 13, done: false };
      const sink = countingJob(env, new PullSource(control, ranges(4, 5)), failAt);
      const client = env.executeAsync('assignment around a checkpoint');
      await waitFor(() => control.pendingRequests === 1, 'the reader asks for a split');
      if (order === 'checkpoint, then assignment') {
        // The enumerator still holds every split: the checkpoint has them all as unassigned.
        await client.triggerCheckpoint();
        control.answer();
      } else {
        // The assignment's mail precedes the trigger's in the reader's mailbox.
        control.answer();
        await client.triggerCheckpoint();
      }
      control.auto = true;
      control.answer();
      const result = await client.result();
      expect(result.restarts).toBe(1);
      expect(failAt.done).toBe(true);
      expect(last(sink)).toEqual([20, sumTo(20)]);
    });
  }
});

describe('an enumerator source rescaled through savepoints', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(async () => {
    const ready = new Promise<string>((resolve) => {
      void withTempDir(
        (d) =>
          new Promise<void>((done) => {
            cleanup = done;
            resolve(d);
          }),
      );
    });
    dir = await ready;
  });
  afterAll(() => cleanup());

  it('2 → 3 → 1 gives exact results, with splits still unassigned in the enumerator state', async () => {
    const control = new Control();
    const total = 8 * 10;
    const run = async (parallelism: number, budget: number, from: string | undefined) => {
      const env = new StreamExecutionEnvironment({
        parallelism,
        clock: new ManualClock(),
        checkpointStorage: `${dir}/checkpoints`,
        ...(from === undefined ? {} : { restore: { kind: 'path' as const, path: from } }),
      });
      const sink = countingJob(env, new PullSource(control, ranges(8, 10)));
      control.raiseBudget(budget);
      const client = env.executeAsync(`rescale p=${parallelism}`);
      if (budget === Number.POSITIVE_INFINITY) {
        await client.result();
        return { sink, savepoint: undefined };
      }
      await waitFor(() => control.emitted === budget, `p=${parallelism} reads up to its budget`);
      const savepoint = await client.stopWithSavepoint(`${dir}/savepoints`);
      await client.result();
      return { sink, savepoint };
    };
    const first = await run(2, 17, undefined);
    expect(last(first.sink)).toEqual([17, sumTo(17)]);
    const second = await run(3, 41, first.savepoint);
    expect(last(second.sink)[0]).toBe(41);
    const third = await run(1, Number.POSITIVE_INFINITY, second.savepoint);
    expect(last(third.sink)).toEqual([total, sumTo(total)]);
    expect(control.emitted).toBe(total);
  });
});

describe('a discovering enumerator', () => {
  it('feeds splits that appear after start to a running job, each record once', async () => {
    const control = new Control();
    const clock = new ManualClock();
    const env = new StreamExecutionEnvironment({ parallelism: 2, clock });
    const sink = new CollectSink<number>();
    env.fromSource(new PullSource(control, [], 100), undefined, 'Source: discovered').sinkTo(sink);
    const client = env.executeAsync('discovery');
    const expected: number[] = [];
    for (const [round, count] of [
      [0, 1],
      [1, 3],
      [4, 2],
    ] as const) {
      const found = ranges(count, 7, round);
      expected.push(...found.flatMap((s) => Array.from({ length: s.end - s.next }, (_, i) => s.next + i)));
      control.discoverable.push(...found);
      // Discovery runs every 100 ms of the job's clock; readers ask again as they finish splits.
      await waitFor(() => {
        clock.advance(100);
        return sink.values.length === expected.length;
      }, `round ${round}: the discovered splits are read`);
    }
    expect(multiset(sink.values)).toEqual(multiset(expected));
    expect(client.status()).toBe('RUNNING');
    await client.cancel();
  });
});

describe('backpressure', () => {
  it('a source task does not poll its reader while its output is full', async () => {
    const control = new Control();
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let written = 0;
    const slowSink: Sink<number> = {
      createWriter: () => ({
        write: () => {
          written++;
        },
        flush: () => blocked,
        close() {},
      }),
    };
    const env = new StreamExecutionEnvironment({ parallelism: 1, clock: new ManualClock() });
    // rebalance(): a network channel between source and sink, so the source has an output to fill.
    env
      .fromSource(new PullSource(control, ranges(1, 1e9)), undefined, 'Source: endless')
      .rebalance()
      .sinkTo(slowSink);
    const client = env.executeAsync('backpressure');
    await waitFor(() => written > 0, 'the sink takes its first batch');
    const settle = async () => {
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    };
    await settle();
    const pollsWhileFull = control.polls;
    // One batch in the sink, the channel's bounded capacity (8 batches of 512), one step over.
    expect(pollsWhileFull).toBeLessThanOrEqual(12);
    await settle();
    expect(control.polls).toBe(pollsWhileFull);
    release();
    await waitFor(() => control.polls > pollsWhileFull + 20, 'polling resumes once the sink drains');
    await client.cancel();
  });
});
