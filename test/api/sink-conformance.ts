/**
 * The conformance suite every exactly-once (two-phase-commit) sink passes. It drives the real
 * CommittingSinkOperator in simulated subtasks (operator state snapshotted, redistributed on
 * rescale and restored as a job restart does), and checks what a reader of the external
 * system sees. Usage, in a `*.test.ts`:
 *
 * ```ts
 * runSinkConformance({
 *   name: 'FileSink',
 *   setup: async () => ({ sink, readVisible: async () => lines, teardown: async () => {} }),
 * });
 * ```
 *
 * `readVisible` returns every committed record as the string it was written as (the suite
 * writes strings), in any order; the suite compares sorted multisets.
 */
import { describe, expect, it } from 'vitest';
import { CommittingSinkOperator } from '../../src/api/operators/committing-sink-operator.ts';
import type { TwoPhaseCommittingSink } from '../../src/api/sink.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { SeededRandom } from '../../src/core/random.ts';
import type { Output } from '../../src/runtime/output.ts';
import {
  MailboxProcessingTimeService,
  TaskOperatorContext,
} from '../../src/runtime/tasks/task-operator-context.ts';
import { HeapOperatorStateStore } from '../../src/state/backends/heap/index.ts';
import type { OperatorStateContents } from '../../src/state/snapshot/operator-state-format.ts';
import { redistributeOperatorState } from '../../src/state/snapshot/operator-state-redistribution.ts';

/** One fresh external system and a sink writing into it. */
export interface SinkFixture {
  readonly sink: TwoPhaseCommittingSink<string, unknown>;
  /** Everything a reader sees now (committed output only). */
  readVisible(): Promise<readonly string[]>;
  teardown(): Promise<void>;
}

export interface SinkUnderTest {
  readonly name: string;
  setup(): Promise<SinkFixture>;
}

/** A snapshot of every subtask's operator state, as a completed checkpoint would hold it. */
type Snapshot = readonly OperatorStateContents[];

const NO_OUTPUT: Output<never> = {
  collect() {},
  collectSide() {},
  emitWatermark() {},
  emitWatermarkStatus() {},
} as unknown as Output<never>;

/** The sink operator in `parallelism` simulated subtasks of one job attempt. */
export class SinkAttempt {
  readonly operators: CommittingSinkOperator<string, unknown>[] = [];
  readonly #stores: HeapOperatorStateStore[] = [];

  private constructor() {}

  static async start(
    sink: TwoPhaseCommittingSink<string, unknown>,
    parallelism: number,
    restoreFrom?: Snapshot,
  ): Promise<SinkAttempt> {
    const attempt = new SinkAttempt();
    const restored =
      restoreFrom === undefined ? undefined : redistributeOperatorState(restoreFrom, parallelism);
    const clock = new ManualClock(0);
    for (let i = 0; i < parallelism; i++) {
      const store = new HeapOperatorStateStore();
      if (restored !== undefined) store.restore(restored[i]);
      const context = new TaskOperatorContext({
        location: { operatorName: 'Sink', subtaskIndex: i, parallelism },
        operatorId: 'sink-under-test',
        maxParallelism: 128,
        keyGroupRange: { start: 0, end: 127 },
        clock,
        random: new SeededRandom(i),
        processingTimeService: new MailboxProcessingTimeService(clock, (action) => action()),
        operatorStateStore: store,
        keyedStateBackend: undefined,
        keySelectors: [undefined],
        jobConfiguration: {},
        isRestored: restored !== undefined,
        jobName: 'conformance',
      });
      const operator = new CommittingSinkOperator<string, unknown>(sink);
      operator.setup(context, NO_OUTPUT);
      attempt.operators.push(operator);
      attempt.#stores.push(store);
    }
    // Subtasks open concurrently, as in a job: restored commits and lingering aborts may race.
    await Promise.all(attempt.operators.map((op) => op.open()));
    return attempt;
  }

  async write(subtask: number, values: readonly string[]): Promise<void> {
    const operator = this.operators[subtask];
    for (const value of values) operator.processElement(value, 0);
    await operator.afterBatch();
  }

