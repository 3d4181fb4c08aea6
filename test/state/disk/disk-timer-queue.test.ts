/**
 * DiskTimerQueue against a model (a plain Map of timers), over a real lmdb store with tiny
 * write runs and a two-timer head per key group, so every path runs: adds inside and beyond
 * a group's cached head, removals of either, and refills from committed entries and from
 * writes lmdb has not committed yet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskTimerQueue, type StoredTimer } from '../../../src/state/backends/disk/disk-timer-queue.ts';
import { LocalKvStore } from '../../../src/state/backends/disk/local-kv-store.ts';
import { assignToKeyGroup } from '../../../src/state/key-groups.ts';

const MAX_PARALLELISM = 8;
const RANGE = { start: 0, end: MAX_PARALLELISM - 1 };
const QUEUE_ID = 0xffff;
const directory = mkdtempSync(join(tmpdir(), 'weir-timer-queue-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let stores = 0;

type Op =
  | {
      readonly kind: 'add' | 'remove';
      readonly key: number;
      readonly namespace: 0 | 'w';
      readonly timestampMs: number;
    }
  | { readonly kind: 'pop' | 'turn' | 'settle' };

/** A timer of 25 keys, two namespaces and 24 timestamps (negative ones too), to add or remove. */
const timerOp = (kind: 'add' | 'remove'): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constant(kind),
    key: fc.integer({ min: 0, max: 24 }),
    namespace: fc.constantFrom(0 as const, 'w' as const),
    timestampMs: fc.integer({ min: -3, max: 20 }),
  });

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: timerOp('add') },
  { weight: 3, arbitrary: timerOp('remove') },
  { weight: 4, arbitrary: fc.constant({ kind: 'pop' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'turn' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
);

const idOf = (key: unknown, namespace: unknown, timestampMs: number): string =>
  `${String(key)}|${String(namespace)}|${timestampMs}`;

/** The model's earliest timers: every one at the lowest timestamp, then the lowest key group. */
function earliest(model: ReadonlyMap<string, StoredTimer>): StoredTimer[] {
  let best: StoredTimer[] = [];
  for (const timer of model.values()) {
    const first = best[0];
    if (
      first === undefined ||
      timer.timestampMs < first.timestampMs ||
      (timer.timestampMs === first.timestampMs && timer.keyGroup < first.keyGroup)
    ) {
      best = [timer];
    } else if (timer.timestampMs === first.timestampMs && timer.keyGroup === first.keyGroup) {
      best.push(timer);
    }
  }
  return best;
}

function expectEarliest(actual: StoredTimer | undefined, model: ReadonlyMap<string, StoredTimer>): void {
  const candidates = earliest(model);
  if (candidates.length === 0) {
    expect(actual).toBeUndefined();
    return;
  }
  expect(actual).toBeDefined();
  expect(candidates.map((t) => idOf(t.key, t.namespace, t.timestampMs))).toContain(
    idOf(actual!.key, actual!.namespace, actual!.timestampMs),
  );
}

async function run(ops: readonly Op[], headSize: number): Promise<void> {
  const store = new LocalKvStore(join(directory, `store-${stores++}`), 3);
  // Sweeps of remembered store-only timers after every other one, so short runs have many.
  const queue = new DiskTimerQueue(store, QUEUE_ID, RANGE, headSize, 1);
  const model = new Map<string, StoredTimer>();
  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'add':
        case 'remove': {
          const keyGroup = assignToKeyGroup(op.key, MAX_PARALLELISM);
          const id = idOf(op.key, op.namespace, op.timestampMs);
          if (op.kind === 'add') {
            queue.add(op.key, keyGroup, op.namespace, op.timestampMs);
            if (!model.has(id))
              model.set(id, { key: op.key, keyGroup, namespace: op.namespace, timestampMs: op.timestampMs });
          } else {
            queue.remove(op.key, keyGroup, op.namespace, op.timestampMs);
            model.delete(id);
          }
          break;
        }
        case 'pop': {
          const expected = earliest(model);
          const popped = queue.pop();
          expectEarliest(popped, model);
          if (popped !== undefined) model.delete(idOf(popped.key, popped.namespace, popped.timestampMs));
          expect(popped === undefined).toBe(expected.length === 0);
          break;
        }
        case 'turn':
          await new Promise((resolve) => setImmediate(resolve));
          break;
        case 'settle':
          await store.drained();
          break;
      }
      expectEarliest(queue.peek(), model);
      expect(queue.isEmpty).toBe(model.size === 0);
    }
    // Drain: every remaining timer comes out once, in order.
    while (model.size > 0) {
      const popped = queue.pop();
      expectEarliest(popped, model);
      model.delete(idOf(popped!.key, popped!.namespace, popped!.timestampMs));
    }
    expect(queue.pop()).toBeUndefined();
    await store.drained();
  } finally {
    store.dispose();
  }
}

describe('DiskTimerQueue', () => {
  it('behaves like a set of timers taken out earliest first, across commits and refills', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { maxLength: 120 }), fc.integer({ min: 1, max: 3 }), run),
      { numRuns: 150 },
    );
  });

  it('orders timestamps numerically, negative ones and fractions included', async () => {
    const store = new LocalKvStore(join(directory, `store-${stores++}`));
    const queue = new DiskTimerQueue(store, QUEUE_ID, RANGE, 2);
    const times = [5, -1, 0, -0.5, 1e12, -1e12, 0.25, Number.MIN_SAFE_INTEGER, 3];
    for (const t of times) queue.add('k', assignToKeyGroup('k', MAX_PARALLELISM), 0, t);
    const out: number[] = [];
    for (let timer = queue.pop(); timer !== undefined; timer = queue.pop()) out.push(timer.timestampMs);
    expect(out).toEqual([...times].sort((a, b) => a - b));
    await store.drained();
    store.dispose();
  });
});
