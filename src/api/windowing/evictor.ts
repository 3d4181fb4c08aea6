/** The evictor contract: removes buffered elements from a window before its function runs. */
import type { Window } from './window.ts';

/** An element as an evicting window buffers it, with its timestamp. */
export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestampMs: number;
}

/** What an evictor may read. */
export interface EvictorContext {
  currentProcessingTime(): number;
  currentWatermark(): number;
}

/**
 * Chooses which buffered elements of a firing window to keep. A window with an evictor
 * buffers every element (even for reduce and aggregate, which then fold the kept elements
 * when the window fires), since eviction needs the individual elements.
 *
 * @example
 * stream.keyBy(o => o.user).window(GlobalWindows.create()).evictor(CountEvictor.of(10)).trigger(CountTrigger.of(2))
 */
export interface Evictor<T, W extends Window> {
  /** Returns the elements to keep, in order; the others are removed from the window's state. */
  evictBefore(
    elements: readonly TimestampedValue<T>[],
    window: W,
    context: EvictorContext,
  ): readonly TimestampedValue<T>[];
  /** Shown in the operator name. */
  toString(): string;
}
