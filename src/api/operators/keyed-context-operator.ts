/** Runs a one-input operator on a keyed stream: sets the key context before each record, so rich functions can use keyed state. */
import type { OneInputStreamOperator, OperatorContext } from '../../runtime/operator.ts';
import type { Output } from '../../runtime/output.ts';

export class KeyedContextOperator<IN, OUT> implements OneInputStreamOperator<IN, OUT> {
  readonly #inner: OneInputStreamOperator<IN, OUT>;
  #context!: OperatorContext;

  constructor(inner: OneInputStreamOperator<IN, OUT>) {
    this.#inner = inner;
  }

  setup(context: OperatorContext, output: Output<OUT>): void {
    this.#context = context;
    this.#inner.setup(context, output);
  }

  open(): void | Promise<void> {
    return this.#inner.open();
  }

  prepareBatch(values: readonly IN[]): undefined | Promise<void> {
    return this.#context.prefetchKeys(values, 0);
  }

  processElement(value: IN, timestamp: number): void {
    this.#context.setKeyContextElement(value, 0);
    this.#inner.processElement(value, timestamp);
  }

  processWatermark(timestamp: number): void {
    this.#inner.processWatermark(timestamp);
  }

  processWatermarkStatus(idle: boolean): void {
    this.#inner.processWatermarkStatus(idle);
  }

  afterBatch(): undefined | Promise<void> {
    return this.#inner.afterBatch?.();
  }

  finish(): void | Promise<void> {
    return this.#inner.finish();
  }

  close(): void | Promise<void> {
    return this.#inner.close();
  }
}
