/** The Output implementations that connect operators within a chain and to record writers. */
import { TaskFailure, type TaskLocation } from '../../core/errors.ts';
import type { RecordWriter } from '../network/record-writer.ts';
import type { OneInputStreamOperator } from '../operator.ts';
import type { Output, OutputTag } from '../output.ts';

/** One destination of an operator's records. */
export interface OutputTarget {
  collect(value: unknown, timestampMs: number): void;
  emitWatermark(timestampMs: number): void;
  emitWatermarkStatus(idle: boolean): void;
}

/** Wraps anything a user function threw with where it happened; keeps the user's error as cause. */
export function wrapUserError(error: unknown, location: TaskLocation): TaskFailure {
  if (error instanceof TaskFailure) return error;
  let message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError && /private (member|field)/i.test(message)) {
    message +=
      ' — user function objects are copied per subtask, and #private fields cannot follow the copy: pass a factory instead, e.g. .process(() => new MyFunction()), or keep per-subtask fields public';
  }
  return new TaskFailure(location, message, { cause: error });
}

/** Calls the next operator of the chain directly; attributes its failures to it. */
export class ChainedTarget implements OutputTarget {
  readonly #operator: OneInputStreamOperator<unknown, unknown>;
  readonly #location: TaskLocation;

  constructor(operator: OneInputStreamOperator<unknown, unknown>, location: TaskLocation) {
    this.#operator = operator;
    this.#location = location;
  }

  collect(value: unknown, timestampMs: number): void {
    try {
      this.#operator.processElement(value, timestampMs);
    } catch (error) {
      throw wrapUserError(error, this.#location);
    }
  }

  emitWatermark(timestampMs: number): void {
    try {
      this.#operator.processWatermark(timestampMs);
    } catch (error) {
      throw wrapUserError(error, this.#location);
    }
  }

  emitWatermarkStatus(idle: boolean): void {
    this.#operator.processWatermarkStatus(idle);
  }
}

/** Hands records to a record writer (the chain's boundary). */
export class WriterTarget implements OutputTarget {
  readonly #writer: RecordWriter;

  constructor(writer: RecordWriter) {
    this.#writer = writer;
  }

  collect(value: unknown, timestampMs: number): void {
    this.#writer.emit(value, timestampMs);
  }

  emitWatermark(timestampMs: number): void {
    this.#writer.broadcastElement({ kind: 'watermark', timestamp: timestampMs });
  }

  emitWatermarkStatus(idle: boolean): void {
    this.#writer.broadcastElement({ kind: 'watermark-status', idle });
  }
}

/** An operator's Output: main targets get records; side outputs by tag id; watermarks go everywhere. */
export class OperatorOutput implements Output<unknown> {
  readonly #main: OutputTarget[];
  readonly #single: OutputTarget | undefined;
  readonly #side: Map<string, OutputTarget[]>;
  readonly #all: OutputTarget[];

  constructor(main: OutputTarget[], side: Map<string, OutputTarget[]>) {
    this.#main = main;
    this.#single = main.length === 1 ? main[0] : undefined;
    this.#side = side;
    this.#all = [...main, ...[...side.values()].flat()];
  }

  collect(value: unknown, timestampMs: number): void {
    const single = this.#single;
    if (single !== undefined) {
      single.collect(value, timestampMs);
      return;
    }
    for (let i = 0; i < this.#main.length; i++) this.#main[i].collect(value, timestampMs);
  }

  collectSide<X>(tag: OutputTag<X>, value: X, timestampMs: number): void {
    const targets = this.#side.get(tag.id);
    if (targets === undefined) return; // Nobody consumes this side output: like Flink, drop it.
    for (let i = 0; i < targets.length; i++) targets[i].collect(value, timestampMs);
  }

  emitWatermark(timestampMs: number): void {
    for (let i = 0; i < this.#all.length; i++) this.#all[i].emitWatermark(timestampMs);
  }

  emitWatermarkStatus(idle: boolean): void {
    for (let i = 0; i < this.#all.length; i++) this.#all[i].emitWatermarkStatus(idle);
  }
}
