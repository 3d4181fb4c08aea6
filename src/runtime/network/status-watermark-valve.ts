/** Combines the watermarks and idle statuses of one input's channels into that input's watermark. */
import { MAX_WATERMARK, MIN_WATERMARK } from '../elements.ts';

/** What changed at the input when a channel reported something. */
export interface ValveOutput {
  onWatermark(timestampMs: number): void;
  onStatus(idle: boolean): void;
}

/**
 * The input's watermark is the minimum over its active (non-idle, unfinished) channels and
 * never goes back. A finished channel counts as watermark +∞. The input is idle only when
 * every unfinished channel is idle; an idle input forwards no watermark.
 */
export class StatusWatermarkValve {
  #watermarks: number[];
  #idle: boolean[];
  #finished: boolean[];
  #lastWatermark = MIN_WATERMARK;
  #inputIdle = false;
  readonly #output: ValveOutput;

  constructor(channelCount: number, output: ValveOutput) {
    this.#watermarks = new Array<number>(channelCount).fill(MIN_WATERMARK);
    this.#idle = new Array<boolean>(channelCount).fill(false);
    this.#finished = new Array<boolean>(channelCount).fill(false);
    this.#output = output;
  }

  inputWatermark(): number {
    return this.#lastWatermark;
  }

  watermark(channel: number, timestampMs: number): void {
    if (this.#finished[channel]) return;
    if (timestampMs > this.#watermarks[channel]) this.#watermarks[channel] = timestampMs;
    if (this.#idle[channel]) {
      // A watermark from an idle channel means it is active again (sources resume this way).
      this.status(channel, false);
      return;
    }
    this.#recompute();
  }

  status(channel: number, idle: boolean): void {
    if (this.#finished[channel] || this.#idle[channel] === idle) return;
    this.#idle[channel] = idle;
    this.#updateInputIdle();
    this.#recompute();
  }

  finish(channel: number): void {
    if (this.#finished[channel]) return;
    this.#finished[channel] = true;
    this.#idle[channel] = false;
    this.#watermarks[channel] = MAX_WATERMARK;
    this.#updateInputIdle();
    this.#recompute();
  }

  #updateInputIdle(): void {
    let anyActive = false;
    let anyIdle = false;
    for (let i = 0; i < this.#idle.length; i++) {
      if (this.#finished[i]) continue;
      if (this.#idle[i]) anyIdle = true;
      else anyActive = true;
    }
    const idle = anyIdle && !anyActive;
    if (idle !== this.#inputIdle) {
      this.#inputIdle = idle;
      this.#output.onStatus(idle);
    }
  }

  #recompute(): void {
    if (this.#inputIdle) return;
    let min = MAX_WATERMARK;
    let any = false;
    for (let i = 0; i < this.#watermarks.length; i++) {
      if (this.#idle[i]) continue;
      any = true;
      if (this.#watermarks[i] < min) min = this.#watermarks[i];
    }
    if (any && min > this.#lastWatermark) {
      this.#lastWatermark = min;
      this.#output.onWatermark(min);
    }
  }
}
