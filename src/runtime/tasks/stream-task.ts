/** One subtask: builds its operator chain and runs the mailbox loop over input, timers and control mail. */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { OperatorSubtaskAcknowledgement } from '../../checkpoint/checkpoint-messages.ts';
import type { OperatorSubtaskSnapshot } from '../../checkpoint/snapshot-handles.ts';
import type { TaskLocation } from '../../core/errors.ts';
import { describeError } from '../../core/errors.ts';
import type { HeapOperatorStateStore } from '../../state/backends/heap/heap-operator-state-store.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import {
  type KeyedStatePart,
  type KeyGroupSection,
  readKeyedStatePart,
  registerRestoredTimers,
  type TimerSnapshotEntry,
} from '../../state/snapshot/index.ts';
import { BarrierHandler } from '../checkpointing/barrier-handler.ts';
import type { CheckpointBarrier, RecordBatch, StreamElement } from '../elements.ts';
import type { InputGate } from '../network/input-gate.ts';
import { StatusWatermarkValve } from '../network/status-watermark-valve.ts';
import type {
  CheckpointTiming,
  OneInputStreamOperator,
  StreamOperator,
  TwoInputStreamOperator,
} from '../operator.ts';
import { isSourceInput, type SourceInput } from '../source-input.ts';
import {
  ChainedTarget,
  OperatorOutput,
  type OutputTarget,
  WriterTarget,
  wrapUserError,
} from './chain-outputs.ts';
import { Mailbox } from './mailbox.ts';
import {
  type OperatorSyncSnapshot,
  type SerializedOperatorSnapshot,
  serializeOperatorSnapshot,
  takeOperatorSnapshot,
  writeOperatorSnapshot,
  writeOperatorSnapshotInParts,
} from './operator-snapshot.ts';
import type { CheckpointLocationWriter } from './task-checkpointing.ts';
import type { TaskDeployment, TaskServices } from './task-deployment.ts';
import { MailboxProcessingTimeService, TaskOperatorContext } from './task-operator-context.ts';

/** Records a source emits per poll; also bounds how long one mailbox step runs. */
export const SOURCE_BATCH_RECORDS_MAX = 512;
/** After this long without yielding, the task lets other tasks and I/O run. */
const YIELD_INTERVAL_MS = 4;

interface ChainMember {
  readonly operatorId: string;
  readonly operator: StreamOperator<unknown>;
  readonly context: TaskOperatorContext;
  readonly location: TaskLocation;
  readonly operatorStateStore: HeapOperatorStateStore;
  /** Restored timers of services the operator never asked for: kept for later snapshots. */
  carriedTimers: readonly TimerSnapshotEntry[];
}

export type TaskState = 'created' | 'running' | 'finished' | 'failed' | 'cancelled';

export class StreamTask {
  readonly deployment: TaskDeployment;
  readonly #services: TaskServices;
  readonly #mailbox = new Mailbox();
  readonly #timeService: MailboxProcessingTimeService;
  #chain: ChainMember[] = [];
  #state: TaskState = 'created';
  #cancelled = false;
  #lastYieldMs = 0;
  #barrierHandler: BarrierHandler | undefined;
  /** Checkpoints triggered while this subtask may still see their barrier (non-source subtasks). */
  readonly #awaitingBarrier = new Set<number>();
  #inputEnded = false;
  #resolveInputEnded!: () => void;
  /**
   * Resolves when this subtask's input ended (a source: its reader reached end of input). The
   * job manager asks for the final checkpoint once every source's has (see
   * `CheckpointCoordinator.requestFinalCheckpoint`); never resolves for a cancelled or failed task.
   */
  readonly inputEnded: Promise<void>;
  /**
   * The stop-with-savepoint whose barrier this source emitted: it polls no more input. Only
   * that savepoint's abort resumes it; the abort of any other checkpoint must not, or records
   * past the savepoint would flow (and a bounded source could finish the job under it).
   */
  #suspendedBy: number | undefined;
  /** Pre-barrier work of the checkpoint the barrier handler just triggered; the input loop awaits it. */
  #pendingPreBarrier: Promise<void> | undefined;
  /** Some operator of the chain has `prepareSnapshotPreBarrier` (decided once the chain is built). */
  #hasPreBarrierHooks = false;
  /** The state after end of input, serialized once; every later checkpoint reuses it. */
  #finalSnapshot: Promise<SerializedOperatorSnapshot[]> | undefined;
  #resolveFinal!: (snapshots: Promise<SerializedOperatorSnapshot[]>) => void;
  readonly #finalReady: Promise<SerializedOperatorSnapshot[]>;

