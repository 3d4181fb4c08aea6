/** Base class of operators: keeps context and output, combines watermarks and idleness of inputs. */
import { MIN_WATERMARK } from '../elements.ts';
import type { OperatorContext, StreamOperator } from '../operator.ts';
import type { Output } from '../output.ts';

/**
 * Holds what every operator needs and implements Flink's watermark rules: a one-input
 * operator forwards the watermark of its input; a two-input operator forwards the minimum of
 * its non-idle inputs and is idle only when both inputs are. Event-time timers of keyed
 * operators fire before the watermark is forwarded.
 */
export abstract class AbstractStreamOperator<OUT> implements StreamOperator<OUT> {
  protected context!: OperatorContext;
  protected output!: Output<OUT>;
  #inputWatermarks = [MIN_WATERMARK, MIN_WATERMARK];
  #inputIdle = [false, false];
  #combinedWatermark = MIN_WATERMARK;
  #idle = false;
  #inputCount = 1;
  /** A watermark whose timers have not all fired yet; forwarded once they have. */
  #unfinishedWatermark: number | undefined;

  setup(context: OperatorContext, output: Output<OUT>): void {
    this.context = context;
    this.output = output;
  }

  /** Two-input operators call this in their constructor. */
  protected setInputCount(count: 1 | 2): void {
    this.#inputCount = count;
  }

  open(): void | Promise<void> {}
  finish(): void | Promise<void> {}
  close(): void | Promise<void> {}

  /** The watermark this operator last forwarded. */
  protected currentWatermark(): number {
    return this.#combinedWatermark;
  }

  processWatermark(timestampMs: number): void {
    this.#onInputWatermark(0, timestampMs);
  }
  processWatermark1(timestampMs: number): void {
    this.#onInputWatermark(0, timestampMs);
  }
  processWatermark2(timestampMs: number): void {
    this.#onInputWatermark(1, timestampMs);
  }
  processWatermarkStatus(idle: boolean): void {
    this.#onInputStatus(0, idle);
  }
  processWatermarkStatus1(idle: boolean): void {
    this.#onInputStatus(0, idle);
  }
  processWatermarkStatus2(idle: boolean): void {
    this.#onInputStatus(1, idle);
  }

  /**
   * Called with the new combined watermark before it is forwarded. Keyed operators fire
   * their event-time timers here; the default does exactly that when the input is keyed.
   * Returns false when timers are left to fire (the backend asked for a pause): it is then
   * called again with the same watermark from `finishWatermark`.
   */
  protected onWatermark(timestampMs: number): boolean {
    return this.context.keyedStateBackend === undefined || this.context.advanceWatermark(timestampMs);
  }

  finishWatermark(): boolean {
    const watermark = this.#unfinishedWatermark;
    if (watermark === undefined) return true;
    if (!this.onWatermark(watermark)) return false;
    this.#unfinishedWatermark = undefined;
    this.output.emitWatermark(watermark);
    return true;
  }

  #onInputWatermark(input: number, timestampMs: number): void {
    if (timestampMs > this.#inputWatermarks[input]) this.#inputWatermarks[input] = timestampMs;
    this.#advance();
  }

  #onInputStatus(input: number, idle: boolean): void {
    this.#inputIdle[input] = idle;
    const allIdle = this.#inputCount === 1 ? this.#inputIdle[0] : this.#inputIdle[0] && this.#inputIdle[1];
    if (allIdle !== this.#idle) {
      this.#idle = allIdle;
      this.output.emitWatermarkStatus(allIdle);
    }
    if (!idle || !allIdle) this.#advance();
  }

  #advance(): void {
    let combined: number;
    if (this.#inputCount === 1) {
      combined = this.#inputWatermarks[0];
    } else if (this.#inputIdle[0] !== this.#inputIdle[1]) {
      combined = this.#inputIdle[0] ? this.#inputWatermarks[1] : this.#inputWatermarks[0];
    } else {
      combined = Math.min(this.#inputWatermarks[0], this.#inputWatermarks[1]);
    }
    if (combined > this.#combinedWatermark) {
      if (this.#unfinishedWatermark !== undefined) {
        throw new Error(
          'a watermark arrived before the timers of the one before had fired (a bug in the task)',
        );
      }
      this.#combinedWatermark = combined;
      if (this.onWatermark(combined)) this.output.emitWatermark(combined);
      else this.#unfinishedWatermark = combined;
    }
  }
}
