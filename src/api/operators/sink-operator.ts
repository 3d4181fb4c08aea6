/** The operator at the end of a pipeline: hands records to a SinkWriter and flushes it between batches. */
import { NO_TIMESTAMP } from '../../runtime/elements.ts';
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Sink, SinkWriter } from '../sink.ts';

export class SinkOperator<T>
  extends AbstractStreamOperator<never>
  implements OneInputStreamOperator<T, never>
{
  readonly #sink: Sink<T>;
  #writer: SinkWriter<T> | undefined;

  constructor(sink: Sink<T>) {
    super();
    this.#sink = sink;
  }

  override async open(): Promise<void> {
    this.#writer = await this.#sink.createWriter({
      subtaskIndex: this.context.subtaskIndex,
      parallelism: this.context.parallelism,
      operatorName: this.context.operatorName,
    });
  }

  processElement(value: T, timestamp: number): void {
    this.#writer!.write(value, timestamp === NO_TIMESTAMP ? undefined : timestamp);
  }

  afterBatch(): undefined | Promise<void> {
    return this.#writer!.flush(false) ?? undefined;
  }

  override async finish(): Promise<void> {
    await this.#writer!.flush(true);
  }

  override async close(): Promise<void> {
    await this.#writer?.close();
  }
}
