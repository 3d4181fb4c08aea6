/**
 * The disk backend's read-ahead: a worker thread reads a batch's missing entries from lmdb
 * while the batch runs. Alone, it returns what the store holds; inside the backend, no read
 * is ever stale, whatever the worker's timing (random batches, writes, evictions and commits
 * against a Map).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.ts';
import { SeededRandom } from '../../../src/core/random.ts';
import {
  type Collector,
  CollectSink,
  type KeyedContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  StreamExecutionEnvironment,
  type ValueState,
} from '../../../src/index.ts';
import { DiskKeyedStateBackend, diskStateBackend } from '../../../src/state/backends/disk/index.ts';
import { LocalKvStore } from '../../../src/state/backends/disk/local-kv-store.ts';
import { type ReadAhead, UNREAD } from '../../../src/state/backends/disk/read-ahead.ts';
import { assignToKeyGroup } from '../../../src/state/key-groups.ts';
import { valueState } from '../../../src/state/state-descriptors-factory.ts';
import { until } from './fixtures/until.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-read-ahead-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let directories = 0;
const nextDirectory = (): string => join(root, `store-${directories++}`);

const MAX_PARALLELISM = 16;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const storeKey = (n: number): Buffer => Buffer.from(`\u0000\u0001\u0000\u0002key-${n}`, 'latin1');
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

/**
 * Runs `body` with a store holding `entries` (committed) and its read-ahead thread started
 * and ready; disposes the store (which stops the thread) afterwards.
 */
async function withReadAhead(
  entries: readonly (readonly [number, string])[],
  body: (store: LocalKvStore, readAhead: ReadAhead) => Promise<void>,
): Promise<void> {
  const store = new LocalKvStore(nextDirectory());
  try {
    for (const [n, value] of entries) store.put(storeKey(n), Buffer.from(value));
    await store.drained();
    const readAhead = store.readAhead();
    await until(() => readAhead.isReady, 'the worker opened the store', 20_000);
    await body(store, readAhead);
  } finally {
    store.dispose();
  }
}

describe('ReadAhead', () => {
  it('reads the requested keys on its own thread: values, absent keys, one request after another', async () => {
    const entries = Array.from({ length: 500 }, (_, n) => [n, `value-${n}`] as const);
    await withReadAhead(entries, async (_store, readAhead) => {
      for (const [first, count] of [
        [0, 300],
        [250, 400],
      ]) {
        readAhead.begin();
        for (let n = first; n < first + count; n++) expect(readAhead.add(storeKey(n), n)).toBe(n - first);
        expect(readAhead.hashOf(count - 1)).toBe(first + count - 1);
        readAhead.submit();
        await until(() => readAhead.readCount === count, 'the worker read the request');
        for (let i = 0; i < count; i++) {
          const value = readAhead.take(i);
          expect(value).not.toBe(UNREAD);
          const n = first + i;
          expect(value === undefined ? undefined : text(value as Uint8Array)).toBe(
            n < 500 ? `value-${n}` : undefined,
          );
        }
      }
      expect(readAhead.stats()).toEqual({ ready: true, requested: 700, served: 700 });
    });
  });

  it('sees writes committed after its previous request (a fresh read transaction per request)', async () => {
    await withReadAhead([[1, 'old']], async (store, readAhead) => {
      const readOne = async (): Promise<string | undefined> => {
        readAhead.begin();
        readAhead.add(storeKey(1), 1);
        readAhead.submit();
        await until(() => readAhead.readCount === 1, 'the worker read the key');
        const value = readAhead.take(0);
        if (value === UNREAD) throw new Error('not read');
        return value === undefined ? undefined : text(value);
      };
      expect(await readOne()).toBe('old');
      store.put(storeKey(1), Buffer.from('new'));
      await store.drained();
      expect(await readOne()).toBe('new');
      store.remove(storeKey(1));
      await store.drained();
      expect(await readOne()).toBeUndefined();
    });
  });

  it('refuses keys past its capacity, and stops with its store', async () => {
    let stopped: ReadAhead | undefined;
    await withReadAhead([[0, 'x']], async (_store, readAhead) => {
      readAhead.begin();
      const big = Buffer.alloc(1_000, 1);
      let added = 0;
      while (readAhead.add(big, added) >= 0) added++;
      expect(added).toBe(Math.floor((256 * 1024) / 1_002));
      stopped = readAhead;
    });
    expect(stopped?.isReady).toBe(false);
  });
});

