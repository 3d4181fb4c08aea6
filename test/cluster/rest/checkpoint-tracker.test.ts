/** Checkpoint totals survive the coordinator's bounded history: each finished row is counted exactly once. */
import { describe, expect, it } from 'vitest';
import type { CheckpointStats } from '../../../src/checkpoint/checkpoint-coordinator.ts';
import { CheckpointTracker } from '../../../src/cluster/rest/checkpoint-tracker.ts';

function row(
  id: number,
  status: CheckpointStats['status'],
  durationMs = 10,
  stateSizeBytes = 100,
): CheckpointStats {
  return {
    id,
    kind: 'checkpoint',
    status,
    triggerTimestampMs: id * 1000,
    durationMs: status === 'COMPLETED' ? durationMs : undefined,
    stateSizeBytes,
    alignmentDurationMs: 1,
    syncDurationMs: 1,
    asyncDurationMs: 5,
    pointer: `/ck/chk-${id}`,
    failureReason: status === 'FAILED' ? 'expired' : undefined,
  };
}

describe('CheckpointTracker', () => {
  it('counts each finished checkpoint once across refreshes, and in-progress ones as a gauge', () => {
    const tracker = new CheckpointTracker();
    const history = [row(1, 'COMPLETED'), row(2, 'IN_PROGRESS')];
    tracker.refresh(history);
    tracker.refresh(history);
    expect(tracker.totals()).toMatchObject({ completed: 1, failed: 0, inProgress: 1, durationMsSum: 10 });
    history[1] = row(2, 'FAILED');
    history.push(row(3, 'COMPLETED', 30, 300));
    tracker.refresh(history);
    expect(tracker.totals()).toEqual({
      completed: 2,
      failed: 1,
      inProgress: 0,
      durationMsSum: 40,
      stateSizeBytesSum: 400,
      alignmentDurationMsSum: 2,
    });
  });

  it('keeps counting when old rows drop out of the history', () => {
    const tracker = new CheckpointTracker();
    for (let id = 1; id <= 200; id++) {
      const history = [];
      for (let old = Math.max(1, id - 49); old <= id; old++) history.push(row(old, 'COMPLETED'));
      tracker.refresh(history);
    }
    expect(tracker.totals().completed).toBe(200);
  });
});
