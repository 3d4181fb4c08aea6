/** Watermark strategies: how event timestamps are read and how watermarks follow them. */
import { ConfigurationError } from '../core/errors.ts';

/** Where a watermark generator reports progress. */
export interface WatermarkOutput {
  emitWatermark(timestampMs: number): void;
  /** No data is arriving: downstream operators stop waiting for this input's watermark. */
  markIdle(): void;
  markActive(): void;
}

/** Follows the events it sees and emits watermarks per event and/or periodically. */
export interface WatermarkGenerator<T> {
  onEvent(event: T, timestampMs: number, output: WatermarkOutput): void;
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** Extracts an event's timestamp; `recordTimestampMs` is the one it already has, if any. */
export type TimestampAssigner<T> = (event: T, recordTimestampMs: number | undefined) => number;

/** Watermark lag for out-of-order events: watermark = max timestamp seen − bound − 1. */
class BoundedOutOfOrdernessGenerator<T> implements WatermarkGenerator<T> {
  readonly #boundMs: number;
  #maxTimestampMs: number;

  constructor(boundMs: number) {
    this.#boundMs = boundMs;
    this.#maxTimestampMs = Number.NEGATIVE_INFINITY;
  }

  onEvent(_event: T, timestampMs: number): void {
    if (timestampMs > this.#maxTimestampMs) this.#maxTimestampMs = timestampMs;
  }

  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.#maxTimestampMs !== Number.NEGATIVE_INFINITY) {
      output.emitWatermark(this.#maxTimestampMs - this.#boundMs - 1);
    }
  }
}

/**
 * An immutable description of timestamp assignment and watermark generation. Each parallel
 * instance creates its own generator.
 *
 * @example
 * ```ts
 * const strategy = WatermarkStrategy.forBoundedOutOfOrderness<{ ts: number }>(5_000)
 *   .withTimestampAssigner((event) => event.ts)
 *   .withIdleness(60_000);
 * ```
 */
export class WatermarkStrategy<T> {
  readonly createGenerator: () => WatermarkGenerator<T>;
  readonly timestampAssigner: TimestampAssigner<T> | undefined;
  readonly idlenessMs: number | undefined;
  /** Also emit after every event, not only periodically: deterministic watermarks for tests. */
  readonly emitOnEvent: boolean;

  private constructor(
    createGenerator: () => WatermarkGenerator<T>,
    timestampAssigner: TimestampAssigner<T> | undefined,
    idlenessMs: number | undefined,
    emitOnEvent: boolean,
  ) {
    this.createGenerator = createGenerator;
    this.timestampAssigner = timestampAssigner;
    this.idlenessMs = idlenessMs;
    this.emitOnEvent = emitOnEvent;
  }

  /** Events arrive up to `maxOutOfOrdernessMs` late relative to the latest one seen. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    if (!(Number.isFinite(maxOutOfOrdernessMs) && maxOutOfOrdernessMs >= 0)) {
      throw new ConfigurationError(
        `maxOutOfOrdernessMs must be a finite number >= 0, got ${maxOutOfOrdernessMs}`,
      );
    }
    return new WatermarkStrategy(
      () => new BoundedOutOfOrdernessGenerator<T>(maxOutOfOrdernessMs),
      undefined,
      undefined,
      false,
    );
  }

  /** Timestamps never decrease within a source subtask. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return WatermarkStrategy.forBoundedOutOfOrderness<T>(0);
  }

  /** A custom generator, e.g. one that emits on special marker events. */
  static forGenerator<T>(createGenerator: () => WatermarkGenerator<T>): WatermarkStrategy<T> {
    return new WatermarkStrategy(createGenerator, undefined, undefined, false);
  }

  /** Timestamps only; no watermarks except the final one at end of input. */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(
      () => ({ onEvent: () => {}, onPeriodicEmit: () => {} }),
      undefined,
      undefined,
      false,
    );
  }

  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    return new WatermarkStrategy(this.createGenerator, assigner, this.idlenessMs, this.emitOnEvent);
  }

  /** Marks the input idle after `idleTimeoutMs` without events. */
  withIdleness(idleTimeoutMs: number): WatermarkStrategy<T> {
    if (!(Number.isFinite(idleTimeoutMs) && idleTimeoutMs > 0)) {
      throw new ConfigurationError(`idleTimeoutMs must be a finite number > 0, got ${idleTimeoutMs}`);
    }
    return new WatermarkStrategy(
      this.createGenerator,
      this.timestampAssigner,
      idleTimeoutMs,
      this.emitOnEvent,
    );
  }

  /** Emits a watermark after every event (when it advances) in addition to periodic emission. */
  withEmitOnEvent(): WatermarkStrategy<T> {
    return new WatermarkStrategy(this.createGenerator, this.timestampAssigner, this.idlenessMs, true);
  }
}
