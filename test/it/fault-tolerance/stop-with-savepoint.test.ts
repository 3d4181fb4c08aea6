/**
 * Stop-with-savepoint: sources emit nothing after the savepoint's barrier, also when another
 * checkpoint is aborted while the savepoint is still in flight (only the savepoint's own abort
 * resumes them). Before, any abort resumed the sources: records past the savepoint reached the
 * job, and a bounded source could run to its end and finish the job under the savepoint.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StreamExecutionEnvironment } from '../../../src/api/environment.ts';
import { CollectSink } from '../../../src/api/sinks/collect-sink.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import type { OneInputStreamOperator } from '../../../src/runtime/operator.ts';
import { AbstractStreamOperator } from '../../../src/runtime/operators/abstract-stream-operator.ts';

/**
 * Passes records on. Holds checkpoint 1 at its barrier until `declineGate` opens, then declines
 * it (its snapshot fails); holds checkpoint 2 (the savepoint) until `savepointGate` opens.
 */
class BarrierBlocker
  extends AbstractStreamOperator<number>
  implements OneInputStreamOperator<number, number>
{
  readonly #declineGate: Promise<void>;
  readonly #savepointGate: Promise<void>;
  heldId: number | undefined;

  constructor(declineGate: Promise<void>, savepointGate: Promise<void>) {
    super();
    this.#declineGate = declineGate;
    this.#savepointGate = savepointGate;
  }

  processElement(value: number, timestamp: number): void {
    this.output.collect(value, timestamp);
  }

  prepareSnapshotPreBarrier(checkpointId: number): undefined | Promise<void> {
    if (checkpointId > 2) return undefined;
    this.heldId = checkpointId;
    return checkpointId === 1 ? this.#declineGate : this.#savepointGate;
  }

  snapshotState(checkpointId: number): void {
    if (checkpointId === 1) throw new Error('checkpoint 1 fails here on purpose');
  }
}

function gate(): { readonly promise: Promise<void>; readonly open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

async function advance(clock: ManualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('stop-with-savepoint', () => {
  it('an aborted checkpoint does not resume the sources the savepoint stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weir-stop-'));
    try {
      const clock = new ManualClock(0);
      const env = StreamExecutionEnvironment.create({
        parallelism: 1,
        clock,
        // The declined checkpoint 1 must not end the job.
        checkpointing: { intervalMs: 100, tolerableConsecutiveFailures: 100 },
        logger: { log: () => {} },
      });
      let generated = 0;
      const declineGate = gate();
      const savepointGate = gate();
      const blockers: BarrierBlocker[] = [];
      const sink = new CollectSink<number>();
      env
        .fromGenerator({
          ratePerSecond: 1_000,
          generate: (i) => {
            generated++;
            return i;
          },
        })
        .uid('numbers')
        .rebalance()
        .transform('Blocker', () => {
          const blocker = new BarrierBlocker(declineGate.promise, savepointGate.promise);
          blockers.push(blocker);
          return blocker;
        })
        .uid('blocker')
        .sinkTo(sink);
      const client = env.executeAsync('stop while a checkpoint is aborted');
      const heldId = (): number | undefined => blockers[0]?.heldId;
      while (heldId() !== 1) await advance(clock, 10);
      const stopping = client.stopWithSavepoint(join(dir, 'savepoints'));
      stopping.catch(() => {});
      // Real file-system time for the savepoint's directory; the clock holds still meanwhile.
      while (client.checkpointStatistics().length < 2) await new Promise((r) => setTimeout(r, 5));
      await advance(clock, 50);
      const generatedAtStop = generated;
      declineGate.open();
      while (heldId() !== 2) await advance(clock, 10);
      expect(client.checkpointStatistics().find((c) => c.id === 1)?.status).toBe('FAILED');
      // The source got notifyCheckpointAborted(1) after it emitted the savepoint's barrier.
      await advance(clock, 500);
      expect(generated, 'the source emitted records after the stop-with-savepoint barrier').toBe(
        generatedAtStop,
      );
      savepointGate.open();
      let done = false;
      void stopping.finally(() => {
        done = true;
      });
      while (!done) await advance(clock, 10);
      const savepoint = await stopping;
      expect((await client.result()).savepointPath).toBe(savepoint);
      expect(generated).toBe(generatedAtStop);
      expect(sink.values).toHaveLength(generatedAtStop);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without periodic checkpoints, a source that already ended declines the savepoint at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weir-stop-'));
    try {
      const clock = new ManualClock(0);
      const env = StreamExecutionEnvironment.create({ parallelism: 1, clock, logger: { log: () => {} } });
      const sink = new CollectSink<number>();
      // One source ends at once and keeps no final state; the other runs on.
      env
        .fromGenerator({ count: 1, generate: (i) => -1 - i })
        .union(env.fromGenerator({ ratePerSecond: 1_000, generate: (i) => i }))
        .sinkTo(sink);
      const client = env.executeAsync('stop after a source ended');
      while (!sink.values.includes(-1)) await advance(clock, 10);
      const stopping = client.stopWithSavepoint(join(dir, 'savepoints'));
      let outcome: unknown;
      stopping.then(
        (path) => {
          outcome = path;
        },
        (error: unknown) => {
          outcome = error;
        },
      );
      // Far below the default 10 min timeout.
      for (let turns = 0; outcome === undefined && turns < 200; turns++) {
        await new Promise((r) => setTimeout(r, 5));
        await advance(clock, 10);
      }
      expect(outcome).toBeInstanceOf(Error);
      expect((outcome as Error).message).toMatch(
        /declined: .*its input ended and, with periodic checkpointing off, it keeps no final state/,
      );
      expect(client.status(), 'a failed stop-with-savepoint leaves the job running').toBe('RUNNING');
      await client.cancel();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
