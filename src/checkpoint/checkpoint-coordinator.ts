/** Triggers checkpoints and savepoints, collects acknowledgements, completes or aborts them. */
import type { Cancellable, Clock } from '../core/clock.ts';
import type { CheckpointBarrier } from '../runtime/elements.ts';
import type { CheckpointConfig } from './checkpoint-config.ts';
import type { SubtaskAcknowledgement, SubtaskDecline, SubtaskId } from './checkpoint-messages.ts';
import { PendingCheckpoint } from './pending-checkpoint.ts';
import {
  type CheckpointMetadata,
  type CoordinatorStateHandle,
  keyedStateFiles,
  type SnapshotKind,
  type StateFileHandle,
} from './snapshot-handles.ts';
import type { StateFileSink } from './storage/checkpoint-storage.ts';
import { type SharedStateRegistry, sharedStateKeys } from './storage/shared-state-registry.ts';

/** Where one checkpoint's files go; storage implementations provide it. */
export interface WritableCheckpointLocation {
  readonly pointer: string;
  writeFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  /** Checkpoints only: an immutable file in the job's `shared/` directory (incremental state). */
  writeSharedFile(name: string, bytes: Uint8Array): Promise<StateFileHandle>;
  /** `writeFile` in parts (a large snapshot's file). */
  openFile(name: string): Promise<StateFileSink>;
  openSharedFile(name: string): Promise<StateFileSink>;
  commitMetadata(metadata: CheckpointMetadata): Promise<void>;
  discard(): Promise<void>;
}

export interface CoordinatorStorage {
  createCheckpointLocation(jobId: string, checkpointId: number): Promise<WritableCheckpointLocation>;
  createSavepointLocation(
    jobId: string,
    checkpointId: number,
    targetDirectory: string | undefined,
  ): Promise<WritableCheckpointLocation>;
}

export interface CompletedCheckpoint {
  readonly metadata: CheckpointMetadata;
  readonly location: { readonly pointer: string };
}

/** Keeps the latest N completed checkpoints and subsumes (deletes) older ones. */
export interface CompletedCheckpointStoreLike {
  add(checkpoint: CompletedCheckpoint): Promise<unknown>;
  latest(): CompletedCheckpoint | undefined;
}

/** How the coordinator reaches the running job. */
export interface CheckpointGateway {
  /** Every subtask that must acknowledge. */
  subtasks(): readonly SubtaskId[];
  /**
   * Snapshots the job manager's operator coordinators (source split enumerators) for
   * checkpoint `checkpointId`. Called right before `trigger`, in the same synchronous step:
   * an enumerator's assignments reach readers as mail, so every assignment is either in this
   * snapshot's "unassigned" set or queued before the trigger mail in its reader's mailbox.
   * Throws when a coordinator cannot snapshot (the checkpoint then fails).
   */
  snapshotCoordinators?(checkpointId: number): readonly CoordinatorStateHandle[];
  /** Starts checkpoint `barrier.checkpointId` at the sources (and at finished subtasks). */
  trigger(barrier: CheckpointBarrier, location: WritableCheckpointLocation): void;
  notifyComplete(checkpointId: number): void;
  notifyAborted(checkpointId: number): void;
}

export type CheckpointStatus = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/** One row of checkpoint statistics, as the REST API serves them. */
export interface CheckpointStats {
  readonly id: number;
  readonly kind: SnapshotKind;
  status: CheckpointStatus;
  readonly triggerTimestampMs: number;
  durationMs: number | undefined;
  stateSizeBytes: number;
  alignmentDurationMs: number;
  /** Longest synchronous part over the subtasks (processing paused for this long). */
  syncDurationMs: number;
  /** Longest asynchronous part (serialize and write) over the subtasks. */
  asyncDurationMs: number;
  pointer: string | undefined;
  failureReason: string | undefined;
}

