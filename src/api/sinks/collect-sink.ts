/** A sink gathering records into memory, so tests can run a job and inspect what it produced. */
import type { Sink, SinkWriter, SinkWriterContext } from '../sink.ts';

/** One record as a {@link CollectSink} received it. */
export interface CollectedRecord<T> {
  readonly value: T;
  readonly timestampMs: number | undefined;
  readonly subtaskIndex: number;
}

/**
 * Keeps every record written by any of its subtasks, in arrival order. The arrays live in this
 * object, so it only sees writers running in the same thread as the test (local, embedded
 * execution). Records are kept as they are written: after a failure and restore, records the
 * job replays appear again.
 *
 * @example
 * ```ts
 * const sink = new CollectSink<number>();
 * // stream.sinkTo(sink); await env.execute();
 * expect(sink.values).toEqual([1, 2, 3]);
 * ```
 */
export class CollectSink<T> implements Sink<T> {
  readonly #records: CollectedRecord<T>[] = [];
  readonly #values: T[] = [];
  readonly #valuesBySubtask: T[][] = [];

  /** Every value received so far, from all subtasks, in arrival order. */
  get values(): readonly T[] {
    return this.#values;
  }

  /** Every record with its timestamp and the subtask that wrote it. */
  get records(): readonly CollectedRecord<T>[] {
    return this.#records;
  }

  /** The values written by one subtask, in its order. */
  valuesOf(subtaskIndex: number): readonly T[] {
    return this.#valuesBySubtask[subtaskIndex] ?? [];
  }

  /** Forgets everything collected, to reuse the sink. */
  clear(): void {
    this.#records.length = 0;
    this.#values.length = 0;
    // Writers hold their subtask's array, so empty the arrays rather than replace them.
    for (const own of this.#valuesBySubtask) if (own !== undefined) own.length = 0;
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    const { subtaskIndex } = context;
    const records = this.#records;
    const values = this.#values;
    const own = (this.#valuesBySubtask[subtaskIndex] ??= []);
    return {
      write(value: T, timestampMs: number | undefined): void {
        records.push({ value, timestampMs, subtaskIndex });
        values.push(value);
        own.push(value);
      },
      flush(): void {},
      close(): void {},
    };
  }
}
