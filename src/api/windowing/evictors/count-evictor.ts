/** CountEvictor: keeps only the most recent elements of a window. */
import { JobDefinitionError } from '../../../core/errors.ts';
import type { Evictor, TimestampedValue } from '../evictor.ts';
import type { Window } from '../window.ts';

/**
 * Keeps the last `maxCount` elements (in arrival order) when the window fires; with a count
 * trigger this makes sliding count windows (`countWindow(size, slide)`).
 *
 * @example
 * const lastTen = CountEvictor.of(10);
 */
export class CountEvictor implements Evictor<unknown, Window> {
  readonly maxCount: number;

  private constructor(maxCount: number) {
    this.maxCount = maxCount;
  }

  static of(maxCount: number): CountEvictor {
    if (!Number.isSafeInteger(maxCount) || maxCount <= 0) {
      throw new JobDefinitionError(`CountEvictor.of needs a positive integer count, got ${maxCount}`);
    }
    return new CountEvictor(maxCount);
  }

  evictBefore<T>(elements: readonly TimestampedValue<T>[]): readonly TimestampedValue<T>[] {
    return elements.length <= this.maxCount ? elements : elements.slice(elements.length - this.maxCount);
  }

  toString(): string {
    return `CountEvictor(${this.maxCount})`;
  }
}
