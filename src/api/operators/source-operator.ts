/** The head of a source task: runs a SourceReader over the splits the enumerator gives this subtask. */
import { MAX_WATERMARK, NO_TIMESTAMP } from '../../runtime/elements.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { MailboxExecutor, SourceInput, SourcePollStatus } from '../../runtime/source-input.ts';
import type { ListState } from '../../state/keyed-state.ts';
import type { TypeSerializer } from '../../state/serializers/type-serializer.ts';
import { listState } from '../../state/state-descriptors-factory.ts';
import type { ReaderOutput, Source, SourceOutput, SourceReader, SourceSplit } from '../source.ts';
import type { WatermarkStrategy } from '../watermark-strategy.ts';
import type { SourceCoordinatorLink } from './source-reader-link.ts';
import { SourceWatermarks, type SplitWatermarkOutput } from './source-watermarks.ts';

/** Name of the operator list state holding the reader's split positions: split evenly on rescale. */
export const READER_SPLITS_STATE_NAME = 'source-reader-splits';

export interface SourceOperatorOptions<T> {
  /** Timestamps and watermarks are generated in the source, per split. */
  readonly watermarkStrategy?: WatermarkStrategy<T>;
  /** Period of the generators' `onPeriodicEmit` (the environment's auto-watermark interval). */
  readonly autoWatermarkIntervalMs: number;
}

/**
 * Creates the reader, gives it its restored splits, registers it with the enumerator and polls
 * it. Assignments and "no more splits" arrive as mail. The input ends when the reader reports
 * end of input after the enumerator said there are no more splits: a reader that reports it
 * earlier is only waiting (it may still be given splits).
 */
