/** The head of a source task: runs a SourceReader over this subtask's splits. */
import { MAX_WATERMARK, NO_TIMESTAMP } from '../../runtime/elements.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { SourceInput, SourcePollStatus } from '../../runtime/source-input.ts';
import type { ListState } from '../../state/keyed-state.ts';
import { listState } from '../../state/state-descriptors-factory.ts';
import type { ReaderOutput, Source, SourceReader, SourceSplit } from '../source.ts';

/** Operator list state holding the reader's split positions: split evenly on rescale. */
const SPLITS_STATE = listState<unknown>('source-reader-splits');

export class SourceOperator<T, Split extends SourceSplit>
  extends AbstractStreamOperator<T>
  implements SourceInput<T>, ReaderOutput<T>
{
  readonly isSourceInput = true;
  readonly #source: Source<T, Split>;
  readonly #splits: readonly Split[];
  #reader!: SourceReader<T, Split>;
  #splitsState!: ListState<unknown>;

  constructor(source: Source<T, Split>, splits: readonly Split[]) {
    super();
    this.#source = source;
    this.#splits = splits;
  }

  override async open(): Promise<void> {
    this.#reader = this.#source.createReader({
      subtaskIndex: this.context.subtaskIndex,
      parallelism: this.context.parallelism,
      clock: this.context.clock,
      random: this.context.random,
      operatorName: this.context.operatorName,
    });
    this.#splitsState = this.context.operatorStateStore.getListState(SPLITS_STATE);
    // Restored: the positions in the checkpoint replace the job manager's fresh assignment.
    const splits = this.context.isRestored ? (this.#splitsState.get() as Split[]) : this.#splits;
    await this.#reader.start(splits);
  }

  snapshotState(): void {
    this.#splitsState.update(this.#reader.snapshotSplits());
  }

  collect(value: T, timestampMs?: number): void {
    this.output.collect(value, timestampMs ?? NO_TIMESTAMP);
  }

  pollNext(maxRecords: number): SourcePollStatus {
    return this.#reader.pollNext(this, maxRecords);
  }

  isAvailable(): Promise<void> {
    return this.#reader.isAvailable();
  }

  endInput(): void {
    this.output.emitWatermark(MAX_WATERMARK);
  }

  override async close(): Promise<void> {
    await this.#reader?.close();
  }
}
