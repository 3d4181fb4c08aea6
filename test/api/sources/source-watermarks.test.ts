/** Per-split watermarks: the source's watermark is the minimum over its splits, so a lagging split holds it back. */
import { describe, expect, it } from 'vitest';
import { SourceWatermarks } from '../../../src/api/operators/source-watermarks.ts';
import { WatermarkStrategy } from '../../../src/api/watermark-strategy.ts';
import type { Output } from '../../../src/runtime/output.ts';

interface Event {
  readonly ts: number;
}

function recordingOutput() {
  const watermarks: number[] = [];
  const statuses: boolean[] = [];
  const records: number[] = [];
  const output: Output<Event> = {
    collect: (_value, ts) => records.push(ts),
    emitWatermark: (ts) => watermarks.push(ts),
    emitWatermarkStatus: (idle) => statuses.push(idle),
    collectSide: () => {},
  };
  return { output, watermarks, statuses, records };
}

describe('SourceWatermarks', () => {
  const strategy = WatermarkStrategy.forMonotonousTimestamps<Event>()
    .withTimestampAssigner((e) => e.ts)
    .withEmitOnEvent();

  it('with two splits, one lagging, the watermark follows the laggard', () => {
    const now = 0;
    const { output, watermarks, records } = recordingOutput();
    const combined = new SourceWatermarks(strategy, output, () => now);
    const fast = combined.register();
    const slow = combined.register();
    // The fast split runs ahead; the slow one has not emitted: nothing may pass yet.
    for (const ts of [1000, 2000, 3000]) fast.collect({ ts });
    expect(records).toEqual([1000, 2000, 3000]);
    expect(watermarks).toEqual([]);
    slow.collect({ ts: 100 });
    expect(watermarks).toEqual([99]);
    slow.collect({ ts: 500 });
    fast.collect({ ts: 9000 });
    expect(watermarks).toEqual([99, 499]);
    slow.collect({ ts: 5000 });
    expect(watermarks).toEqual([99, 499, 4999]);
    // The laggard overtakes the leader: now the leader is the minimum.
    slow.collect({ ts: 9500 });
    expect(watermarks).toEqual([99, 499, 4999, 8999]);
    // A released split (finished) no longer holds the watermark back.
    combined.release(fast);
    expect(watermarks).toEqual([99, 499, 4999, 8999, 9499]);
  });

  it('excludes idle splits, and is idle when every split is', () => {
    let now = 0;
    const { output, watermarks, statuses } = recordingOutput();
    const idling = WatermarkStrategy.forMonotonousTimestamps<Event>()
      .withTimestampAssigner((e) => e.ts)
      .withIdleness(1_000);
    const combined = new SourceWatermarks(idling, output, () => now);
    const a = combined.register();
    const b = combined.register();
    a.collect({ ts: 50 });
    b.collect({ ts: 10 });
    combined.onPeriodicEmit();
    expect(watermarks).toEqual([9]);
    now = 600;
    a.collect({ ts: 80 });
    now = 1_100;
    combined.onPeriodicEmit(); // b saw nothing for 1 s: idle, so a alone decides.
    expect(watermarks).toEqual([9, 79]);
    expect(statuses).toEqual([]);
    now = 3_000;
    combined.onPeriodicEmit();
    expect(statuses).toEqual([true]);
    b.collect({ ts: 90 });
    expect(statuses).toEqual([true, false]);
  });
});
