/** The barrier handler in at-least-once mode: several checkpoints tracked at once, nothing blocked. */
import { describe, expect, it } from 'vitest';
import { TRACKED_CHECKPOINTS_MAX } from '../../../src/runtime/checkpointing/barrier-tracker.ts';
import { barrier, setUpBarrierHandler } from './barrier-handler-harness.ts';

const setUp = (channels: number) => setUpBarrierHandler('at-least-once', channels);

describe('barrier handler, at-least-once', () => {
  it('a fast channel delivering barrier n+1 before a slow one delivered n does not abort n', () => {
    const { gate, handler, triggered, declined } = setUp(2);
    handler.onBarrier(0, barrier(1));
    handler.onBarrier(0, barrier(2));
    expect(gate.isBlocked(0), 'at-least-once never blocks').toBe(false);
    expect(declined).toEqual([]);
    handler.onBarrier(1, barrier(1));
    expect(triggered).toEqual([1]);
    handler.onBarrier(1, barrier(2));
    expect(triggered).toEqual([1, 2]);
    expect(declined).toEqual([]);
  });

  it('a newer checkpoint complete first aborts only the older incomplete ones', () => {
    const { handler, triggered, declined } = setUp(3);
    handler.onBarrier(0, barrier(1));
    handler.onBarrier(0, barrier(2));
    handler.onBarrier(0, barrier(3));
    handler.onBarrier(1, barrier(1));
    handler.onBarrier(1, barrier(2));
    handler.onBarrier(1, barrier(3));
    // Channel 2 delivered neither 1 nor 2 and now delivers 3: channels deliver barriers in id
    // order, so 1 and 2 can never complete here; 3 does.
    handler.onBarrier(2, barrier(3));
    expect(triggered).toEqual([3]);
    expect(declined).toEqual([1, 2]);
    expect(handler.pendingCheckpointId).toBeUndefined();
  });

  it('a finished channel completes every tracked checkpoint: the newest triggers, older ones are declined', () => {
    const { gate, handler, triggered, declined } = setUp(2);
    handler.onBarrier(0, barrier(4));
    handler.onBarrier(0, barrier(5));
    handler.onBarrier(0, barrier(6));
    expect(handler.pendingCheckpointId).toBe(4);
    gate.channels[1].push({ kind: 'end-of-partition' });
    gate.poll();
    expect(gate.isChannelFinished(1)).toBe(true);
    handler.onEndOfPartition();
    expect(triggered).toEqual([6]);
    expect(declined).toEqual([4, 5]);
  });

  it('ignores the barriers of a checkpoint the coordinator aborted, and keeps tracking the others', () => {
    const { handler, triggered, declined } = setUp(2);
    handler.onBarrier(0, barrier(1));
    handler.onBarrier(0, barrier(2));
    handler.abortIfPending(1);
    handler.onBarrier(1, barrier(1));
    expect(triggered).toEqual([]);
    handler.onBarrier(1, barrier(2));
    expect(triggered).toEqual([2]);
    expect(declined).toEqual([]);
  });

  it(`tracks at most ${TRACKED_CHECKPOINTS_MAX} checkpoints, declining the oldest past the bound`, () => {
    const { handler, triggered, declined } = setUp(2);
    for (let id = 1; id <= TRACKED_CHECKPOINTS_MAX + 1; id++) handler.onBarrier(0, barrier(id));
    expect(declined).toEqual([1]);
    handler.onBarrier(1, barrier(2));
    expect(triggered).toEqual([2]);
  });

  it('stale barriers of triggered checkpoints are ignored', () => {
    const { handler, triggered, declined } = setUp(2);
    handler.onBarrier(0, barrier(1));
    handler.onBarrier(1, barrier(1));
    handler.onBarrier(0, barrier(1));
    expect(triggered).toEqual([1]);
    expect(declined).toEqual([]);
  });
});
