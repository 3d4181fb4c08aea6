/** A barrier handler over an input gate of local channels, recording what it triggers and declines. */
import {
  BarrierHandler,
  type CheckpointingMode,
} from '../../../src/runtime/checkpointing/barrier-handler.ts';
import type { CheckpointBarrier } from '../../../src/runtime/elements.ts';
import { InputGate } from '../../../src/runtime/network/input-gate.ts';
import { LocalChannel } from '../../../src/runtime/network/local-channel.ts';

export function setUpBarrierHandler(mode: CheckpointingMode, channels: number) {
  const gate = new InputGate(Array.from({ length: channels }, (_, i) => new LocalChannel(`c${i}`, 0, 100)));
  const triggered: number[] = [];
  const declined: number[] = [];
  const handler = new BarrierHandler(
    mode,
    gate,
    {
      triggerCheckpointOnBarrier: (barrier) => triggered.push(barrier.checkpointId),
      abortCheckpointOnBarrier: (id) => declined.push(id),
    },
    () => 0,
  );
  return { gate, handler, triggered, declined };
}

export const barrier = (checkpointId: number): CheckpointBarrier => ({
  kind: 'barrier',
  checkpointId,
  timestampMs: 0,
  snapshotKind: 'checkpoint',
});
