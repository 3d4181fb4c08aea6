/** Assigns event timestamps and generates watermarks, per parallel instance, from a WatermarkStrategy. */
import { MAX_WATERMARK, NO_TIMESTAMP } from '../../runtime/elements.ts';
import type { OneInputStreamOperator } from '../../runtime/operator.ts';
import { AbstractStreamOperator } from '../../runtime/operators/abstract-stream-operator.ts';
import type { WatermarkGenerator, WatermarkOutput, WatermarkStrategy } from '../watermark-strategy.ts';

/** Default period of watermark emission, as in Flink. */
export const AUTO_WATERMARK_INTERVAL_MS_DEFAULT = 200;

/**
 * Upstream watermarks are ignored (this operator is the source of event time from here on),
 * except the final MAX_WATERMARK at end of input, which is forwarded.
 */
export class TimestampsAndWatermarksOperator<T>
  extends AbstractStreamOperator<T>
  implements OneInputStreamOperator<T, T>, WatermarkOutput
{
  readonly #strategy: WatermarkStrategy<T>;
  readonly #intervalMs: number;
  #generator!: WatermarkGenerator<T>;
  #watermark = Number.NEGATIVE_INFINITY;
  #idle = false;
  #lastEventMs = 0;
  #timer: { cancel(): void } | undefined;

  constructor(strategy: WatermarkStrategy<T>, autoWatermarkIntervalMs: number) {
    super();
    this.#strategy = strategy;
    this.#intervalMs = autoWatermarkIntervalMs;
  }

  override open(): void {
    this.#generator = this.#strategy.createGenerator();
    this.#lastEventMs = this.context.clock.now();
    this.#schedule();
  }

  processElement(value: T, timestamp: number): void {
    const assigner = this.#strategy.timestampAssigner;
    const ts =
      assigner === undefined
        ? timestamp
        : assigner(value, timestamp === NO_TIMESTAMP ? undefined : timestamp);
    if (typeof ts !== 'number' || Number.isNaN(ts)) {
      throw new TypeError(
        `the timestamp assigner returned ${String(ts)}; it must return a number (milliseconds)`,
      );
    }
    if (this.#strategy.idlenessMs !== undefined) {
      this.#lastEventMs = this.context.clock.now();
      if (this.#idle) this.markActive();
    }
    this.output.collect(value, ts);
    this.#generator.onEvent(value, ts, this);
    if (this.#strategy.emitOnEvent) this.#generator.onPeriodicEmit(this);
  }

  override processWatermark(timestampMs: number): void {
    if (timestampMs === MAX_WATERMARK) this.emitWatermark(MAX_WATERMARK);
  }

  override processWatermarkStatus(): void {}

  override close(): void {
    this.#timer?.cancel();
  }

  emitWatermark(timestampMs: number): void {
    if (timestampMs <= this.#watermark) return;
    if (this.#idle) this.markActive();
    this.#watermark = timestampMs;
    this.output.emitWatermark(timestampMs);
  }

  markIdle(): void {
    if (this.#idle) return;
    this.#idle = true;
    this.output.emitWatermarkStatus(true);
  }

  markActive(): void {
    if (!this.#idle) return;
    this.#idle = false;
    this.output.emitWatermarkStatus(false);
  }

  #schedule(): void {
    if (this.#intervalMs <= 0) return;
    const service = this.context.processingTimeService;
    this.#timer = service.registerTimer(service.currentProcessingTime() + this.#intervalMs, (now) => {
      this.#generator.onPeriodicEmit(this);
      const idleMs = this.#strategy.idlenessMs;
      if (idleMs !== undefined && now - this.#lastEventMs >= idleMs) this.markIdle();
      this.#schedule();
    });
  }
}