describe('read-ahead in the disk backend', () => {
  const step = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.array(fc.nat(40), { minLength: 1, maxLength: 60 }).chain((keys) =>
        fc.record({
          op: fc.constant('batch' as const),
          keys: fc.constant(keys),
          actions: fc.array(fc.nat(5), { minLength: keys.length, maxLength: keys.length }),
          pauseMs: fc.constantFrom(0, 0, 1, 3),
          // Commits seen in the middle of a batch (work between a request and its reads).
          settleAt: fc.option(fc.nat(keys.length - 1), { nil: undefined }),
        }),
      ),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'drain' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'snapshot' as const }) },
  );

  it('never reads a stale value: random batches of reads, writes and removals with a tiny cache, against a Map', async () => {
    let servedInAll = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(1, 4, 16_384),
        fc.array(step, { minLength: 5, maxLength: 40 }),
        async (cacheEntriesMax, writeQueueEntriesMax, steps) => {
          const backend = new DiskKeyedStateBackend({
            operatorId: 'op',
            keyGroupRange: { start: 0, end: MAX_PARALLELISM - 1 },
            maxParallelism: MAX_PARALLELISM,
            clock: new ManualClock(0),
            directory: nextDirectory(),
            cacheEntriesMax,
            writeQueueEntriesMax,
            readAheadAfterReads: 0,
          });
          const states = [valueState<number>('a'), valueState<number>('b')].map((d) =>
            backend.getValueState(d),
          );
          const models = [new Map<string, number>(), new Map<string, number>()];
          try {
            // The first store writes, so the read-ahead thread starts and opens the store.
            for (let k = 0; k < 40; k++) {
              const key = `k${k}`;
              backend.setCurrentKey(key, assignToKeyGroup(key, MAX_PARALLELISM));
              states[0].update(k);
              models[0].set(key, k);
            }
            await backend.settle();
            backend.prefetch(['k0'], [assignToKeyGroup('k0', MAX_PARALLELISM)]);
            await until(
              () => backend.readAheadStats()?.ready === true,
              'the read-ahead thread is ready',
              20_000,
            );
            for (const s of steps) {
              if (s.op === 'drain') {
                await backend.settle();
                continue;
              }
              if (s.op === 'snapshot') {
                backend.snapshot().release();
                continue;
              }
              const keys = s.keys.map((k) => `k${k}`);
              const groups = keys.map((key) => assignToKeyGroup(key, MAX_PARALLELISM));
              const room = backend.prefetch(keys, groups);
              if (room !== undefined) await room;
              if (s.pauseMs > 0) await sleep(s.pauseMs);
              for (let i = 0; i < keys.length; i++) {
                if (i === s.settleAt) await backend.settle();
                backend.setCurrentKey(keys[i], groups[i]);
                const which = s.actions[i] % 2;
                const state = states[which];
                const model = models[which];
                const action = s.actions[i] >> 1;
                expect(state.value(), `${keys[i]} in state ${which}`).toBe(model.get(keys[i]));
                if (action === 0) {
                  const next = (model.get(keys[i]) ?? 0) + 1;
                  state.update(next);
                  model.set(keys[i], next);
                } else if (action === 1) {
                  state.clear();
                  model.delete(keys[i]);
                }
              }
            }
            servedInAll += backend.readAheadStats()?.served ?? 0;
          } finally {
            backend.dispose();
          }
        },
      ),
      { numRuns: 40 },
    );
    // The property means something only if the worker's reads were used.
    expect(servedInAll).toBeGreaterThan(100);
  }, 120_000);
});

/** Counts and sums per key, emitted at end of input; throws once at each record index in `failAt` (after reading its state). */
class CountAndSumFailingAt implements KeyedProcessFunction<number, number, string> {
  readonly #failAt: Set<number>;
  #count!: ValueState<number>;
  #sum!: ValueState<number>;

  constructor(failAt: Set<number>) {
    this.#failAt = failAt;
  }

  open(context: RuntimeContext): void {
    this.#count = context.getState(valueState<number>('count'));
    this.#sum = context.getState(valueState<number>('sum'));
  }

  processElement(value: number, ctx: KeyedContext<number>): void {
    const count = this.#count.value() ?? 0;
    const sum = this.#sum.value() ?? 0;
    if (this.#failAt.delete(value)) throw new Error(`injected failure at record ${value}`);
    if (count === 0) ctx.timerService().registerEventTimeTimer(Number.MAX_VALUE);
    this.#count.update(count + 1);
    this.#sum.update(sum + value);
  }

  onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<string>): void {
    out.collect(`${ctx.getCurrentKey()}:${this.#count.value()}:${this.#sum.value()}`);
  }
}

describe('read-ahead in a job', () => {
  it('fails at random records mid-batch, restores from checkpoints and ends with every count and sum exact', async () => {
    const seed = Number(process.env.WEIR_READ_AHEAD_SEED ?? (Math.random() * 2 ** 31) >>> 0);
    const records = 80_000;
    const keys = 4_000;
    const keyOf = (n: number): number => (n * 7_919) % keys;
    const random = new SeededRandom(seed);
    const failAt = new Set<number>();
    while (failAt.size < 5) failAt.add(5_000 + random.nextInt(records - 10_000));
    const env = StreamExecutionEnvironment.create({
      parallelism: 2,
      maxParallelism: 32,
      // 300 slots for 8,000 entries a subtask: nearly every record misses, and reads ahead from the first miss.
      stateBackend: diskStateBackend({
        directory: nextDirectory(),
        cacheEntriesMax: 300,
        readAheadAfterReads: 0,
      }),
      checkpointing: { intervalMs: 50 },
      restartStrategy: { kind: 'fixed-delay', attempts: 10, delayMs: 0 },
    });
    const sink = new CollectSink<string>();
    env
      .fromGenerator({ count: records, ratePerSecond: 40_000, generate: (index) => index })
      .keyBy(keyOf)
      .process(() => new CountAndSumFailingAt(failAt))
      .sinkTo(sink);
    const result = await env.execute('read-ahead under failures');
    const expected = new Map<number, { count: number; sum: number }>();
    for (let n = 0; n < records; n++) {
      const entry = expected.get(keyOf(n)) ?? { count: 0, sum: 0 };
      entry.count++;
      entry.sum += n;
      expected.set(keyOf(n), entry);
    }
    const what = `WEIR_READ_AHEAD_SEED=${seed}`;
    expect(failAt, `${what}: injected failures that never fired`).toEqual(new Set());
    expect(result.restarts, what).toBe(5);
    expect([...sink.values].sort(), what).toEqual(
      [...expected].map(([key, { count, sum }]) => `${key}:${count}:${sum}`).sort(),
    );
  }, 120_000);
});
