/**
 * At-least-once barrier tracking (Flink's `CheckpointBarrierTracker`): no channel is ever
 * blocked, several checkpoints are tracked at once, checkpoint n triggers when every
 * unfinished channel delivered barrier n, and triggering n gives up the older ones still
 * incomplete here.
 */
import type { CheckpointBarrier } from '../elements.ts';
import type { InputGate } from '../network/input-gate.ts';
import type { BarrierHandlerTarget } from './barrier-handler.ts';

/**
 * Checkpoints tracked at once. With `maxConcurrent` checkpoints in flight a subtask sees
 * barriers of at most that many; past the bound the oldest is declined (it would otherwise
 * wait for barriers forever while the list grows).
 */
export const TRACKED_CHECKPOINTS_MAX = 16;

/** A checkpoint some channel delivered the barrier of, waiting for the others. */
interface TrackedCheckpoint {
  readonly barrier: CheckpointBarrier;
  readonly arrived: Set<number>;
  readonly startedMs: number;
}

export class BarrierTracker {
  readonly #gate: InputGate;
  readonly #target: BarrierHandlerTarget;
  readonly #nowMs: () => number;
  /** In increasing checkpoint id order; at most TRACKED_CHECKPOINTS_MAX. */
  readonly #tracked: TrackedCheckpoint[] = [];
  /** Highest checkpoint id triggered here; barriers of it and older ones are done with. */
  #latestTriggeredId = 0;
  /** Checkpoints above #latestTriggeredId declined or aborted here: their barriers are ignored. */
  readonly #givenUp = new Set<number>();

  constructor(gate: InputGate, target: BarrierHandlerTarget, nowMs: () => number) {
    this.#gate = gate;
    this.#target = target;
    this.#nowMs = nowMs;
  }

  /** The checkpoints waiting for barriers here, oldest first. */
  get trackedCheckpointIds(): readonly number[] {
    return this.#tracked.map((t) => t.barrier.checkpointId);
  }

  onBarrier(channelIndex: number, barrier: CheckpointBarrier): void {
    const id = barrier.checkpointId;
    if (id <= this.#latestTriggeredId || this.#givenUp.has(id)) return;
    // Channels deliver barriers in id order, so a checkpoint older than `id` that this channel
    // did not deliver can never see all its barriers here: decline it now, not at its timeout.
    for (const older of [...this.#tracked]) {
      if (older.barrier.checkpointId < id && !older.arrived.has(channelIndex)) {
        this.#giveUp(
          older,
          `barrier ${id} arrived on channel ${channelIndex} before barrier ${older.barrier.checkpointId}`,
        );
      }
    }
    let tracked = this.#tracked.find((t) => t.barrier.checkpointId === id);
    if (tracked === undefined) {
      const newest = this.#tracked.at(-1);
      if (newest !== undefined && newest.barrier.checkpointId > id) {
        // Another channel delivered a newer barrier without this one: the same argument.
        this.#declineUntracked(id, `barrier ${id} arrived after barrier ${newest.barrier.checkpointId}`);
        return;
      }
      if (this.#tracked.length >= TRACKED_CHECKPOINTS_MAX) {
        this.#giveUp(
          this.#tracked[0],
          `more than ${TRACKED_CHECKPOINTS_MAX} checkpoints waiting for barriers`,
        );
      }
      tracked = { barrier, arrived: new Set(), startedMs: this.#nowMs() };
      this.#tracked.push(tracked);
    }
    tracked.arrived.add(channelIndex);
    this.#triggerNewestComplete();
  }

  /** A channel finished: it counts as delivered for every tracked checkpoint from now on. */
  onEndOfPartition(): void {
    this.#triggerNewestComplete();
  }

  /** The coordinator aborted `checkpointId`: stop tracking it, ignore its barriers still to come. */
  abortIfPending(checkpointId: number): void {
    if (checkpointId <= this.#latestTriggeredId) return;
    const index = this.#tracked.findIndex((t) => t.barrier.checkpointId === checkpointId);
    if (index >= 0) this.#tracked.splice(index, 1);
    this.#givenUp.add(checkpointId);
  }

  /**
   * Triggers the newest checkpoint whose barriers all arrived and declines the older ones still
   * tracked. One trigger per call: the task runs one checkpoint's pre-barrier work at a time.
   */
  #triggerNewestComplete(): void {
    for (let i = this.#tracked.length - 1; i >= 0; i--) {
      const tracked = this.#tracked[i];
      if (!this.#isComplete(tracked)) continue;
      const newer = this.#tracked.slice(i + 1);
      for (const older of this.#tracked.slice(0, i)) {
        this.#target.abortCheckpointOnBarrier(
          older.barrier.checkpointId,
          `checkpoint ${tracked.barrier.checkpointId} completed its barriers first`,
        );
      }
      this.#tracked.length = 0;
      this.#tracked.push(...newer);
      this.#latestTriggeredId = tracked.barrier.checkpointId;
      for (const id of this.#givenUp) if (id <= this.#latestTriggeredId) this.#givenUp.delete(id);
      this.#target.triggerCheckpointOnBarrier(tracked.barrier, this.#nowMs() - tracked.startedMs);
      return;
    }
  }

  #isComplete(tracked: TrackedCheckpoint): boolean {
    const channels = this.#gate.channels.length;
    for (let c = 0; c < channels; c++) {
      if (!tracked.arrived.has(c) && !this.#gate.isChannelFinished(c)) return false;
    }
    return true;
  }

  #giveUp(tracked: TrackedCheckpoint, reason: string): void {
    this.#tracked.splice(this.#tracked.indexOf(tracked), 1);
    this.#declineUntracked(tracked.barrier.checkpointId, reason);
  }

  #declineUntracked(checkpointId: number, reason: string): void {
    this.#givenUp.add(checkpointId);
    this.#target.abortCheckpointOnBarrier(checkpointId, reason);
  }
}
