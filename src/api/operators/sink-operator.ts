/** The operator at the end of a pipeline: hands records to a SinkWriter and flushes it between batches. */
import { randomUUID } from 'node:crypto';
import { NO_TIMESTAMP } from '../../runtime/elements.ts';
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { Sink, SinkWriter } from '../sink.ts';

/**
 * Runs a plain (`'none'` or `'at-least-once'`) sink. At-least-once writers also flush at every
 * barrier (or run their `snapshotPreBarrier`), before it is forwarded, so the checkpoint
 * covers only durable output. Plain sinks
 * keep no state: their context says `restoredCheckpointId: undefined`.
 */
export class SinkOperator<T>
  extends AbstractStreamOperator<never>
  implements OneInputStreamOperator<T, never>
{
  readonly #sink: Sink<T>;
  readonly #flushAtBarrier: boolean;
  #writer: SinkWriter<T> | undefined;

  constructor(sink: Sink<T>) {
    super();
    this.#sink = sink;
    this.#flushAtBarrier = sink.deliveryGuarantee !== 'none';
  }

  override async open(): Promise<void> {
    this.#writer = await this.#sink.createWriter({
      jobName: this.context.jobName,
      operatorName: this.context.operatorName,
      operatorId: this.context.operatorId,
      subtaskIndex: this.context.subtaskIndex,
      parallelism: this.context.parallelism,
      restoredCheckpointId: undefined,
      restoredParallelism: undefined,
      lineageId: randomUUID().slice(0, 8),
      checkpointIntervalMs: this.context.checkpointing?.intervalMs,
      checkpointTimeoutMs: this.context.checkpointing?.timeoutMs,
    });
  }

  processElement(value: T, timestamp: number): void {
    this.#writer!.write(value, timestamp === NO_TIMESTAMP ? undefined : timestamp);
  }

  afterBatch(): undefined | Promise<void> {
    return this.#writer!.flush(false) ?? undefined;
  }

  prepareSnapshotPreBarrier(checkpointId: number): undefined | Promise<void> {
    const writer = this.#writer!;
    if (writer.snapshotPreBarrier !== undefined) return writer.snapshotPreBarrier(checkpointId) ?? undefined;
    return this.#flushAtBarrier ? (writer.flush(false) ?? undefined) : undefined;
  }

  override async finish(): Promise<void> {
    await this.#writer!.flush(true);
  }

  override async close(): Promise<void> {
    await this.#writer?.close();
  }
}
