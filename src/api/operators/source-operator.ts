/** The head of a source task: runs a SourceReader over this subtask's splits. */
import { MAX_WATERMARK, NO_TIMESTAMP } from '../../runtime/elements.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { SourceInput, SourcePollStatus } from '../../runtime/source-input.ts';
import type { ReaderOutput, Source, SourceReader, SourceSplit } from '../source.ts';

export class SourceOperator<T, Split extends SourceSplit>
  extends AbstractStreamOperator<T>
  implements SourceInput<T>, ReaderOutput<T>
{
  readonly isSourceInput = true;
  readonly #source: Source<T, Split>;
  readonly #splits: readonly Split[];
  #reader!: SourceReader<T, Split>;

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
    await this.#reader.start(this.#splits);
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