export type CheckpointOutcome =
  | { readonly kind: 'completed'; readonly checkpoint: CompletedCheckpoint }
  | { readonly kind: 'failed'; readonly checkpointId: number | undefined; readonly reason: string };

/** Statistics kept for the REST API; older rows are dropped. */
const STATS_HISTORY_MAX = 50;

interface InFlight {
  readonly pending: PendingCheckpoint;
  readonly location: WritableCheckpointLocation;
  readonly timeout: Cancellable;
  readonly stats: CheckpointStats;
  readonly settle: (outcome: CheckpointOutcome) => void;
  /** Taken at the trigger, together with the barrier injection; written into `_metadata`. */
  readonly coordinatorStates: readonly CoordinatorStateHandle[];
  /**
   * Whether operators hear `notifyCheckpointComplete` (transactional sinks commit there):
   * checkpoints and stop-with-savepoint, not intermediate savepoints. Recovery restores
   * checkpoints only, so side effects committed for an intermediate savepoint would be
   * replayed and committed again after a failover (Flink 1.15+ does not commit them either).
   */
  readonly notifiesCompletion: boolean;
}

export interface CheckpointCoordinatorOptions {
  readonly config: CheckpointConfig;
  readonly clock: Clock;
  readonly jobId: string;
  readonly jobName: string;
  readonly maxParallelism: number;
  readonly storage: CoordinatorStorage;
  readonly store: CompletedCheckpointStoreLike;
  /** The first id to use: one past the highest id seen in restored state or storage. */
  readonly firstCheckpointId: number;
  /** Too many consecutive failures: the job must fail with this reason. */
  readonly onFailJob: (reason: string) => void;
  readonly log: (message: string) => void;
  /**
   * Counts references to shared files (incremental checkpoints): a checkpoint registers the
   * shared files of each acknowledgement as it arrives, so files a pending checkpoint reuses
   * cannot be deleted under it, and releases them if it is aborted. The completed-checkpoint
   * store (which must share this registry) releases them when it subsumes the checkpoint.
   */
  readonly sharedStateRegistry?: SharedStateRegistry;
}

export class CheckpointCoordinator {
  readonly #options: CheckpointCoordinatorOptions;
  #gateway: CheckpointGateway | undefined;
  #nextId: number;
  readonly #inFlight = new Map<number, InFlight>();
  readonly #history: CheckpointStats[] = [];
  #consecutiveFailures = 0;
  #periodic: Cancellable | undefined;
  #lastTriggerMs = Number.NEGATIVE_INFINITY;
  #lastCompletionMs = Number.NEGATIVE_INFINITY;
  #stopped = false;
  /** Completions run one at a time, in the order checkpoints became fully acknowledged. */
  #completions: Promise<void> = Promise.resolve();
  #completingCount = 0;
  #triggerChain: Promise<void> = Promise.resolve();
  #triggeringCheckpoints = 0;
  #lastCompletedCheckpointId = 0;
  /** Every source reached end of input and no checkpoint was triggered since (see requestFinalCheckpoint). */
  #finalCheckpointDue = false;
  /** Waits out the min pause before the final checkpoint. */
  #finalTimer: Cancellable | undefined;

  constructor(options: CheckpointCoordinatorOptions) {
    this.#options = options;
    this.#nextId = Math.max(1, options.firstCheckpointId);
  }

  get nextCheckpointId(): number {
    return this.#nextId;
  }

  /** Ids strictly increase across resumes: continue above the restored (or any seen) id. */
  advanceCheckpointIdPast(checkpointId: number): void {
    this.#nextId = Math.max(this.#nextId, checkpointId + 1);
  }

  /** Attaches the running job (again after a restart) and starts periodic checkpoints. */
  start(gateway: CheckpointGateway): void {
    this.#gateway = gateway;
    this.#stopped = false;
    this.#schedulePeriodic(this.#options.config.intervalMs ?? 0);
  }

