/** Running checkpoint counts and sums for one job, accumulated from the coordinator's bounded statistics history. */
import type { CheckpointStats } from '../../checkpoint/checkpoint-coordinator.ts';

/** Totals since the job started, per snapshot kind where it matters. */
export interface CheckpointTotals {
  readonly completed: number;
  readonly failed: number;
  readonly inProgress: number;
  /** Sum over completed checkpoints and savepoints. */
  readonly durationMsSum: number;
  readonly stateSizeBytesSum: number;
  readonly alignmentDurationMsSum: number;
}

/**
 * The coordinator keeps only its latest statistics rows (50), so counters that must not go
 * backwards are accumulated here: every row that reaches a final status is counted once. Call
 * {@link CheckpointTracker.refresh} more often than the history turns over (the registry does
 * it every second and on every request); rows that were dropped unseen are not counted.
 *
 * @example
 * ```ts
 * const tracker = new CheckpointTracker();
 * tracker.refresh(client.checkpointStatistics());
 * tracker.totals().completed;
 * ```
 */
export class CheckpointTracker {
  /** Ids already counted; ids below the oldest row in the history are pruned (they never return). */
  readonly #counted = new Set<number>();
  #completed = 0;
  #failed = 0;
  #inProgress = 0;
  #durationMsSum = 0;
  #stateSizeBytesSum = 0;
  #alignmentDurationMsSum = 0;

  refresh(history: readonly CheckpointStats[]): void {
    let inProgress = 0;
    let oldestId = Number.POSITIVE_INFINITY;
    for (const row of history) {
      oldestId = Math.min(oldestId, row.id);
      if (row.status === 'IN_PROGRESS') {
        inProgress++;
        continue;
      }
      if (this.#counted.has(row.id)) continue;
      this.#counted.add(row.id);
      if (row.status === 'FAILED') {
        this.#failed++;
        continue;
      }
      this.#completed++;
      this.#durationMsSum += row.durationMs ?? 0;
      this.#stateSizeBytesSum += row.stateSizeBytes;
      this.#alignmentDurationMsSum += row.alignmentDurationMs;
    }
    this.#inProgress = inProgress;
    for (const id of this.#counted) if (id < oldestId) this.#counted.delete(id);
  }

  totals(): CheckpointTotals {
    return {
      completed: this.#completed,
      failed: this.#failed,
      inProgress: this.#inProgress,
      durationMsSum: this.#durationMsSum,
      stateSizeBytesSum: this.#stateSizeBytesSum,
      alignmentDurationMsSum: this.#alignmentDurationMsSum,
    };
  }
}