  /** Barrier `id` at every subtask: pre-commit, then the synchronous snapshot. */
  async checkpoint(id: number): Promise<Snapshot> {
    const snapshot: OperatorStateContents[] = [];
    for (let i = 0; i < this.operators.length; i++) {
      await this.operators[i].prepareSnapshotPreBarrier(id);
      this.operators[i].snapshotState(id);
      snapshot.push(this.#stores[i].snapshot());
    }
    return snapshot;
  }

  async complete(id: number): Promise<void> {
    for (const operator of this.operators) await operator.notifyCheckpointComplete(id);
  }

  /** Checkpoint `id` was aborted: the operator keeps its pre-commits (it has no abort hook). */
  abort(id: number): void {
    void id;
  }

  /** End of input: finish, then commit at once (`checkpointsFollow` false) or wait. */
  async finish(): Promise<Snapshot> {
    const snapshot: OperatorStateContents[] = [];
    for (let i = 0; i < this.operators.length; i++) {
      await this.operators[i].finish();
      this.operators[i].snapshotState(0);
      snapshot.push(this.#stores[i].snapshot());
    }
    return snapshot;
  }

  /** A failure: operators are closed without finishing; what they wrote stays where it is. */
  async crash(): Promise<void> {
    for (const operator of this.operators) await operator.close();
  }
}

function values(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}

function sorted(xs: readonly string[]): string[] {
  return [...xs].sort();
}

/** Registers the suite for one sink. */
export function runSinkConformance(subject: SinkUnderTest): void {
  const withFixture = (body: (fixture: SinkFixture) => Promise<void>) => async () => {
    const fixture = await subject.setup();
    try {
      await body(fixture);
    } finally {
      await fixture.teardown();
    }
  };

  describe(`sink conformance: ${subject.name}`, () => {
    it(
      'commits on completion, and nothing is visible before',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 2);
        await job.write(0, values('a', 3));
        await job.write(1, values('b', 2));
        expect(await readVisible()).toEqual([]);
        await job.checkpoint(1);
        expect(await readVisible()).toEqual([]);
        await job.write(0, values('c', 2));
        await job.complete(1);
        expect(sorted(await readVisible())).toEqual(sorted([...values('a', 3), ...values('b', 2)]));
        await job.checkpoint(2);
        await job.complete(2);
        expect(sorted(await readVisible())).toEqual(
          sorted([...values('a', 3), ...values('b', 2), ...values('c', 2)]),
        );
        await job.crash();
      }),
    );

    it(
      'an aborted checkpoint keeps its pre-commits; the next completion commits them',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 1);
        await job.write(0, values('a', 2));
        await job.checkpoint(1);
        job.abort(1);
        await job.write(0, values('b', 2));
        await job.checkpoint(2);
        expect(await readVisible()).toEqual([]);
        await job.complete(2);
        expect(sorted(await readVisible())).toEqual(sorted([...values('a', 2), ...values('b', 2)]));
        await job.crash();
      }),
    );

    it(
      'committing twice is harmless (notification, then a restore of the same checkpoint)',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 2);
        await job.write(0, values('a', 2));
        await job.write(1, values('b', 2));
        const snapshot = await job.checkpoint(1);
        await job.complete(1);
        await job.complete(1);
        await job.crash();
        const again = await SinkAttempt.start(sink, 2, snapshot);
        expect(sorted(await readVisible())).toEqual(sorted([...values('a', 2), ...values('b', 2)]));
        await again.crash();
      }),
    );

    it(
      'a restore commits the restored pre-commits (the notification never arrived)',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 2);
        await job.write(0, values('a', 2));
        await job.write(1, values('b', 1));
        const snapshot = await job.checkpoint(1);
        await job.crash();
        expect(await readVisible()).toEqual([]);
        const restored = await SinkAttempt.start(sink, 2, snapshot);
        expect(sorted(await readVisible())).toEqual(sorted([...values('a', 2), ...values('b', 1)]));
        await restored.crash();
      }),
    );

    it(
      'lingering transactions (pre-committed after the restored checkpoint, or open) are aborted',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 2);
        await job.write(0, values('a', 1));
        const snapshot1 = await job.checkpoint(1);
        await job.complete(1);
        await job.write(0, values('lost-prepared', 2));
        await job.write(1, values('lost-prepared-b', 1));
        await job.checkpoint(2); // never completes
        await job.write(0, values('lost-open', 2));
        await job.crash();
        const restored = await SinkAttempt.start(sink, 2, snapshot1);
        await restored.write(1, values('new', 2));
        await restored.checkpoint(3);
        await restored.complete(3);
        expect(sorted(await readVisible())).toEqual(sorted([...values('a', 1), ...values('new', 2)]));
        await restored.crash();
      }),
    );

    it(
      'a fresh start aborts what an earlier run left open',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 2);
        await job.write(0, values('a', 2));
        await job.checkpoint(1);
        await job.write(1, values('b', 2));
        await job.crash();
        const fresh = await SinkAttempt.start(sink, 2);
        await fresh.write(0, values('c', 1));
        await fresh.checkpoint(1);
        await fresh.complete(1);
        expect(sorted(await readVisible())).toEqual(values('c', 1));
        await fresh.crash();
      }),
    );

    for (const [from, to] of [
      [2, 3],
      [3, 1],
      [4, 2],
    ] as const) {
      it(
        `rescale ${from} -> ${to}: restored pre-commits are committed once, lingering ones aborted`,
        withFixture(async ({ sink, readVisible }) => {
          const job = await SinkAttempt.start(sink, from);
          const expected: string[] = [];
          for (let i = 0; i < from; i++) {
            await job.write(i, values(`s${i}`, 2));
            expected.push(...values(`s${i}`, 2));
          }
          const snapshot = await job.checkpoint(1);
          for (let i = 0; i < from; i++) await job.write(i, values(`lost${i}`, 1));
          await job.checkpoint(2);
          await job.crash();
          const rescaled = await SinkAttempt.start(sink, to, snapshot);
          expect(sorted(await readVisible())).toEqual(sorted(expected));
          for (let i = 0; i < to; i++) {
            await rescaled.write(i, values(`r${i}`, 1));
            expected.push(...values(`r${i}`, 1));
          }
          const snapshot3 = await rescaled.checkpoint(3);
          await rescaled.crash();
          // And back, restoring the rescaled run's checkpoint (its notification never came).
          const back = await SinkAttempt.start(sink, from, snapshot3);
          await back.checkpoint(4);
          await back.complete(4);
          expect(sorted(await readVisible())).toEqual(sorted(expected));
          await back.crash();
        }),
      );
    }

    it(
      'end of input without later checkpoints commits the last transaction at once',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 2);
        await job.write(0, values('a', 2));
        await job.checkpoint(1);
        await job.write(1, values('b', 2));
        await job.finish();
        expect(await readVisible()).toEqual([]);
        for (const op of job.operators) await op.awaitFinalCheckpoint(false);
        expect(sorted(await readVisible())).toEqual(sorted([...values('a', 2), ...values('b', 2)]));
        await job.crash();
      }),
    );

    it(
      'end of input with checkpoints: committed when a checkpoint covering it completes, or by its restore',
      withFixture(async ({ sink, readVisible }) => {
        const job = await SinkAttempt.start(sink, 1);
        await job.write(0, values('a', 2));
        await job.checkpoint(1);
        await job.write(0, values('b', 2));
        const final = await job.finish();
        let done = false;
        const waiting = job.operators[0].awaitFinalCheckpoint(true)?.then(() => {
          done = true;
        });
        await job.complete(1); // does not cover the end of input
        expect(sorted(await readVisible())).toEqual(values('a', 2));
        expect(done).toBe(false);
        await job.crash(); // the job failed before checkpoint 2 (covering the end) was notified
        const restored = await SinkAttempt.start(sink, 1, final);
        expect(sorted(await readVisible())).toEqual(sorted([...values('a', 2), ...values('b', 2)]));
        await restored.crash();
        void waiting;
      }),
    );
  });
}
