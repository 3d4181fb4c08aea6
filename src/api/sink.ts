/** The sink contract: one writer per sink subtask. Exactly-once sinks extend it later (two-phase commit). */

export interface SinkWriterContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly operatorName: string;
}

export interface SinkWriter<T> {
  /** Called per record on the task's thread; buffer here, do I/O in `flush`. */
  write(value: T, timestampMs: number | undefined): void;
  /**
   * Called between batches and at end of input (`endOfInput`); a returned promise is awaited
   * before the task goes on, which is how a slow sink backpressures its input.
   */
  flush(endOfInput: boolean): void | Promise<void>;
  close(): void | Promise<void>;
}

export interface Sink<T> {
  createWriter(context: SinkWriterContext): SinkWriter<T> | Promise<SinkWriter<T>>;
}
