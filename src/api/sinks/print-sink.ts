/** A sink printing each record as a line of text, like Flink's `print()`, for demos and debugging. */
import type { Sink, SinkWriter, SinkWriterContext } from '../sink.ts';
import { formatValue } from './format-value.ts';

/** Where a {@link PrintSink} writes: `process.stdout`, `process.stderr` or any writable stream. */
export interface TextWritable {
  /** Returns false when the stream's buffer is full; the sink then waits for `'drain'`. */
  write(chunk: string): boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

/** How a {@link PrintSink} labels and writes its lines. */
export interface PrintSinkOptions {
  /** Written before each line (`"id> "`, or `"id:2> "` with several subtasks). */
  readonly prefix?: string;
  /** Default `process.stdout`. */
  readonly stream?: TextWritable;
  /** Formats a record; default strings as they are, objects as JSON. */
  readonly format?: (value: unknown) => string;
}

/**
 * Prints one line per record. With parallelism above 1 each line starts with the writing
 * subtask's number (`"2> "`), after the optional `prefix`, exactly as Flink does.
 *
 * @example
 * ```ts
 * const sink = new PrintSink({ prefix: 'alerts' }); // lines like "alerts:3> {...}"
 * ```
 */
export class PrintSink<T = unknown> implements Sink<T> {
  readonly #options: PrintSinkOptions;

  constructor(options: PrintSinkOptions = {}) {
    this.#options = options;
  }

  createWriter(context: SinkWriterContext): SinkWriter<T> {
    const { prefix = '', stream = process.stdout, format = formatValue } = this.#options;
    let label = prefix;
    if (context.parallelism > 1) label += (label === '' ? '' : ':') + (context.subtaskIndex + 1);
    if (label !== '') label += '> ';
    return new PrintWriter<T>(label, stream, format);
  }
}

class PrintWriter<T> implements SinkWriter<T> {
  readonly #label: string;
  readonly #stream: TextWritable;
  readonly #format: (value: unknown) => string;
  #buffered = '';

  constructor(label: string, stream: TextWritable, format: (value: unknown) => string) {
    this.#label = label;
    this.#stream = stream;
    this.#format = format;
  }

  write(value: T): void {
    this.#buffered += this.#label + this.#format(value) + '\n';
  }

  flush(): void | Promise<void> {
    if (this.#buffered === '') return;
    const text = this.#buffered;
    this.#buffered = '';
    const stream = this.#stream;
    if (stream.write(text) || stream.once === undefined) return;
    // The stream is over its high-water mark: hold the task back until it drains.
    return new Promise<void>((resolve) => {
      stream.once?.('drain', resolve);
    });
  }

  close(): void | Promise<void> {
    return this.flush();
  }
}
