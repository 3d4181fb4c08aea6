/** The split-enumerator protocol: the static helper and the job manager's coordinator, without a running job. */
import { describe, expect, it } from 'vitest';
import type { ReaderEvents } from '../../../src/api/operators/source-reader-link.ts';
import type {
  Source,
  SourceSplit,
  SplitEnumerator,
  SplitEnumeratorContext,
} from '../../../src/api/source.ts';
import { StaticSplitEnumerator } from '../../../src/api/sources/static-split-enumerator.ts';
import { type EnumeratorOrigin, SourceCoordinator } from '../../../src/cluster/source-coordinator.ts';
import { ManualClock } from '../../../src/core/clock.ts';

interface TestSplit extends SourceSplit {
  readonly n: number;
}
const split = (n: number): TestSplit => ({ splitId: `s${n}`, n });

/** A reader as the coordinator sees it: it records what it was sent. */
class FakeReader implements ReaderEvents<SourceSplit> {
  readonly splits: SourceSplit[] = [];
  noMore = false;
  addSplits(splits: readonly SourceSplit[]): void {
    this.splits.push(...splits);
  }
  noMoreSplits(): void {
    this.noMore = true;
  }
}

/** Gives split requests an answer only when the test says so: `answer()` assigns one split per waiting reader. */
class LazyEnumerator implements SplitEnumerator<TestSplit, TestSplit[]> {
  readonly #context: SplitEnumeratorContext<TestSplit>;
  readonly pool: TestSplit[];
  readonly requests: number[] = [];
  readonly returned: TestSplit[] = [];
  completed: number[] = [];
  closed = false;

  constructor(context: SplitEnumeratorContext<TestSplit>, pool: readonly TestSplit[]) {
    this.#context = context;
    this.pool = [...pool];
  }
  start(): void {}
  handleSplitRequest(subtaskIndex: number): void {
    this.requests.push(subtaskIndex);
  }
  addReader(): void {}
  addSplitsBack(splits: readonly TestSplit[]): void {
    this.returned.push(...splits);
    this.pool.unshift(...splits);
  }
  answer(): void {
    for (const reader of this.requests.splice(0)) {
      const next = this.pool.shift();
      if (next === undefined) this.#context.signalNoMoreSplits(reader);
      else this.#context.assignSplits(new Map([[reader, [next]]]));
    }
  }
  snapshotState(): TestSplit[] {
    return [...this.pool];
  }
  notifyCheckpointComplete(checkpointId: number): void {
    this.completed.push(checkpointId);
  }
  close(): void {
    this.closed = true;
  }
}

function lazySource(pool: readonly TestSplit[]) {
  const made: LazyEnumerator[] = [];
  const source: Source<number, TestSplit, TestSplit[]> = {
    boundedness: 'bounded',
    createEnumerator: (ctx) => {
      const e = new LazyEnumerator(ctx, pool);
      made.push(e);
      return e;
    },
    restoreEnumerator: (ctx, state) => {
      const e = new LazyEnumerator(ctx, state);
      made.push(e);
      return e;
    },
    createReader: () => {
      throw new Error('not used');
    },
  };
  return { source, made };
}

