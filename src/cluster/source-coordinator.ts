/** The job manager's half of a source: runs its split enumerator, delivers assignments to readers, checkpoints it. */
import type { ReaderEvents, SourceCoordinatorLink } from '../api/operators/source-reader-link.ts';
import type { Source, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../api/source.ts';
import type { CoordinatorStateHandle } from '../checkpoint/snapshot-handles.ts';
import type { Cancellable, Clock } from '../core/clock.ts';
import { ConfigurationError, describeError, TaskFailure, WeirError } from '../core/errors.ts';
import { fromBytes, toBytes } from '../state/serializers/serialize-to-bytes.ts';
import type { TypeSerializer } from '../state/serializers/type-serializer.ts';
import { valueSerializer } from '../state/serializers/value-serializer.ts';
import { IncompatibleStateError } from '../state/snapshot/snapshot-errors.ts';

/**
 * Enumerator state above this is refused at the checkpoint: it lives inside `_metadata`, which
 * is read whole. An enumerator holds only splits not assigned yet, so this is far above need.
 */
export const ENUMERATOR_STATE_BYTES_MAX = 16 * 1024 * 1024;

/** Where the enumerator comes from at the start of a job attempt. */
export type EnumeratorOrigin =
  | { readonly kind: 'fresh' }
  | { readonly kind: 'restored'; readonly state: CoordinatorStateHandle; readonly pointer: string }
  /** A checkpoint from before split enumerators: reader state, no enumerator state. */
  | { readonly kind: 'without-state'; readonly pointer: string };

export interface SourceCoordinatorOptions {
  readonly source: Source<unknown, SourceSplit, unknown>;
  readonly operatorId: string;
  readonly operatorName: string;
  readonly parallelism: number;
  readonly clock: Clock;
  readonly origin: EnumeratorOrigin;
  /** The enumerator failed (or asked to fail the job). */
  readonly failJob: (error: Error) => void;
}

/**
 * One per source operator and job attempt, as Flink's SourceCoordinator. Everything here runs on
 * the event loop the tasks share: an enumerator callback, an assignment (a mail put into the
 * reader task's mailbox) and a checkpoint's `snapshot` + trigger are each one synchronous step,
 * which is what keeps enumerator state and reader state consistent at every checkpoint.
 */
export class SourceCoordinator implements SourceCoordinatorLink<SourceSplit> {
  readonly operatorId: string;
  readonly #options: SourceCoordinatorOptions;
  readonly #serializer: TypeSerializer<unknown>;
  #enumerator: SplitEnumerator<SourceSplit, unknown> | undefined;
  /** Readers the enumerator heard `addReader` for, and how to reach them. */
  readonly #readers = new Map<number, ReaderEvents<SourceSplit>>();
  readonly #noMoreSplits = new Set<number>();
  readonly #timers = new Set<Cancellable>();
  #closed = false;

  constructor(options: SourceCoordinatorOptions) {
    this.operatorId = options.operatorId;
    this.#options = options;
    this.#serializer = options.source.enumeratorStateSerializer ?? valueSerializer;
  }

  /** Creates (or restores) the enumerator and runs its `start()`; the tasks start after this. */
  async start(): Promise<void> {
    const { source, origin } = this.#options;
    const context = this.#context();
    if (origin.kind === 'fresh') {
      this.#enumerator = this.#guardCreate(() => source.createEnumerator(context));
    } else if (origin.kind === 'restored') {
      const state = this.#readState(origin.state, origin.pointer);
      this.#enumerator = this.#guardCreate(() => source.restoreEnumerator(context, state));
    } else {
      const restore = source.restoreEnumeratorWithoutState;
      if (restore === undefined) {
        throw new ConfigurationError(
          `cannot restore source '${this.#options.operatorName}' from ${origin.pointer}: the checkpoint was written before split enumerators existed (it has reader state but no enumerator state), and the source does not implement restoreEnumeratorWithoutState`,
        );
      }
      this.#enumerator = this.#guardCreate(() => restore.call(source, context));
    }
    try {
      await this.#enumerator.start();
    } catch (error) {
      throw this.#failure('the source could not start', error);
    }
  }

  /** The enumerator's state for checkpoint `checkpointId`; synchronous, taken with the trigger. */
  snapshot(checkpointId: number): CoordinatorStateHandle {
    const enumerator = this.#requireEnumerator();
    const state = enumerator.snapshotState(checkpointId);
    const bytes = toBytes(this.#serializer, state);
    if (bytes.length > ENUMERATOR_STATE_BYTES_MAX) {
      throw new WeirError(
        `the split enumerator state of '${this.#options.operatorName}' is ${bytes.length} bytes, above the limit of ${ENUMERATOR_STATE_BYTES_MAX}`,
      );
    }
    return {
      operatorId: this.operatorId,
      operatorName: this.#options.operatorName,
      serializerId: this.#serializer.id,
      serializerVersion: this.#serializer.version,
      bytes,
    };
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.#call(() => this.#enumerator?.notifyCheckpointComplete?.(checkpointId));
  }

  /** Ends periodic work and closes the enumerator; nothing reaches readers afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) timer.cancel();
    this.#timers.clear();
    this.#readers.clear();
    try {
      await this.#enumerator?.close();
    } catch (error) {
      // The attempt is over; a failing close must not hide why it ended.
      void error;
    }
  }

  // SourceCoordinatorLink: calls from reader subtasks. The enumerator runs them on a later
  // microtask, never inside the reader's own stack.

  registerReader(subtaskIndex: number, events: ReaderEvents<SourceSplit>): void {
    this.#defer(() => {
      this.#readers.set(subtaskIndex, events);
      this.#enumerator?.addReader(subtaskIndex);
    });
  }

  requestSplit(subtaskIndex: number): void {
    this.#defer(() => {
      if (this.#readers.has(subtaskIndex)) this.#enumerator?.handleSplitRequest(subtaskIndex);
    });
  }

  returnSplits(subtaskIndex: number, splits: readonly SourceSplit[]): void {
    this.#defer(() => this.#enumerator?.addSplitsBack(splits, subtaskIndex));
  }

  unregisterReader(subtaskIndex: number): void {
    this.#readers.delete(subtaskIndex);
  }

  #context(): SplitEnumeratorContext<SourceSplit> {
    const { parallelism, clock, operatorName } = this.#options;
    return {
      parallelism,
      clock,
      operatorName,
      registeredReaders: () => new Set(this.#readers.keys()),
      assignSplits: (assignment) => this.#assign(assignment),
      signalNoMoreSplits: (subtaskIndex) => {
        const reader = this.#readerOf(subtaskIndex);
        if (this.#noMoreSplits.has(subtaskIndex)) return;
        this.#noMoreSplits.add(subtaskIndex);
        reader.noMoreSplits();
      },
      callAsync: (callable, handler, periodMs) => this.#callAsync(callable, handler, periodMs),
      failJob: (error) => this.#options.failJob(this.#failure('the split enumerator failed the job', error)),
    };
  }

  /** Checks the whole assignment first, so a bad one delivers nothing. */
  #assign(assignment: ReadonlyMap<number, readonly SourceSplit[]>): void {
    for (const subtaskIndex of assignment.keys()) {
      this.#readerOf(subtaskIndex);
      if (this.#noMoreSplits.has(subtaskIndex)) {
        throw new WeirError(
          `cannot assign splits to reader ${subtaskIndex} of '${this.#options.operatorName}': it was told there are no more splits`,
        );
      }
    }
    for (const [subtaskIndex, splits] of assignment) {
      if (splits.length > 0) this.#readers.get(subtaskIndex)!.addSplits([...splits]);
    }
  }

  #readerOf(subtaskIndex: number): ReaderEvents<SourceSplit> {
    const reader = this.#readers.get(subtaskIndex);
    if (reader === undefined) {
      throw new WeirError(
        `reader ${subtaskIndex} of '${this.#options.operatorName}' is not registered (registered: ${[...this.#readers.keys()].join(', ') || 'none'})`,
      );
    }
    return reader;
  }

  #callAsync<R>(
    callable: () => R | Promise<R>,
    handler: (result: R | undefined, error: unknown) => void,
    periodMs: number | undefined,
  ): void {
    if (periodMs !== undefined && !(Number.isFinite(periodMs) && periodMs > 0)) {
      throw new WeirError(`callAsync periodMs must be a positive number, got ${periodMs}`);
    }
    const { clock } = this.#options;
    const run = (): void => {
      if (this.#closed) return;
      let pending: Promise<R>;
      try {
        pending = Promise.resolve(callable());
      } catch (error) {
        pending = Promise.reject(error);
      }
      void pending
        .then(
          (result) => this.#call(() => handler(result, undefined)),
          (error: unknown) => this.#call(() => handler(undefined, error ?? new Error('callAsync failed'))),
        )
        .then(() => {
          if (this.#closed || periodMs === undefined) return;
          const timer = clock.schedule(clock.now() + periodMs, () => {
            this.#timers.delete(timer);
            run();
          });
          this.#timers.add(timer);
        });
    };
    queueMicrotask(run);
  }

  #defer(action: () => void): void {
    queueMicrotask(() => this.#call(action));
  }

  /** Runs an enumerator callback; a throw fails the job (it restarts from a checkpoint). */
  #call(action: () => void): void {
    if (this.#closed) return;
    try {
      action();
    } catch (error) {
      this.#options.failJob(this.#failure('the split enumerator failed', error));
    }
  }

  #guardCreate(create: () => SplitEnumerator<SourceSplit, unknown>): SplitEnumerator<SourceSplit, unknown> {
    try {
      return create();
    } catch (error) {
      throw this.#failure('the source could not create its split enumerator', error);
    }
  }

  #readState(handle: CoordinatorStateHandle, pointer: string): unknown {
    const serializer = this.#serializer;
    const compatible =
      serializer.canRead?.(handle.serializerId, handle.serializerVersion) ??
      (serializer.id === handle.serializerId && serializer.version === handle.serializerVersion);
    const name = `split enumerator of '${this.#options.operatorName}'`;
    if (!compatible) {
      throw new IncompatibleStateError(
        name,
        pointer,
        `was written by serializer ${handle.serializerId} v${handle.serializerVersion}, which ${serializer.id} v${serializer.version} cannot read`,
      );
    }
    try {
      return fromBytes(serializer, handle.bytes);
    } catch (error) {
      throw new IncompatibleStateError(name, pointer, `cannot be read: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  #requireEnumerator(): SplitEnumerator<SourceSplit, unknown> {
    if (this.#enumerator === undefined) {
      throw new WeirError(`the split enumerator of '${this.#options.operatorName}' has not started`);
    }
    return this.#enumerator;
  }

  #failure(message: string, cause: unknown): TaskFailure {
    // The source operator's own name, so a user finds it as written in the job; the message
    // says it was the enumerator (which has no subtask of its own: reported as the first).
    const { operatorName, parallelism } = this.#options;
    return new TaskFailure(
      { operatorName, subtaskIndex: 0, parallelism },
      `${message}: ${describeError(cause)}`,
      {
        cause,
      },
    );
  }
}
