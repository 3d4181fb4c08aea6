/**
 * A bounded job with an exactly-once sink ends right after its final commit: once every source
 * reached end of input the coordinator triggers the checkpoint that covers it, instead of the
 * sink waiting for the next periodic trigger (up to one interval).
 */
import { describe, expect, it } from 'vitest';
import { StreamExecutionEnvironment } from '../../../src/api/environment.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { InMemoryTransactionalSink } from './in-memory-transactional-sink.ts';

const INTERVAL_MS = 60_000;
/** Far below one interval: the job must end with the clock this far or less. */
const CLOCK_ADVANCE_MS_MAX = 2_000;
const RECORDS = 300;

describe('final checkpoint at end of input', () => {
  it.for([1, 3])(
    'parallelism %i: the job ends and its output is committed without waiting for the periodic trigger',
    async (parallelism) => {
      const clock = new ManualClock(0);
      const env = StreamExecutionEnvironment.create({
        parallelism,
        clock,
        checkpointing: { intervalMs: INTERVAL_MS },
        logger: { log: () => {} },
      });
      const sink = new InMemoryTransactionalSink();
      env
        .fromGenerator({ count: RECORDS, generate: (i) => `v${String(i).padStart(4, '0')}` })
        .rebalance()
        .map((s) => s)
        .sinkTo(sink);
      const client = env.executeAsync('final checkpoint');
      let ended = false;
      const result = client.result().finally(() => {
        ended = true;
      });
      // Advance 1 ms a turn, so timers run but an interval never passes.
      while (!ended && clock.now() < CLOCK_ADVANCE_MS_MAX) {
        clock.advance(1);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(ended, `the job still runs after ${clock.now()} ms of a ${INTERVAL_MS} ms interval`).toBe(true);
      await result;
      const expected = Array.from({ length: RECORDS }, (_, i) => `v${String(i).padStart(4, '0')}`);
      expect(sink.store.visible()).toEqual(expected);
      const checkpoints = client.checkpointStatistics();
      expect(checkpoints.map((c) => c.status)).toEqual(['COMPLETED']);
    },
  );
});