function coordinator(
  source: Source<unknown, SourceSplit, unknown>,
  origin: EnumeratorOrigin = { kind: 'fresh' },
  parallelism = 2,
  clock = new ManualClock(),
) {
  const failures: Error[] = [];
  const c = new SourceCoordinator({
    source,
    operatorId: 'src',
    operatorName: 'Source: test',
    parallelism,
    clock,
    origin,
    failJob: (error) => failures.push(error),
  });
  return { c, failures, clock };
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('StaticSplitEnumerator', () => {
  function context(parallelism: number) {
    const readers = new Set<number>();
    const assigned = new Map<number, SourceSplit[]>();
    const noMore = new Set<number>();
    const ctx: SplitEnumeratorContext<TestSplit> = {
      parallelism,
      clock: new ManualClock(),
      operatorName: 'test',
      registeredReaders: () => readers,
      assignSplits: (assignment) => {
        for (const [reader, splits] of assignment)
          assigned.set(reader, [...(assigned.get(reader) ?? []), ...splits]);
      },
      signalNoMoreSplits: (reader) => noMore.add(reader),
      callAsync: () => {},
      failJob: (error) => {
        throw error;
      },
    };
    return { ctx, readers, assigned, noMore };
  }

  it('deals split i to reader i % p when it registers, then signals no more splits', async () => {
    const { ctx, readers, assigned, noMore } = context(3);
    const enumerator = new StaticSplitEnumerator(ctx, async () => [0, 1, 2, 3, 4, 5, 6].map(split));
    await enumerator.start();
    expect(assigned.size).toBe(0);
    readers.add(1);
    enumerator.addReader(1);
    expect(assigned.get(1)).toEqual([split(1), split(4)]);
    expect([...noMore]).toEqual([1]);
    // Not yet registered readers' splits are the state: in list order, so a restore deals them the same way.
    expect(enumerator.snapshotState()).toEqual([0, 3, 2, 6, 5].map(split).sort((a, b) => a.n - b.n));
    enumerator.handleSplitRequest(1);
    expect(assigned.get(1)).toHaveLength(2);
  });

  it('restores from its state, and with no state assigns nothing (every split was in a reader)', async () => {
    const { ctx, readers, assigned, noMore } = context(2);
    const restored = new StaticSplitEnumerator(ctx, [split(7), split(8), split(9)]);
    readers.add(0);
    await restored.start(); // Readers registered before start() are served at start.
    expect(assigned.get(0)).toEqual([split(7), split(9)]);
    const empty = context(2);
    const legacy = new StaticSplitEnumerator(empty.ctx, []);
    await legacy.start();
    legacy.addReader(0);
    expect(empty.assigned.size).toBe(0);
    expect(empty.noMore.has(0)).toBe(true);
    expect(noMore.has(0)).toBe(true);
  });

  it('keeps splits handed back for their reader and delivers them when it registers again', async () => {
    const { ctx, assigned } = context(2);
    const enumerator = new StaticSplitEnumerator(ctx, [split(0)]);
    await enumerator.start();
    enumerator.addReader(0);
    enumerator.addSplitsBack([split(0)], 0);
    expect(enumerator.snapshotState()).toEqual([split(0)]);
    enumerator.addReader(0);
    expect(assigned.get(0)).toEqual([split(0), split(0)]);
    expect(enumerator.snapshotState()).toEqual([]);
  });
});

describe('SourceCoordinator', () => {
  it('runs split requests on the enumerator and delivers assignments to registered readers only', async () => {
    const { source, made } = lazySource([split(0), split(1)]);
    const { c, failures } = coordinator(source as Source<unknown, SourceSplit, unknown>);
    await c.start();
    const enumerator = made[0];
    const reader = new FakeReader();
    c.registerReader(1, reader);
    c.requestSplit(1);
    // Deferred: the enumerator never runs inside the reader's call.
    expect(enumerator.requests).toEqual([]);
    await settle();
    expect(enumerator.requests).toEqual([1]);
    enumerator.answer();
    expect(reader.splits).toEqual([split(0)]);
    // Assigning to a reader that is not registered is a bug of the enumerator: the job fails.
    c.requestSplit(0);
    await settle();
    expect(enumerator.requests).toEqual([]); // Requests of unregistered readers are dropped.
    enumerator.requests.push(0);
    expect(() => enumerator.answer()).toThrow(/reader 0 of 'Source: test' is not registered/);
    expect(failures).toEqual([]);
  });

  it('signals no more splits, then refuses further assignments to that reader', async () => {
    const { source, made } = lazySource([split(0)]);
    const { c } = coordinator(source as Source<unknown, SourceSplit, unknown>);
    await c.start();
    const reader = new FakeReader();
    c.registerReader(0, reader);
    c.requestSplit(0);
    c.requestSplit(0);
    await settle();
    made[0].answer();
    expect(reader.splits).toEqual([split(0)]);
    expect(reader.noMore).toBe(true);
    made[0].pool.push(split(5));
    made[0].requests.push(0);
    expect(() => made[0].answer()).toThrow(/no more splits/);
  });

  it('hands splits a reader could not take back to the enumerator (addSplitsBack)', async () => {
    const { source, made } = lazySource([split(0), split(1)]);
    const { c } = coordinator(source as Source<unknown, SourceSplit, unknown>);
    await c.start();
    c.registerReader(0, new FakeReader());
    await settle();
    c.returnSplits(0, [split(0)]);
    await settle();
    expect(made[0].returned).toEqual([split(0)]);
    expect(made[0].snapshotState()).toEqual([split(0), split(0), split(1)]);
  });

  it('snapshots through the serializer and restores the same state', async () => {
    const { source, made } = lazySource([split(0), split(1), split(2)]);
    const first = coordinator(source as Source<unknown, SourceSplit, unknown>);
    await first.c.start();
    made[0].pool.shift();
    const handle = first.c.snapshot(4);
    expect(handle).toMatchObject({ operatorId: 'src', serializerId: 'weir.value' });
    const second = coordinator(source as Source<unknown, SourceSplit, unknown>, {
      kind: 'restored',
      state: handle,
      pointer: '/ck/chk-4',
    });
    await second.c.start();
    expect(made[1].pool).toEqual([split(1), split(2)]);
    second.c.notifyCheckpointComplete(4);
    expect(made[1].completed).toEqual([4]);
    // A serializer that cannot read the state is a clear, non-restartable error.
    const other = coordinator(
      {
        ...source,
        enumeratorStateSerializer: { id: 'other', version: 1, serialize() {}, deserialize: () => [] },
      } as Source<unknown, SourceSplit, unknown>,
      { kind: 'restored', state: handle, pointer: '/ck/chk-4' },
    );
    await expect(other.c.start()).rejects.toThrow(/cannot read/);
  });

  it('without enumerator state uses restoreEnumeratorWithoutState, or fails saying why', async () => {
    const { source } = lazySource([split(0)]);
    const origin: EnumeratorOrigin = { kind: 'without-state', pointer: '/ck/old' };
    await expect(
      coordinator(source as Source<unknown, SourceSplit, unknown>, origin).c.start(),
    ).rejects.toThrow(/written before split enumerators existed.*restoreEnumeratorWithoutState/);
    let called = false;
    const withFallback = {
      ...source,
      restoreEnumeratorWithoutState: (ctx: SplitEnumeratorContext<TestSplit>) => {
        called = true;
        return new LazyEnumerator(ctx, []);
      },
    };
    await coordinator(withFallback as Source<unknown, SourceSplit, unknown>, origin).c.start();
    expect(called).toBe(true);
  });

  it('runs periodic callAsync work on the job clock until closed; a failing handler fails the job', async () => {
    const runs: number[] = [];
    let context!: SplitEnumeratorContext<TestSplit>;
    const source = {
      ...lazySource([]).source,
      createEnumerator: (ctx: SplitEnumeratorContext<TestSplit>) => {
        context = ctx;
        return new LazyEnumerator(ctx, []);
      },
    };
    const { c, failures, clock } = coordinator(source as Source<unknown, SourceSplit, unknown>);
    await c.start();
    context.callAsync(
      async () => runs.length,
      (result, error) => {
        expect(error).toBeUndefined();
        runs.push(result as number);
        if (runs.length === 3) throw new Error('discovery broke');
      },
      100,
    );
    await settle();
    expect(runs).toEqual([0]);
    clock.advance(99);
    await settle();
    expect(runs).toEqual([0]);
    clock.advance(1);
    await settle();
    clock.advance(100);
    await settle();
    expect(runs).toEqual([0, 1, 2]);
    expect(failures.map((f) => f.message)).toEqual([
      expect.stringMatching(/split enumerator failed: discovery broke/),
    ]);
    await c.close();
    clock.advance(1_000);
    await settle();
    expect(runs).toHaveLength(3);
  });
});