export class SourceOperator<T, Split extends SourceSplit>
  extends AbstractStreamOperator<T>
  implements SourceInput<T>, ReaderOutput<T>
{
  readonly isSourceInput = true;
  readonly #source: Source<T, Split, unknown>;
  readonly #link: SourceCoordinatorLink<Split>;
  readonly #options: SourceOperatorOptions<T>;
  #mailbox: MailboxExecutor | undefined;
  #reader!: SourceReader<T, Split>;
  #splitsState!: ListState<unknown>;
  #noMoreSplits = false;
  #ended = false;
  #registered = false;
  /** The last poll said end of input before the enumerator said "no more splits". */
  #endedEarly = false;
  /** Settled by the next split event, for a reader that reported end of input too early. */
  #splitEvent: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;
  #watermarks: SourceWatermarks<T> | undefined;
  #mainWatermarkOutput: SplitWatermarkOutput<T> | undefined;
  readonly #splitOutputs = new Map<string, SourceOutput<T>>();
  #timer: { cancel(): void } | undefined;

  constructor(
    source: Source<T, Split, unknown>,
    link: SourceCoordinatorLink<Split>,
    options: SourceOperatorOptions<T>,
  ) {
    super();
    this.#source = source;
    this.#link = link;
    this.#options = options;
  }

  attachMailbox(execute: MailboxExecutor): void {
    this.#mailbox = execute;
  }

  override async open(): Promise<void> {
    const mailbox = this.#mailbox;
    if (mailbox === undefined) throw new Error('a source operator needs its task mailbox before open()');
    const { subtaskIndex, parallelism, clock, random, operatorName } = this.context;
    const strategy = this.#options.watermarkStrategy;
    if (strategy !== undefined) {
      this.#watermarks = new SourceWatermarks(strategy, this.output, () => clock.now());
      this.#schedulePeriodicEmit();
    }
    this.#reader = this.#source.createReader({
      subtaskIndex,
      parallelism,
      clock,
      random,
      operatorName,
      sendSplitRequest: () => this.#link.requestSplit(subtaskIndex),
    });
    this.#splitsState = this.context.operatorStateStore.getListState(
      listState<unknown>(READER_SPLITS_STATE_NAME, {
        serializer: this.#source.splitSerializer as TypeSerializer<unknown> | undefined,
      }),
    );
    // As in Flink's SourceOperator: restored splits first, then registration, then start().
    const restored = this.context.isRestored ? (this.#splitsState.get() as Split[]) : [];
    if (restored.length > 0) this.#reader.addSplits(restored);
    this.#link.registerReader(subtaskIndex, {
      addSplits: (splits) => mailbox(() => this.#onSplits(splits)),
      noMoreSplits: () => mailbox(() => this.#onNoMoreSplits()),
    });
    this.#registered = true;
    await this.#reader.start();
  }

  snapshotState(checkpointId: number): void {
    this.#splitsState.update(this.#reader.snapshotSplits(checkpointId));
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.#reader.notifyCheckpointComplete?.(checkpointId);
  }

  // ReaderOutput: the reader's main output.
  collect(value: T, timestampMs?: number): void {
    const watermarks = this.#watermarks;
    if (watermarks === undefined) {
      this.output.collect(value, timestampMs ?? NO_TIMESTAMP);
      return;
    }
    this.#mainWatermarkOutput ??= watermarks.register();
    this.#mainWatermarkOutput.collect(value, timestampMs);
  }

  createOutputForSplit(splitId: string): SourceOutput<T> {
    let output = this.#splitOutputs.get(splitId);
    if (output === undefined) {
      // Without a watermark strategy there are no watermarks to keep apart: the main output will do.
      output = this.#watermarks?.register() ?? { collect: (value, ts) => this.collect(value, ts) };
      this.#splitOutputs.set(splitId, output);
    }
    return output;
  }

  releaseOutputForSplit(splitId: string): void {
    const output = this.#splitOutputs.get(splitId);
    if (output === undefined) return;
    this.#splitOutputs.delete(splitId);
    if (this.#watermarks !== undefined) this.#watermarks.release(output as SplitWatermarkOutput<T>);
  }

  pollNext(maxRecords: number): SourcePollStatus {
    const status = this.#reader.pollNext(this, maxRecords);
    this.#endedEarly = status === 'end-of-input' && !this.#noMoreSplits;
    // The reader has nothing, but the enumerator may still send splits: wait for them.
    return this.#endedEarly ? 'nothing-available' : status;
  }

  isAvailable(): Promise<void> {
    // A reader that reported end of input early may well say it is available: waiting on it
    // would poll it in a loop. Only a split event (which comes as mail) can change anything.
    return this.#endedEarly ? this.#nextSplitEvent() : this.#reader.isAvailable();
  }

  endInput(): void {
    this.#ended = true;
    this.output.emitWatermark(MAX_WATERMARK);
  }

  override async close(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#registered) {
      this.#registered = false;
      this.#link.unregisterReader(this.context.subtaskIndex);
    }
    await this.#reader?.close();
  }

  #onSplits(splits: readonly Split[]): void {
    if (this.#ended || !this.#registered) {
      this.#link.returnSplits(this.context.subtaskIndex, splits);
      return;
    }
    this.#reader.addSplits(splits);
    this.#wakeSplitEvent();
  }

  #onNoMoreSplits(): void {
    if (this.#ended) return;
    this.#noMoreSplits = true;
    this.#reader.notifyNoMoreSplits();
    this.#wakeSplitEvent();
  }

  #nextSplitEvent(): Promise<void> {
    if (this.#splitEvent === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#splitEvent = { promise, resolve };
    }
    return this.#splitEvent.promise;
  }

  #wakeSplitEvent(): void {
    const event = this.#splitEvent;
    this.#splitEvent = undefined;
    event?.resolve();
  }

  #schedulePeriodicEmit(): void {
    const intervalMs = this.#options.autoWatermarkIntervalMs;
    if (intervalMs <= 0) return;
    const service = this.context.processingTimeService;
    this.#timer = service.registerTimer(service.currentProcessingTime() + intervalMs, () => {
      this.#watermarks?.onPeriodicEmit();
      this.#schedulePeriodicEmit();
    });
  }
}
