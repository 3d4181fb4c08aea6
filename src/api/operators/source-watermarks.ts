/** Timestamps and watermarks inside a source: one generator per split, the source's watermark is their minimum. */
import { NO_TIMESTAMP } from '../../runtime/elements.ts';
import type { Output } from '../../runtime/output.ts';
import type { SourceOutput } from '../source.ts';
import type { WatermarkGenerator, WatermarkOutput, WatermarkStrategy } from '../watermark-strategy.ts';

/**
 * One watermark input of the source: a split's output, or the reader's main output. It assigns
 * timestamps with the strategy, runs its own generator, and keeps its own watermark and idleness.
 */
export class SplitWatermarkOutput<T> implements SourceOutput<T>, WatermarkOutput {
  readonly #owner: SourceWatermarks<T>;
  readonly #generator: WatermarkGenerator<T>;
  watermark = Number.NEGATIVE_INFINITY;
  idle = false;
  lastEventMs: number;

  constructor(owner: SourceWatermarks<T>, generator: WatermarkGenerator<T>, nowMs: number) {
    this.#owner = owner;
    this.#generator = generator;
    this.lastEventMs = nowMs;
  }

  collect(value: T, timestampMs?: number): void {
    const owner = this.#owner;
    const ts = owner.assignTimestamp(value, timestampMs);
    owner.onEvent(this);
    if (this.idle) this.markActive();
    owner.output.collect(value, ts);
    this.#generator.onEvent(value, ts, this);
    if (owner.strategy.emitOnEvent) this.#generator.onPeriodicEmit(this);
  }

  emitWatermark(timestampMs: number): void {
    // Repeating the same watermark (a periodic emit) must not wake an idle split.
    if (timestampMs <= this.watermark) return;
    this.watermark = timestampMs;
    this.idle = false;
    this.#owner.combine();
  }

  markIdle(): void {
    if (this.idle) return;
    this.idle = true;
    this.#owner.combine();
  }

  markActive(): void {
    if (!this.idle) return;
    this.idle = false;
    this.#owner.combine();
  }

  /** As Flink's WatermarksWithIdleness: a split without events for `idlenessMs` is idle, else its generator emits. */
  onPeriodicEmit(nowMs: number, idlenessMs: number | undefined): void {
    if (idlenessMs !== undefined && nowMs - this.lastEventMs >= idlenessMs) this.markIdle();
    else this.#generator.onPeriodicEmit(this);
  }
}

/**
 * Combines the source's watermark inputs as Flink's WatermarkOutputMultiplexer does: the
 * watermark is the minimum over inputs that are not idle, never decreasing; the source is idle
 * when every input is. A released split no longer holds the watermark back.
 */
export class SourceWatermarks<T> {
  readonly strategy: WatermarkStrategy<T>;
  readonly output: Output<T>;
  readonly #nowMs: () => number;
  readonly #inputs = new Set<SplitWatermarkOutput<T>>();
  #watermark = Number.NEGATIVE_INFINITY;
  #idle = false;
  /** When any input last saw an event, for idleness while the source has no inputs at all. */
  #lastEventMs: number;

  constructor(strategy: WatermarkStrategy<T>, output: Output<T>, nowMs: () => number) {
    this.strategy = strategy;
    this.output = output;
    this.#nowMs = nowMs;
    this.#lastEventMs = nowMs();
  }

  /** A new watermark input (a split's output, or the main output on its first record). */
  register(): SplitWatermarkOutput<T> {
    const input = new SplitWatermarkOutput(this, this.strategy.createGenerator(), this.#nowMs());
    this.#inputs.add(input);
    // A new input starts at -∞, so it holds the watermark where it is until it emits one.
    return input;
  }

  release(input: SplitWatermarkOutput<T>): void {
    if (this.#inputs.delete(input)) this.combine();
  }

  assignTimestamp(value: T, timestampMs: number | undefined): number {
    const assigner = this.strategy.timestampAssigner;
    if (assigner === undefined) return timestampMs ?? NO_TIMESTAMP;
    const ts = assigner(value, timestampMs === NO_TIMESTAMP ? undefined : timestampMs);
    if (typeof ts !== 'number' || Number.isNaN(ts)) {
      throw new TypeError(
        `the timestamp assigner returned ${String(ts)}; it must return a number (milliseconds)`,
      );
    }
    return ts;
  }

  onEvent(input: SplitWatermarkOutput<T>): void {
    if (this.strategy.idlenessMs === undefined) return;
    const now = this.#nowMs();
    input.lastEventMs = now;
    this.#lastEventMs = now;
  }

  /** The periodic tick: every generator's periodic emit, then idleness. */
  onPeriodicEmit(): void {
    const now = this.#nowMs();
    const idlenessMs = this.strategy.idlenessMs;
    for (const input of this.#inputs) input.onPeriodicEmit(now, idlenessMs);
    if (this.#inputs.size === 0 && idlenessMs !== undefined && now - this.#lastEventMs >= idlenessMs) {
      this.#setIdle(true);
    }
  }

  combine(): void {
    let min = Number.POSITIVE_INFINITY;
    let active = 0;
    for (const input of this.#inputs) {
      if (input.idle) continue;
      active++;
      if (input.watermark < min) min = input.watermark;
    }
    if (active === 0) {
      if (this.#inputs.size > 0) this.#setIdle(true);
      return;
    }
    this.#setIdle(false);
    if (min > this.#watermark) {
      this.#watermark = min;
      this.output.emitWatermark(min);
    }
  }

  #setIdle(idle: boolean): void {
    if (this.#idle === idle) return;
    this.#idle = idle;
    this.output.emitWatermarkStatus(idle);
  }
}
