/**
 * Barrier handling at a subtask's input gate. Exactly-once is an explicit state machine:
 * waiting for a barrier, or collecting barrier n from every unfinished channel while each
 * channel that delivered n is blocked (alignment). At-least-once never blocks and tracks
 * several checkpoints at once (`BarrierTracker`).
 */
import type { CheckpointBarrier } from '../elements.ts';
import type { InputGate } from '../network/input-gate.ts';
import { BarrierTracker } from './barrier-tracker.ts';

export type CheckpointingMode = 'exactly-once' | 'at-least-once';

/** What the handler asks of its task. */
export interface BarrierHandlerTarget {
  /** Barrier n arrived on every unfinished channel: snapshot, forward n. */
  triggerCheckpointOnBarrier(barrier: CheckpointBarrier, alignmentDurationMs: number): void;
  /** Checkpoint n cannot complete here (a newer barrier overtook it); decline it. */
  abortCheckpointOnBarrier(checkpointId: number, reason: string): void;
}

type HandlerState =
  | { readonly kind: 'waiting-for-barrier' }
  | {
      readonly kind: 'collecting-barriers';
      readonly barrier: CheckpointBarrier;
      readonly arrived: Set<number>;
      readonly startedMs: number;
    };

export class BarrierHandler {
  readonly mode: CheckpointingMode;
  readonly #gate: InputGate;
  readonly #target: BarrierHandlerTarget;
  readonly #nowMs: () => number;
  #state: HandlerState = { kind: 'waiting-for-barrier' };
  /** Highest checkpoint id this handler triggered or aborted; older barriers are stale. */
  #latestHandledId = 0;
  /** Checkpoints above #latestHandledId aborted before their barriers came: those barriers are stale. */
  readonly #abortedAhead = new Set<number>();
  /**
   * At-least-once: a barrier of n+1 on one channel before another channel delivered n must not
   * abort n (nothing is blocked, so both can still complete), hence several tracked at once.
   */
  readonly #tracker: BarrierTracker | undefined;

  constructor(mode: CheckpointingMode, gate: InputGate, target: BarrierHandlerTarget, nowMs: () => number) {
    this.mode = mode;
    this.#gate = gate;
    this.#target = target;
    this.#nowMs = nowMs;
    this.#tracker = mode === 'at-least-once' ? new BarrierTracker(gate, target, nowMs) : undefined;
  }

  /** The checkpoint being aligned (at-least-once: the oldest tracked), if any. */
  get pendingCheckpointId(): number | undefined {
    if (this.#tracker !== undefined) return this.#tracker.trackedCheckpointIds[0];
    return this.#state.kind === 'collecting-barriers' ? this.#state.barrier.checkpointId : undefined;
  }

  onBarrier(channelIndex: number, barrier: CheckpointBarrier): void {
    if (this.#tracker !== undefined) {
      this.#tracker.onBarrier(channelIndex, barrier);
      return;
    }
    const id = barrier.checkpointId;
    if (this.#abortedAhead.has(id) || id === this.#latestHandledId) return; // Triggered or aborted here already.
    let state = this.#state;
    // An older barrier: its checkpoint can no longer complete here (a newer one was handled or
    // is being aligned). It must not count for the newer one; declining it lets the
    // coordinator abort it now instead of at its timeout.
    if (
      id < this.#latestHandledId ||
      (state.kind === 'collecting-barriers' && id < state.barrier.checkpointId)
    ) {
      this.#target.abortCheckpointOnBarrier(id, `barrier ${id} arrived after a newer checkpoint's barrier`);
      return;
    }
    if (state.kind === 'collecting-barriers' && id > state.barrier.checkpointId) {
      this.#abort(
        state.barrier.checkpointId,
        `barrier ${id} arrived before barrier ${state.barrier.checkpointId} was aligned`,
      );
      state = this.#state;
    }
    if (state.kind === 'waiting-for-barrier') {
      state = { kind: 'collecting-barriers', barrier, arrived: new Set(), startedMs: this.#nowMs() };
      this.#state = state;
    }
    state.arrived.add(channelIndex);
    this.#gate.setBlocked(channelIndex, true);
    this.#completeIfAligned();
  }

  /** A channel finished: it counts as aligned from now on. */
  onEndOfPartition(): void {
    if (this.#tracker !== undefined) this.#tracker.onEndOfPartition();
    else this.#completeIfAligned();
  }

  /** The coordinator aborted `checkpointId` (timeout, another task declined): stop aligning it. */
  abortIfPending(checkpointId: number): void {
    if (this.#tracker !== undefined) {
      this.#tracker.abortIfPending(checkpointId);
      return;
    }
    const state = this.#state;
    if (state.kind === 'collecting-barriers' && state.barrier.checkpointId === checkpointId) {
      this.#release();
      this.#latestHandledId = Math.max(this.#latestHandledId, checkpointId);
    } else if (checkpointId > this.#latestHandledId) {
      // Its barriers may still be on their way here. They must not start an alignment: an
      // upstream subtask that was aligning it when the abort came never forwards it, so the
      // alignment would block this subtask's other channels forever.
      for (const id of this.#abortedAhead) if (id <= this.#latestHandledId) this.#abortedAhead.delete(id);
      this.#abortedAhead.add(checkpointId);
    }
  }

  #completeIfAligned(): void {
    const state = this.#state;
    if (state.kind !== 'collecting-barriers') return;
    const channels = this.#gate.channels.length;
    for (let c = 0; c < channels; c++) {
      if (!state.arrived.has(c) && !this.#gate.isChannelFinished(c)) return;
    }
    this.#release();
    this.#latestHandledId = state.barrier.checkpointId;
    this.#target.triggerCheckpointOnBarrier(state.barrier, this.#nowMs() - state.startedMs);
  }

  #abort(checkpointId: number, reason: string): void {
    this.#release();
    this.#latestHandledId = Math.max(this.#latestHandledId, checkpointId);
    this.#target.abortCheckpointOnBarrier(checkpointId, reason);
  }

  #release(): void {
    const state = this.#state;
    if (state.kind === 'collecting-barriers') {
      for (const c of state.arrived) this.#gate.setBlocked(c, false);
    }
    this.#state = { kind: 'waiting-for-barrier' };
  }
}