  /** Detaches from the job: aborts what is in flight, stops periodic triggering. */
  stop(reason: string): void {
    this.#stopped = true;
    this.#periodic?.cancel();
    this.#periodic = undefined;
    this.#finalCheckpointDue = false;
    this.#finalTimer?.cancel();
    this.#finalTimer = undefined;
    for (const id of [...this.#inFlight.keys()]) this.#abort(id, reason, false);
    this.#gateway = undefined;
  }

  /**
   * Resolves once every fully acknowledged checkpoint finished completing. A restart must wait
   * for this before it picks the latest checkpoint: a completion still running would subsume
   * (delete) the checkpoint being restored.
   */
  async settled(): Promise<void> {
    await this.#triggerChain;
    await this.#completions;
  }

  /**
   * Every source subtask reached end of input. Operators that wait for a checkpoint covering
   * their end of input (two-phase-commit sinks pre-commit their last transaction there, see
   * `awaitFinalCheckpoint`) would otherwise wait for the next periodic trigger, up to one
   * interval; this checkpoint comes as soon as the min pause and max concurrent allow. Only with
   * periodic checkpointing: without it no operator waits (sinks commit at end of input).
   */
  requestFinalCheckpoint(): void {
    if (this.#options.config.intervalMs === undefined || this.#stopped || this.#gateway === undefined) return;
    this.#finalCheckpointDue = true;
    this.#triggerFinalIfAllowed();
  }

  /** Triggers the final checkpoint if it is due and allowed now; else waits (min pause) or is called again when a checkpoint settles. */
  #triggerFinalIfAllowed(): void {
    if (!this.#finalCheckpointDue || this.#stopped || this.#gateway === undefined) return;
    const { clock, config } = this.#options;
    if (this.#checkpointsInFlight() >= config.maxConcurrent) return;
    const earliestMs = this.#lastCompletionMs + config.minPauseMs;
    if (clock.now() < earliestMs) {
      this.#finalTimer?.cancel();
      this.#finalTimer = clock.schedule(earliestMs, () => {
        this.#finalTimer = undefined;
        this.#triggerFinalIfAllowed();
      });
      return;
    }
    this.#finalCheckpointDue = false;
    void this.trigger('checkpoint');
  }

  /** Checkpoints that count against `maxConcurrent`: being triggered, in flight, or completing. */
  #checkpointsInFlight(): number {
    let count = this.#completingCount + this.#triggeringCheckpoints;
    for (const entry of this.#inFlight.values()) if (entry.pending.kind === 'checkpoint') count++;
    return count;
  }

  statistics(): readonly CheckpointStats[] {
    return this.#history;
  }

  latestCompleted(): CompletedCheckpoint | undefined {
    return this.#options.store.latest();
  }

  /** Triggers a checkpoint or savepoint now; resolves when it completed or failed. */
  /**
   * Triggers a checkpoint or savepoint now; resolves when it completed or failed. Triggers are
   * serialized: id allocation, location creation and barrier injection of one checkpoint finish
   * before the next starts, so barriers always leave the sources in id order.
   */
  trigger(kind: SnapshotKind, targetDirectory?: string, suspendSources = false): Promise<CheckpointOutcome> {
    const counts = kind === 'checkpoint';
    if (counts) this.#triggeringCheckpoints++;
    const injected = this.#triggerChain.then(() => this.#triggerNow(kind, targetDirectory, suspendSources));
    this.#triggerChain = injected.then(
      () => undefined,
      () => undefined,
    );
    void this.#triggerChain.then(() => {
      if (counts) this.#triggeringCheckpoints--;
    });
    return injected.then((started) => started.outcome);
  }

  /** Allocates the id, creates the location and injects the barrier; the outcome settles later. */
  async #triggerNow(
    kind: SnapshotKind,
    targetDirectory: string | undefined,
    suspendSources: boolean,
  ): Promise<{ readonly outcome: Promise<CheckpointOutcome> }> {
    const failed = (checkpointId: number | undefined, reason: string) => ({
      outcome: Promise.resolve<CheckpointOutcome>({ kind: 'failed', checkpointId, reason }),
    });
    const gateway = this.#gateway;
    if (gateway === undefined || this.#stopped) {
      return failed(undefined, 'the job is not running');
    }
    const { clock, storage, jobId, config } = this.#options;
    const checkpointId = this.#nextId++;
    const triggerMs = clock.now();
    this.#lastTriggerMs = triggerMs;
    let location: WritableCheckpointLocation;
    try {
      location =
        kind === 'savepoint'
          ? await storage.createSavepointLocation(jobId, checkpointId, targetDirectory)
          : await storage.createCheckpointLocation(jobId, checkpointId);
    } catch (error) {
      const reason = `could not create the location of ${kind} ${checkpointId}: ${(error as Error).message}`;
      this.#recordFailure(kind, reason);
      return failed(checkpointId, reason);
    }
    if (this.#gateway !== gateway || this.#stopped) {
      await location.discard().catch(() => {});
      return failed(checkpointId, 'the job stopped while the checkpoint was being triggered');
    }
    // From here to gateway.trigger nothing awaits: the coordinators' snapshot and the trigger
    // mails form one step of the event loop (see CheckpointGateway.snapshotCoordinators).
    let coordinatorStates: readonly CoordinatorStateHandle[];
    try {
      coordinatorStates = gateway.snapshotCoordinators?.(checkpointId) ?? [];
    } catch (error) {
      await location.discard().catch(() => {});
      const reason = `could not snapshot the coordinators of ${kind} ${checkpointId}: ${(error as Error).message}`;
      this.#recordFailure(kind, reason);
      return failed(checkpointId, reason);
    }
    const pending = new PendingCheckpoint(checkpointId, kind, triggerMs, gateway.subtasks());
    const stats: CheckpointStats = {
      id: checkpointId,
      kind,
      status: 'IN_PROGRESS',
      triggerTimestampMs: triggerMs,
      durationMs: undefined,
      stateSizeBytes: 0,
      alignmentDurationMs: 0,
      syncDurationMs: 0,
      asyncDurationMs: 0,
      pointer: location.pointer,
      failureReason: undefined,
    };
    this.#history.push(stats);
    if (this.#history.length > STATS_HISTORY_MAX) this.#history.shift();
    const outcome = new Promise<CheckpointOutcome>((settle) => {
      const timeout = clock.schedule(triggerMs + config.timeoutMs, () =>
        this.#abort(checkpointId, `${kind} ${checkpointId} expired after ${config.timeoutMs} ms`, true),
      );
      const notifiesCompletion = kind === 'checkpoint' || suspendSources;
      this.#inFlight.set(checkpointId, {
        pending,
        location,
        timeout,
        stats,
        settle,
        notifiesCompletion,
        coordinatorStates,
      });
    });
    gateway.trigger(
      { kind: 'barrier', checkpointId, timestampMs: triggerMs, snapshotKind: kind, suspendSources },
      location,
    );
    return { outcome };
  }

  acknowledge(ack: SubtaskAcknowledgement): void {
    const entry = this.#inFlight.get(ack.checkpointId);
    if (entry === undefined) return; // Late ack of an aborted or subsumed checkpoint.
    const result = entry.pending.acknowledge(ack);
    if (result === 'success') {
      try {
        this.#options.sharedStateRegistry?.register(ack.checkpointId, sharedKeysOf(ack));
      } catch (error) {
        // A reference to a deleted shared file: this checkpoint could never be restored.
        this.#abort(
          ack.checkpointId,
          `acknowledgement references unusable state: ${(error as Error).message}`,
          true,
        );
        return;
      }
    }
    if (result !== 'success') {
      this.#options.log(
        `checkpoint ${ack.checkpointId}: ${result} acknowledgement from subtask ${ack.subtask.vertexId}/${ack.subtask.subtaskIndex}`,
      );
      return;
    }
    entry.stats.stateSizeBytes = entry.pending.stateSizeBytes;
    entry.stats.alignmentDurationMs = entry.pending.alignmentDurationMsMax;
    entry.stats.syncDurationMs = entry.pending.syncDurationMsMax;
    entry.stats.asyncDurationMs = entry.pending.asyncDurationMsMax;
    if (entry.pending.isFullyAcknowledged()) {
      this.#inFlight.delete(entry.pending.checkpointId);
      entry.timeout.cancel();
      this.#completingCount++;
      this.#completions = this.#completions
        .then(() => this.#complete(entry))
        .finally(() => {
          this.#completingCount--;
          this.#triggerFinalIfAllowed();
        });
    }
  }

  decline(decline: SubtaskDecline): void {
    const entry = this.#inFlight.get(decline.checkpointId);
    if (entry === undefined) return;
    this.#abort(
      decline.checkpointId,
      `subtask ${decline.subtask.vertexId}/${decline.subtask.subtaskIndex} declined: ${decline.reason}`,
      true,
    );
  }

  async #complete(entry: InFlight): Promise<void> {
    const { pending, location, stats } = entry;
    const { clock, jobId, jobName, maxParallelism, store, log } = this.#options;
    const completedMs = clock.now();
    if (pending.kind === 'checkpoint' && pending.checkpointId < this.#lastCompletedCheckpointId) {
      // A newer checkpoint already completed: this one can never be restored in preference.
      stats.status = 'FAILED';
      stats.failureReason = `subsumed by checkpoint ${this.#lastCompletedCheckpointId}`;
      this.#releaseShared(pending.checkpointId);
      await location.discard().catch(() => {});
      this.#gateway?.notifyAborted(pending.checkpointId);
      entry.settle({ kind: 'failed', checkpointId: pending.checkpointId, reason: stats.failureReason });
      return;
    }
    let checkpoint: CompletedCheckpoint;
    try {
      const metadata = withCoordinatorStates(
        pending.toMetadata(jobId, jobName, maxParallelism, completedMs),
        entry.coordinatorStates,
      );
      await location.commitMetadata(metadata);
      checkpoint = { metadata, location };
      if (pending.kind === 'checkpoint') await store.add(checkpoint);
    } catch (error) {
      const reason = `could not complete ${pending.kind} ${pending.checkpointId}: ${(error as Error).message}`;
      stats.status = 'FAILED';
      stats.failureReason = reason;
      this.#releaseShared(pending.checkpointId);
      await location.discard().catch(() => {});
      this.#gateway?.notifyAborted(pending.checkpointId);
      this.#recordFailure(pending.kind, reason);
      entry.settle({ kind: 'failed', checkpointId: pending.checkpointId, reason });
      return;
    }
    stats.status = 'COMPLETED';
    if (pending.kind === 'checkpoint') this.#lastCompletedCheckpointId = pending.checkpointId;
    stats.durationMs = completedMs - pending.triggerTimestampMs;
    this.#lastCompletionMs = completedMs;
    this.#consecutiveFailures = 0;
    log(
      `completed ${pending.kind} ${pending.checkpointId} (${stats.stateSizeBytes} bytes, ${stats.durationMs} ms) at ${location.pointer}`,
    );
    // Older checkpoints still in flight can never be restored in preference to this one. A
    // savepoint subsumes nothing: recovery never restores it, so the checkpoints in flight are
    // still the newest recovery points (and may be what a sink's final commit waits for).
    if (pending.kind === 'checkpoint') {
      for (const id of [...this.#inFlight.keys()]) {
        if (id < pending.checkpointId && this.#inFlight.get(id)!.pending.kind === 'checkpoint') {
          this.#abort(id, `subsumed by checkpoint ${pending.checkpointId}`, false);
        }
      }
    }
    if (entry.notifiesCompletion) this.#gateway?.notifyComplete(pending.checkpointId);
    entry.settle({ kind: 'completed', checkpoint });
  }

  #abort(checkpointId: number, reason: string, countsAsFailure: boolean): void {
    const entry = this.#inFlight.get(checkpointId);
    if (entry === undefined) return;
    this.#inFlight.delete(checkpointId);
    entry.timeout.cancel();
    entry.pending.discard();
    entry.stats.status = 'FAILED';
    entry.stats.failureReason = reason;
    this.#options.log(`aborted ${entry.pending.kind} ${checkpointId}: ${reason}`);
    this.#releaseShared(checkpointId);
    void entry.location.discard().catch(() => {});
    this.#gateway?.notifyAborted(checkpointId);
    if (countsAsFailure) this.#recordFailure(entry.pending.kind, reason);
    entry.settle({ kind: 'failed', checkpointId, reason });
    this.#triggerFinalIfAllowed();
  }

  /** Drops the references of a checkpoint that will never complete; deletes files nobody else uses. */
  #releaseShared(checkpointId: number): void {
    const registry = this.#options.sharedStateRegistry;
    if (registry === undefined) return;
    void registry.release(checkpointId).then(
      (released) => {
        for (const failure of released.failures) {
          this.#options.log(
            `could not delete shared file ${failure.key}: ${(failure.error as Error).message}`,
          );
        }
      },
      (error: unknown) =>
        this.#options.log(`releasing shared files of checkpoint ${checkpointId} failed: ${error}`),
    );
  }

  #recordFailure(kind: SnapshotKind, reason: string): void {
    // A failed savepoint is reported to whoever asked for it; it does not fail the job.
    if (kind !== 'checkpoint' || this.#stopped) return;
    this.#consecutiveFailures++;
    const tolerable = this.#options.config.tolerableConsecutiveFailures;
    if (this.#consecutiveFailures > tolerable) {
      this.#options.onFailJob(
        `${this.#consecutiveFailures} consecutive checkpoint failures exceed the tolerable ${tolerable}; last: ${reason}`,
      );
    }
  }

  #schedulePeriodic(delayMs: number): void {
    const interval = this.#options.config.intervalMs;
    if (interval === undefined || this.#stopped) return;
    const { clock, config } = this.#options;
    this.#periodic = clock.schedule(clock.now() + delayMs, () => {
      this.#periodic = undefined;
      if (this.#stopped) return;
      const now = clock.now();
      const earliest = Math.max(this.#lastTriggerMs + interval, this.#lastCompletionMs + config.minPauseMs);
      // A checkpoint still being triggered (its location is being created) counts too, or a
      // slow trigger would let the next periodic one overlap it despite maxConcurrent.
      if (now < earliest || this.#checkpointsInFlight() >= config.maxConcurrent) {
        this.#schedulePeriodic(Math.max(1, Math.min(interval, earliest - now)));
        return;
      }
      void this.trigger('checkpoint');
      this.#schedulePeriodic(interval);
    });
  }
}

/** Adds coordinator state to a checkpoint's metadata; it needs format version 2. */
function withCoordinatorStates(
  metadata: CheckpointMetadata,
  coordinators: readonly CoordinatorStateHandle[],
): CheckpointMetadata {
  if (coordinators.length === 0) return metadata;
  return { ...metadata, formatVersion: 2, coordinators };
}

/** Registry keys (`shared/<name>`) of the shared files one acknowledgement references. */
function sharedKeysOf(ack: SubtaskAcknowledgement): string[] {
  const paths: string[] = [];
  for (const { snapshot } of ack.operators) {
    if (snapshot.keyed !== undefined)
      for (const file of keyedStateFiles(snapshot.keyed)) paths.push(file.relativePath);
    if (snapshot.operatorState !== undefined) paths.push(snapshot.operatorState.relativePath);
  }
  return sharedStateKeys(paths);
}
