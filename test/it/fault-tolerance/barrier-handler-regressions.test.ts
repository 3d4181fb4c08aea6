/**
 * Regressions found by the randomized suite, pinned at the barrier handler (internal API):
 * barriers of a checkpoint that was aborted here before they arrived, and older barriers
 * that arrive during a newer alignment, must not block or align anything.
 *
 * The randomized suite hit the first as a deadlock (seed 509280310 of WEIR_FT_SEED=2088107558):
 * the co-checker was aligning checkpoint 4 when it was aborted, released it and swallowed
 * its remaining barriers; the sink, which had not started aligning 4 when the abort came,
 * then got barrier 4 from its other inputs, blocked them, and waited forever for the
 * co-checker's; the blocked channels backpressured the source, which could then not even
 * take the trigger of checkpoint 5.
 */
import { describe, expect, it } from 'vitest';
import { barrier, setUpBarrierHandler } from '../../runtime/checkpointing/barrier-handler-harness.ts';

const setUp = (channels: number) => setUpBarrierHandler('exactly-once', channels);

describe('barrier handler: barriers of aborted and skipped checkpoints', () => {
  it('ignores the barriers of a checkpoint aborted before they arrived', () => {
    const { gate, handler, triggered } = setUp(2);
    handler.abortIfPending(4);
    handler.onBarrier(0, barrier(4));
    expect(gate.isBlocked(0), 'channel 0 must not wait for a barrier 4 that may never come').toBe(false);
    expect(handler.pendingCheckpointId).toBeUndefined();
    handler.onBarrier(1, barrier(5));
    handler.onBarrier(0, barrier(5));
    expect(triggered).toEqual([5]);
  });

  it('an older barrier arriving during a newer alignment does not align its channel', () => {
    const { gate, handler, triggered } = setUp(2);
    handler.onBarrier(0, barrier(5));
    handler.onBarrier(1, barrier(4));
    expect(triggered, 'channel 1 has not delivered barrier 5 yet').toEqual([]);
    expect(gate.isBlocked(1)).toBe(false);
    handler.onBarrier(1, barrier(5));
    expect(triggered).toEqual([5]);
  });

  it('still aligns the checkpoint after an aborted one', () => {
    const { handler, triggered } = setUp(3);
    handler.onBarrier(0, barrier(1));
    handler.abortIfPending(1);
    handler.onBarrier(1, barrier(1));
    handler.onBarrier(2, barrier(1));
    handler.abortIfPending(2);
    for (const c of [2, 0, 1]) handler.onBarrier(c, barrier(3));
    expect(triggered).toEqual([3]);
  });
});