  constructor(deployment: TaskDeployment, services: TaskServices) {
    this.deployment = deployment;
    this.#services = services;
    this.#timeService = new MailboxProcessingTimeService(services.clock, (action) =>
      this.#mailbox.put(action),
    );
    this.#finalReady = new Promise((resolve) => {
      this.#resolveFinal = resolve;
    });
    this.inputEnded = new Promise((resolve) => {
      this.#resolveInputEnded = resolve;
    });
    // Nobody may ever ask for the final snapshot; its failure is reported where it is awaited.
    this.#finalReady.catch(() => {});
  }

  get subtaskId(): { readonly vertexId: number; readonly subtaskIndex: number } {
    return { vertexId: this.deployment.vertexId, subtaskIndex: this.deployment.subtaskIndex };
  }

  /**
   * Checkpoint `barrier.checkpointId` was triggered. A running source snapshots in its mailbox
   * and emits the barrier; a subtask whose input has ended acknowledges with its final state;
   * any other subtask waits for the barrier on its inputs (and acknowledges with its final
   * state if its input ends first).
   */
  triggerCheckpoint(barrier: CheckpointBarrier): void {
    if (this.#state === 'failed' || this.#state === 'cancelled') return;
    const isSource = this.deployment.inputGate === undefined;
    if (this.#inputEnded || this.#state === 'finished') {
      void this.#acknowledgeFinal(barrier.checkpointId);
    } else if (isSource) {
      this.#mailbox.put(() => {
        if (this.#inputEnded) {
          void this.#acknowledgeFinal(barrier.checkpointId);
          return undefined;
        }
        if (barrier.suspendSources === true) this.#suspendedBy = barrier.checkpointId;
        // A returned promise (pre-barrier work) holds back later mail and input until it settles.
        return this.#performCheckpoint(barrier, 0);
      });
    } else {
      this.#awaitingBarrier.add(barrier.checkpointId);
    }
  }

  /** Checkpoint `checkpointId` completed: every operator hears of it, in the mailbox (sinks commit here). */
  notifyCheckpointComplete(checkpointId: number): void {
    this.#awaitingBarrier.delete(checkpointId);
    if (this.#state !== 'running') return;
    this.#mailbox.put(async () => {
      // Incremental backends build their next delta on this checkpoint's files from now on.
      for (const member of this.#chain)
        member.context.keyedStateBackend?.notifyCheckpointComplete?.(checkpointId);
      for (const { operator, location } of this.#chain) {
        if (operator.notifyCheckpointComplete === undefined) continue;
        try {
          await operator.notifyCheckpointComplete(checkpointId);
        } catch (error) {
          throw wrapUserError(error, location);
        }
      }
    });
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.#awaitingBarrier.delete(checkpointId);
    if (this.#state !== 'running') return;
    this.#mailbox.put(() => {
      // A failed stop-with-savepoint leaves the job running as before.
      if (this.#suspendedBy === checkpointId) this.#suspendedBy = undefined;
      this.#barrierHandler?.abortIfPending(checkpointId);
      for (const { operator, location } of this.#chain) {
        try {
          operator.notifyCheckpointAborted?.(checkpointId);
        } catch (error) {
          throw wrapUserError(error, location);
        }
      }
    });
  }

  get state(): TaskState {
    return this.#state;
  }

  get name(): string {
    return `${this.deployment.taskName} (${this.deployment.subtaskIndex + 1}/${this.deployment.parallelism})`;
  }

  /** Runs the task to the end of its input; rejects with a TaskFailure naming the operator. */
  async run(): Promise<void> {
    this.#state = 'running';
    try {
      await this.#buildChain();
      const source = this.#chain[0].operator;
      // Split assignments from the job manager arrive as mail, ordered with checkpoint triggers.
      if (isSourceInput(source)) source.attachMailbox((mail) => this.#mailbox.put(mail));
      await this.#openOperators();
      await this.#finishRestores();
      this.#restoreTimers();
      const head = this.#chain[0];
      if (isSourceInput(head.operator)) {
        await this.#runSource(head.operator, head.location);
      } else {
        await this.#runNetworkInput(this.deployment.inputGate!, head);
      }
      if (this.#cancelled) {
        this.#state = 'cancelled';
        return;
      }
      this.#inputEnded = true;
      this.#resolveInputEnded();
      await this.#finishOperators();
      // Cancelled while waiting for a checkpoint that covers the end of input.
      this.#state = this.#cancelled ? 'cancelled' : 'finished';
    } catch (error) {
      this.#state = this.#cancelled ? 'cancelled' : 'failed';
      this.#resolveFinal(handledRejection(error));
      if (!this.#cancelled) throw error;
    } finally {
      await this.#closeOperators();
    }
  }

  /** Stops the task at its next step; it will not finish its operators. */
  cancel(): void {
    this.#cancelled = true;
    this.#resolveFinal(handledRejection(new Error(`${this.name} was cancelled`)));
    this.#mailbox.put(() => {});
    for (const writer of this.deployment.writers) for (const c of writer.channels) c.release();
  }

  async #buildChain(): Promise<void> {
    const { deployment } = this;
    const services = this.#services;
    // Cleared at the end: closures made here (kept by the task) share this scope.
    let restored = deployment.restore;
    deployment.restore = undefined;
    const keyedRestores: { index: number; backend: KeyedStateBackend; parts: readonly KeyedStatePart[] }[] =
      [];
    const members: ChainMember[] = deployment.operators.map((spec, index) => {
      const location: TaskLocation = {
        operatorName: spec.name,
        subtaskIndex: deployment.subtaskIndex,
        parallelism: deployment.parallelism,
      };
      const keyed = spec.keySelectors.some((s) => s !== undefined);
      const restore = restored?.get(spec.operatorId);
      const operatorStateStore = services.createOperatorStateStore();
      if (restore?.operatorState !== undefined) operatorStateStore.restore(restore.operatorState);
      const keyedStateBackend = keyed
        ? services.keyedStateBackendFactory.create({
            operatorId: spec.operatorId,
            keyGroupRange: deployment.keyGroupRange,
            maxParallelism: deployment.maxParallelism,
            clock: services.clock,
          })
        : undefined;
      if (keyedStateBackend !== undefined && restore !== undefined && restore.keyedParts.length > 0) {
        keyedRestores.push({ index, backend: keyedStateBackend, parts: restore.keyedParts });
      }
      const context = new TaskOperatorContext({
        location,
        operatorId: spec.operatorId,
        maxParallelism: deployment.maxParallelism,
        keyGroupRange: deployment.keyGroupRange,
        clock: services.clock,
        random: services.random,
        processingTimeService: this.#timeService,
        operatorStateStore,
        keyedStateBackend,
        keySelectors: spec.keySelectors,
        jobName: services.jobName,
        jobConfiguration: services.jobConfiguration,
        isRestored: restore !== undefined,
        checkpointing: checkpointTiming(services),
      });
      return {
        operatorId: spec.operatorId,
        operator: spec.createOperator(),
        context,
        location,
        operatorStateStore,
        carriedTimers: [],
      };
    });
    for (const { index, backend, parts } of keyedRestores) {
      const stoppable = parts.map((part) => ({
        ...part,
        sections: () => this.#untilCancelled(part.sections()),
      }));
      members[index].carriedTimers =
        backend.restoreFrom === undefined
          ? backend.restore(await Promise.all(stoppable.map(readKeyedStatePart)))
          : await backend.restoreFrom(stoppable);
    }
    keyedRestores.length = 0;
    // Wire outputs tail-first is unnecessary: targets are referenced by index, created above.
    deployment.operators.forEach((spec, index) => {
      const main: OutputTarget[] = [];
      const side = new Map<string, OutputTarget[]>();
      for (const out of spec.outputs) {
        const target: OutputTarget =
          out.kind === 'chained'
            ? new ChainedTarget(
                members[out.target].operator as OneInputStreamOperator<unknown, unknown>,
                members[out.target].location,
              )
            : new WriterTarget(deployment.writers[out.writer]);
        if (out.sideOutputTag === undefined) main.push(target);
        else side.set(out.sideOutputTag, [...(side.get(out.sideOutputTag) ?? []), target]);
      }
      const member = members[index];
      member.operator.setup(member.context, new OperatorOutput(main, side));
    });
    this.#chain = members;
    restored = undefined;
    this.#hasPreBarrierHooks = members.some((m) => m.operator.prepareSnapshotPreBarrier !== undefined);
    const gate = deployment.inputGate;
    const checkpointing = services.checkpointing;
    if (gate !== undefined && checkpointing !== undefined) {
      this.#barrierHandler = new BarrierHandler(
        checkpointing.mode,
        gate,
        {
          triggerCheckpointOnBarrier: (barrier, alignmentMs) => {
            this.#pendingPreBarrier = this.#performCheckpoint(barrier, alignmentMs);
          },
          abortCheckpointOnBarrier: (checkpointId, reason) => this.#decline(checkpointId, reason),
        },
        () => services.clock.now(),
      );
    }
  }

  /** A restore's sections until the task is cancelled: a large restore stops at its next section, closing its files. */
  async *#untilCancelled(sections: AsyncIterable<KeyGroupSection>): AsyncGenerator<KeyGroupSection> {
    for await (const section of sections) {
      if (this.#cancelled) throw new Error(`${this.name} was cancelled while restoring its keyed state`);
      yield section;
    }
  }

  /** Timers restored from a checkpoint go back into the timer services the operators opened. */
  #restoreTimers(): void {
    for (const member of this.#chain) {
      const backend = member.context.keyedStateBackend;
      if (backend === undefined || member.carriedTimers.length === 0) continue;
      member.carriedTimers = registerRestoredTimers(member.carriedTimers, backend, (name) =>
        member.context.existingTimerService(name),
      );
    }
  }

  /**
   * Checkpoint n at its barrier: the operators' pre-barrier work (awaited, without input or
   * mail meanwhile), then the synchronous part. Returns a promise only when some pre-barrier
   * hook did: the caller must not take input or run mail until it settles. A failing hook
   * declines the checkpoint and fails the task (the rejection carries the TaskFailure): its
   * operator's buffered output may be half-written, which only a restore can repair.
   */
  #performCheckpoint(barrier: CheckpointBarrier, alignmentDurationMs: number): undefined | Promise<void> {
    const id = barrier.checkpointId;
    this.#awaitingBarrier.delete(id);
    if (this.#services.checkpointing === undefined) return undefined;
    if (this.#hasPreBarrierHooks) {
      const pending = this.#prepareSnapshotPreBarrier(id, 0);
      if (pending !== undefined) {
        return pending.then(() => {
          // Cancelled meanwhile: the attempt is ending and the coordinator aborts the checkpoint
          // when it stops (declining would count a failover as a checkpoint failure, see
          // #acknowledgeFinal).
          if (!this.#cancelled) this.#snapshotAtBarrier(barrier, alignmentDurationMs);
        });
      }
    }
    this.#snapshotAtBarrier(barrier, alignmentDurationMs);
    return undefined;
  }

  /** Runs the pre-barrier hooks from chain member `from` on; a promise once one of them returns one. */
  #prepareSnapshotPreBarrier(checkpointId: number, from: number): undefined | Promise<void> {
    for (let i = from; i < this.#chain.length; i++) {
      const { operator, location } = this.#chain[i];
      if (operator.prepareSnapshotPreBarrier === undefined) continue;
      let pending: undefined | Promise<void>;
      try {
        pending = operator.prepareSnapshotPreBarrier(checkpointId);
      } catch (error) {
        throw this.#preBarrierFailed(checkpointId, error, location);
      }
      if (pending !== undefined) {
        return pending.then(
          () => (this.#cancelled ? undefined : this.#prepareSnapshotPreBarrier(checkpointId, i + 1)),
          (error: unknown) => {
            throw this.#preBarrierFailed(checkpointId, error, location);
          },
        );
      }
    }
    return undefined;
  }

  #preBarrierFailed(checkpointId: number, error: unknown, location: TaskLocation): Error {
    if (!this.#cancelled) {
      this.#decline(checkpointId, `preparing the snapshot failed: ${describeError(error)}`, error);
    }
    return wrapUserError(error, location);
  }

  /** The synchronous part of checkpoint n: emit the barrier downstream, take copy-on-write views. */
  #snapshotAtBarrier(barrier: CheckpointBarrier, alignmentDurationMs: number): void {
    const id = barrier.checkpointId;
    const startMs = performance.now();
    for (const writer of this.deployment.writers) writer.broadcastElement(barrier);
    const syncs: OperatorSyncSnapshot[] = [];
    try {
      // Savepoints are always full and canonical; checkpoints may be incremental.
      const incremental = barrier.snapshotKind === 'checkpoint';
      for (const member of this.#chain) syncs.push(this.#takeSnapshot(member, id, incremental));
    } catch (error) {
      for (const s of syncs) {
        s.keyed?.release();
        s.incremental?.release();
      }
      this.#decline(id, `snapshot failed: ${describeError(error)}`, error);
      return;
    }
    const syncDurationMs = performance.now() - startMs;
    void this.#completeAsync(id, syncs, alignmentDurationMs, syncDurationMs);
  }

  #takeSnapshot(member: ChainMember, checkpointId: number, incremental = false): OperatorSyncSnapshot {
    try {
      member.operator.snapshotState?.(checkpointId);
    } catch (error) {
      throw wrapUserError(error, member.location);
    }
    return takeOperatorSnapshot(
      member.operatorId,
      member.context.keyedStateBackend,
      member.context.timerServices(),
      member.carriedTimers,
      member.operatorStateStore,
      incremental ? checkpointId : undefined,
    );
  }

  /**
   * The asynchronous part: serialize each operator's view straight into its files, in parts
   * (never a whole file in memory), then acknowledge; processing goes on meanwhile.
   */
  async #completeAsync(
    checkpointId: number,
    syncs: OperatorSyncSnapshot[],
    alignmentDurationMs: number,
    syncDurationMs: number,
  ): Promise<void> {
    const startMs = performance.now();
    // Views not handed to a writer yet; a writer releases its own, whatever happens.
    let next = 0;
    try {
      await this.#writeAndAcknowledge(
        checkpointId,
        syncs.map(({ operatorId }) => operatorId),
        (i, location) => {
          next = i + 1;
          return writeOperatorSnapshotInParts(
            syncs[i],
            location,
            this.deployment.subtaskIndex,
            false,
            checkpointId,
          );
        },
        alignmentDurationMs,
        syncDurationMs,
        startMs,
      );
    } finally {
      for (const sync of syncs.slice(next)) {
        sync.keyed?.release();
        sync.incremental?.release();
      }
    }
  }

  async #acknowledgeFinal(checkpointId: number): Promise<void> {
    let serialized: SerializedOperatorSnapshot[];
    try {
      serialized = await this.#finalReady;
    } catch (error) {
      // Failed or cancelled: the attempt is ending (failover, cancel), and the coordinator
      // aborts the checkpoint when it stops. Declining here would count the failover as a
      // checkpoint failure against tolerableConsecutiveFailures, and the count outlives the
      // restart.
      const keepsFinalState = this.#services.checkpointing?.keepFinalSnapshot === true;
      if (this.#cancelled || this.#state === 'failed' || keepsFinalState) return;
      // Finished without a final state (periodic checkpointing off): this subtask can never
      // acknowledge, so decline now; else a savepoint (stop-with-savepoint too) would wait for
      // its timeout, or fail with "the job attempt ended" once the job finished meanwhile.
      this.#decline(checkpointId, describeError(error), error);
      return;
    }
    const { subtaskIndex } = this.deployment;
    await this.#writeAndAcknowledge(
      checkpointId,
      serialized.map(({ operatorId }) => operatorId),
      (i, location) => writeOperatorSnapshot(serialized[i], location, subtaskIndex, true, checkpointId),
      0,
      0,
      performance.now(),
    );
  }

  /** Writes each operator's files with `write` (operator `i` of the chain), then acknowledges. */
  async #writeAndAcknowledge(
    checkpointId: number,
    operatorIds: readonly string[],
    write: (
      i: number,
      location: CheckpointLocationWriter,
    ) => Promise<{ readonly snapshot: OperatorSubtaskSnapshot; readonly sizeBytes: number }>,
    alignmentDurationMs: number,
    syncDurationMs: number,
    asyncStartMs: number,
  ): Promise<void> {
    const checkpointing = this.#services.checkpointing!;
    const location = checkpointing.locationFor(checkpointId);
    if (location === undefined) return; // Aborted meanwhile: nothing to write, nobody to tell.
    const { parallelism } = this.deployment;
    try {
      let stateSizeBytes = 0;
      const operators: OperatorSubtaskAcknowledgement[] = [];
      for (let i = 0; i < operatorIds.length; i++) {
        const written = await write(i, location);
        stateSizeBytes += written.sizeBytes;
        operators.push({
          operatorId: operatorIds[i],
          operatorName: this.deployment.operators[i].name,
          uid: this.deployment.operators[i].uid,
          parallelism,
          snapshot: written.snapshot,
        });
      }
      checkpointing.acknowledge({
        checkpointId,
        subtask: this.subtaskId,
        operators,
        stats: {
          alignmentDurationMs,
          syncDurationMs,
          asyncDurationMs: performance.now() - asyncStartMs,
          stateSizeBytes,
        },
      });
    } catch (error) {
      this.#decline(checkpointId, `writing the snapshot failed: ${describeError(error)}`, error);
    }
  }

  #decline(checkpointId: number, reason: string, cause?: unknown): void {
    this.#services.checkpointing?.decline({
      checkpointId,
      subtask: this.subtaskId,
      reason: `${this.name}: ${reason}`,
      cause,
    });
  }

  async #openOperators(): Promise<void> {
    // Tail first, so an operator's downstream is ready before it can emit.
    for (let i = this.#chain.length - 1; i >= 0; i--) {
      const { operator, location } = this.#chain[i];
      try {
        await operator.open();
      } catch (error) {
        throw wrapUserError(error, location);
      }
    }
  }

  /**
   * Lets each keyed backend finish restore work it deferred past `open` (see
   * KeyedStateBackend.prefetch), and says how long it took: for a large state, the time
   * between "restoring from checkpoint …" and records flowing.
   */
  async #finishRestores(): Promise<void> {
    for (const { context, location } of this.#chain) {
      const startMs = performance.now();
      const loading = context.keyedStateBackend?.prefetch([], []);
      if (loading === undefined) {
        context.restoreLoaded();
        continue;
      }
      await loading;
      context.restoreLoaded();
      if (!context.isRestored) continue; // backpressure from writes `open` made, not a restore
      this.#services.logger?.log(
        'info',
        `${this.name}: restored keyed state of '${location.operatorName}' loaded in ${((performance.now() - startMs) / 1000).toFixed(1)} s`,
      );
    }
  }

  async #finishOperators(): Promise<void> {
    for (const { operator, location } of this.#chain) {
      try {
        await operator.finish();
      } catch (error) {
        throw wrapUserError(error, location);
      }
      await this.#drainMailbox();
    }
    await this.#afterBatch();
    if (this.#services.checkpointing?.keepFinalSnapshot === true) {
      const syncs = this.#chain.map((member) => this.#takeSnapshot(member, 0));
      this.#finalSnapshot = Promise.all(syncs.map(serializeOperatorSnapshot));
      this.#resolveFinal(this.#finalSnapshot);
      // Checkpoints that were waiting for a barrier that will never come now use the final state.
      for (const id of this.#awaitingBarrier) void this.#acknowledgeFinal(id);
      this.#awaitingBarrier.clear();
      await this.#finalSnapshot;
    } else {
      // Without periodic checkpoints no final state is kept: a savepoint that reaches this
      // subtask after its input ended is declined at once instead of waiting for its timeout.
      this.#resolveFinal(
        handledRejection(
          new Error('its input ended and, with periodic checkpointing off, it keeps no final state'),
        ),
      );
      for (const id of this.#awaitingBarrier) void this.#acknowledgeFinal(id);
      this.#awaitingBarrier.clear();
    }
    for (const writer of this.deployment.writers) writer.broadcastElement({ kind: 'end-of-partition' });
    await this.#awaitFinalCheckpoint();
  }

  /**
   * Operators that must see a checkpoint covering the end of input complete (two-phase-commit
   * sinks) keep the task running its mailbox until they are done; cancellation ends the wait
   * (the restored checkpoint then commits or aborts what they pre-committed).
   */
  async #awaitFinalCheckpoint(): Promise<void> {
    const checkpointsFollow = this.#services.checkpointing?.keepFinalSnapshot === true;
    for (const { operator, location } of this.#chain) {
      if (operator.awaitFinalCheckpoint === undefined) continue;
      let done = false;
      let failure: unknown;
      let pending: undefined | Promise<void>;
      try {
        pending = operator.awaitFinalCheckpoint(checkpointsFollow);
      } catch (error) {
        throw wrapUserError(error, location);
      }
      if (pending === undefined) continue;
      pending.then(
        () => {
          done = true;
        },
        (error: unknown) => {
          done = true;
          failure = wrapUserError(error, location);
        },
      );
      const settled = pending.then(
        () => undefined,
        () => undefined,
      );
      while (!done && !this.#cancelled) {
        await this.#drainMailbox();
        if (!done && !this.#cancelled) await Promise.race([settled, this.#mailbox.nextMail()]);
      }
      if (failure !== undefined) throw failure;
      if (this.#cancelled) return;
    }
  }

  async #closeOperators(): Promise<void> {
    this.#timeService.shutdown();
    let firstError: unknown;
    for (const { operator, context, location } of this.#chain) {
      try {
        await operator.close();
      } catch (error) {
        firstError ??= wrapUserError(error, location);
      }
      context.dispose();
    }
    if (firstError !== undefined && this.#state === 'finished') {
      this.#state = 'failed';
      throw firstError;
    }
  }

  async #runSource(source: SourceInput<unknown>, location: TaskLocation): Promise<void> {
    for (;;) {
      await this.#drainMailbox();
      if (this.#cancelled) return;
      if (this.#suspendedBy !== undefined) {
        await this.#mailbox.nextMail();
        continue;
      }
      let status: string;
      try {
        status = source.pollNext(SOURCE_BATCH_RECORDS_MAX);
      } catch (error) {
        throw wrapUserError(error, location);
      }
      await this.#afterBatch();
      if (status === 'end-of-input') {
        source.endInput();
        return;
      }
      if (status === 'nothing-available') {
        await Promise.race([source.isAvailable(), this.#mailbox.nextMail()]);
      } else {
        await this.#maybeYield();
      }
    }
  }

  async #runNetworkInput(gate: InputGate, head: ChainMember): Promise<void> {
    const dispatcher = new InputDispatcher(gate, head);
    for (;;) {
      await this.#drainMailbox();
      if (this.#cancelled) return;
      const polled = gate.poll();
      if (polled === undefined) {
        if (gate.isFinished()) return;
        await Promise.race([gate.available(), this.#mailbox.nextMail()]);
        continue;
      }
      const element = polled.element;
      if (element.kind === 'records') {
        const pending = dispatcher.prepare(polled.channelIndex, element);
        if (pending !== undefined) await pending;
        dispatcher.records(polled.channelIndex, element.values, element.timestamps);
        await this.#afterBatch();
        await this.#maybeYield();
      } else {
        if (element.kind === 'barrier') {
          this.#barrierHandler?.onBarrier(polled.channelIndex, element);
        } else {
          dispatcher.control(polled.channelIndex, element);
          await this.#finishWatermark(head);
          if (element.kind === 'end-of-partition') this.#barrierHandler?.onEndOfPartition();
        }
        // A checkpoint triggered just now may have pre-barrier work: no input until it is done.
        const preBarrier = this.#pendingPreBarrier;
        if (preBarrier !== undefined) {
          this.#pendingPreBarrier = undefined;
          await preBarrier;
        }
      }
    }
  }

  /**
   * A watermark whose timers stopped firing because the backend's writes were backed up:
   * wait for the backend and flush outputs between slices of timers, taking no input and
   * running no mail until the watermark is forwarded (as if it had fired in one go).
   */
  async #finishWatermark(head: ChainMember): Promise<void> {
    const { operator, context, location } = head;
    const finished = (): boolean => {
      try {
        return operator.finishWatermark?.() !== false;
      } catch (error) {
        throw wrapUserError(error, location);
      }
    };
    while (!finished()) {
      const room = context.keyedStateBackend?.prefetch([], []);
      if (room !== undefined) await room;
      await this.#afterBatch();
      if (this.#cancelled) return;
    }
  }

  #drainMailbox(): undefined | Promise<void> {
    return this.#mailbox.drain();
  }

  /** Sinks flush, writers ship their batches, and the task waits while its outputs are full. */
  async #afterBatch(): Promise<void> {
    for (const { operator, location } of this.#chain) {
      if (operator.afterBatch === undefined) continue;
      try {
        const pending = operator.afterBatch();
        if (pending !== undefined) await pending;
      } catch (error) {
        throw wrapUserError(error, location);
      }
    }
    for (const writer of this.deployment.writers) {
      writer.flush();
      if (!writer.isWritable()) await writer.writable();
    }
  }

  async #maybeYield(): Promise<void> {
    const now = performance.now();
    if (now - this.#lastYieldMs < YIELD_INTERVAL_MS) return;
    await yieldToEventLoop();
    this.#lastYieldMs = performance.now();
  }
}

/** Routes what the input gate delivers to the head operator's first or second input. */
class InputDispatcher {
  readonly #head: ChainMember;
  readonly #inputOf: number[];
  readonly #localIndex: number[];
  readonly #valves: StatusWatermarkValve[];
  readonly #two: TwoInputStreamOperator<unknown, unknown, unknown> | undefined;
  readonly #one: OneInputStreamOperator<unknown, unknown> | undefined;

  constructor(gate: InputGate, head: ChainMember) {
    this.#head = head;
    const counts = [0, 0];
    this.#inputOf = gate.channels.map((c) => c.inputIndex);
    this.#localIndex = gate.channels.map((c) => counts[c.inputIndex]++);
    const isTwoInput = counts[1] > 0 || 'processElement2' in head.operator;
    this.#two = isTwoInput ? (head.operator as TwoInputStreamOperator<unknown, unknown, unknown>) : undefined;
    this.#one = isTwoInput ? undefined : (head.operator as OneInputStreamOperator<unknown, unknown>);
    this.#valves = [0, 1].map(
      (input) =>
        new StatusWatermarkValve(counts[input], {
          onWatermark: (ts) => this.#guard(() => this.#watermark(input, ts)),
          onStatus: (idle) => this.#guard(() => this.#status(input, idle)),
        }),
    );
  }

  prepare(channelIndex: number, batch: RecordBatch): undefined | Promise<void> {
    const operator = this.#head.operator as Partial<TwoInputStreamOperator<unknown, unknown, unknown>> &
      Partial<OneInputStreamOperator<unknown, unknown>>;
    const values = batch.values;
    if (batch.keyGroups !== undefined) {
      const input = this.#inputOf[channelIndex] === 0 ? 0 : 1;
      this.#head.context.offerKeyGroups(values, input, batch.keyGroups, batch.keySelector);
    }
    return this.#guard(() =>
      this.#two === undefined
        ? operator.prepareBatch?.(values)
        : this.#inputOf[channelIndex] === 0
          ? operator.prepareBatch1?.(values)
          : operator.prepareBatch2?.(values),
    );
  }

  records(channelIndex: number, values: unknown[], timestamps: number[]): void {
    const n = values.length;
    try {
      if (this.#one !== undefined) {
        const op = this.#one;
        for (let i = 0; i < n; i++) op.processElement(values[i], timestamps[i]);
      } else if (this.#inputOf[channelIndex] === 0) {
        const op = this.#two!;
        for (let i = 0; i < n; i++) op.processElement1(values[i], timestamps[i]);
      } else {
        const op = this.#two!;
        for (let i = 0; i < n; i++) op.processElement2(values[i], timestamps[i]);
      }
    } catch (error) {
      throw wrapUserError(error, this.#head.location);
    }
  }

  control(channelIndex: number, element: StreamElement): void {
    const valve = this.#valves[this.#inputOf[channelIndex]];
    const local = this.#localIndex[channelIndex];
    switch (element.kind) {
      case 'watermark':
        valve.watermark(local, element.timestamp);
        return;
      case 'watermark-status':
        valve.status(local, element.idle);
        return;
      case 'end-of-partition':
        valve.finish(local);
        return;
      case 'barrier':
      case 'records':
        throw new Error('records are not control elements');
    }
  }

  #watermark(input: number, timestampMs: number): void {
    if (this.#one !== undefined) this.#one.processWatermark(timestampMs);
    else if (input === 0) this.#two!.processWatermark1(timestampMs);
    else this.#two!.processWatermark2(timestampMs);
  }

  #status(input: number, idle: boolean): void {
    if (this.#one !== undefined) this.#one.processWatermarkStatus(idle);
    else if (input === 0) this.#two!.processWatermarkStatus1(idle);
    else this.#two!.processWatermarkStatus2(idle);
  }

  #guard<R>(action: () => R): R {
    try {
      return action();
    } catch (error) {
      throw wrapUserError(error, this.#head.location);
    }
  }
}

/**
 * A rejected promise already marked as handled. `#resolveFinal` may be called again after the
 * final snapshot was settled (a task that failed is then cancelled by the job manager); the
 * second promise is ignored, and a plain `Promise.reject` would surface as an unhandled rejection.
 */
function handledRejection(error: unknown): Promise<never> {
  const rejected = Promise.reject(error);
  rejected.catch(() => {});
  return rejected;
}

/** The periodic checkpointing operators are told about (undefined without periodic checkpoints). */
function checkpointTiming(services: TaskServices): CheckpointTiming | undefined {
  const { intervalMs, timeoutMs } = services.checkpointing ?? {};
  if (intervalMs === undefined || timeoutMs === undefined) return undefined;
  return { intervalMs, timeoutMs };
}
