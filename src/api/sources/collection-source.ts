/** A bounded, non-parallel source over an in-memory array or iterable, replayable by element count. */
import { WeirError } from '../../core/errors.ts';
import type { InputStatus, ReaderOutput, SourceReader, SourceSplit } from '../source.ts';
import { SplitWaiter } from './split-waiter.ts';
import { StaticSplitSource } from './static-split-source.ts';

/** The single split of a collection: `position` is how many elements were already emitted. */
export interface CollectionSplit extends SourceSplit {
  readonly position: number;
}

const SPLIT_ID = 'collection';

/**
 * Emits the elements of an array or iterable in order, from one subtask. On restore the reader
 * skips `position` elements, so the iterable must yield the same elements each time it is
 * iterated (arrays do; a one-shot iterator or generator object does not).
 *
 * @example
 * ```ts
 * const source = new CollectionSource(['a', 'b', 'c']);
 * const splits = source.createSplits(1); // [{ splitId: 'collection', position: 0 }]
 * ```
 */
export class CollectionSource<T> extends StaticSplitSource<T, CollectionSplit> {
  readonly boundedness = 'bounded';
  readonly maxParallelism = 1;
  readonly #elements: Iterable<T>;

  constructor(elements: Iterable<T>) {
    super();
    this.#elements = elements;
  }

  /** The splits the enumerator deals out: one whatever the parallelism (extra subtasks end at once). */
  createSplits(_parallelism: number): readonly CollectionSplit[] {
    return [{ splitId: SPLIT_ID, position: 0 }];
  }

  createReader(): SourceReader<T, CollectionSplit> {
    return Array.isArray(this.#elements)
      ? new ArrayReader<T>(this.#elements)
      : new IterableReader<T>(this.#elements);
  }
}

/** The position of the one split a reader may own; `owned` says whether it already has it. */
function positionOf(splits: readonly CollectionSplit[], owned: boolean): number | undefined {
  if (splits.length + (owned ? 1 : 0) > 1) {
    throw new WeirError(`a collection source has one split, got ${splits.length + (owned ? 1 : 0)}`);
  }
  const split = splits[0];
  if (split === undefined) return undefined;
  if (!Number.isSafeInteger(split.position) || split.position < 0) {
    throw new WeirError(`invalid collection split position ${split.position}`);
  }
  return split.position;
}

/** Random access: the position is the index, so restoring costs nothing. */
class ArrayReader<T> implements SourceReader<T, CollectionSplit> {
  readonly #elements: readonly T[];
  // undefined: this subtask owns no split (or has finished it).
  #index: number | undefined;
  #noMoreSplits = false;
  readonly #waiter = new SplitWaiter();

  constructor(elements: readonly T[]) {
    this.#elements = elements;
  }

  start(): void {}

  addSplits(splits: readonly CollectionSplit[]): void {
    const position = positionOf(splits, this.#index !== undefined);
    if (position !== undefined) this.#index = position;
    this.#waiter.wake();
  }

  notifyNoMoreSplits(): void {
    this.#noMoreSplits = true;
    this.#waiter.wake();
  }

  pollNext(output: ReaderOutput<T>, maxRecords: number): InputStatus {
    if (this.#index === undefined) return this.#noMoreSplits ? 'end-of-input' : 'nothing-available';
    const end = Math.min(this.#elements.length, this.#index + maxRecords);
    let index = this.#index;
    // Keep the position current per element, so a throwing downstream leaves it accurate.
    while (index < end) {
      const value = this.#elements[index];
      this.#index = ++index;
      output.collect(value);
    }
    if (index < this.#elements.length) return 'more-available';
    this.#index = undefined;
    return this.#noMoreSplits ? 'end-of-input' : 'nothing-available';
  }

  isAvailable(): Promise<void> {
    return this.#index === undefined && !this.#noMoreSplits ? this.#waiter.wait() : Promise.resolve();
  }

  snapshotSplits(): CollectionSplit[] {
    return this.#index === undefined ? [] : [{ splitId: SPLIT_ID, position: this.#index }];
  }

  close(): void {
    this.#index = undefined;
    this.#waiter.wake();
  }
}

/** Sequential access: restoring replays the iterable and discards `position` elements. */
class IterableReader<T> implements SourceReader<T, CollectionSplit> {
  readonly #elements: Iterable<T>;
  #iterator: Iterator<T> | undefined;
  #position = 0;
  #noMoreSplits = false;
  readonly #waiter = new SplitWaiter();

  constructor(elements: Iterable<T>) {
    this.#elements = elements;
  }

  start(): void {}

  notifyNoMoreSplits(): void {
    this.#noMoreSplits = true;
    this.#waiter.wake();
  }

  isAvailable(): Promise<void> {
    return this.#iterator === undefined && !this.#noMoreSplits ? this.#waiter.wait() : Promise.resolve();
  }

  addSplits(splits: readonly CollectionSplit[]): void {
    const position = positionOf(splits, this.#iterator !== undefined);
    this.#waiter.wake();
    if (position === undefined) return;
    const iterator = this.#elements[Symbol.iterator]();
    for (let skipped = 0; skipped < position; skipped++) {
      if (iterator.next().done === true) {
        throw new WeirError(
          `cannot restore collection source at element ${position}: the collection has only ${skipped}`,
        );
      }
    }
    this.#iterator = iterator;
    this.#position = position;
  }

  pollNext(output: ReaderOutput<T>, maxRecords: number): InputStatus {
    const iterator = this.#iterator;
    if (iterator === undefined) return this.#noMoreSplits ? 'end-of-input' : 'nothing-available';
    for (let emitted = 0; emitted < maxRecords; emitted++) {
      const result = iterator.next();
      if (result.done === true) {
        this.#iterator = undefined;
        return this.#noMoreSplits ? 'end-of-input' : 'nothing-available';
      }
      this.#position++;
      output.collect(result.value);
    }
    return 'more-available';
  }

  snapshotSplits(): CollectionSplit[] {
    return this.#iterator === undefined ? [] : [{ splitId: SPLIT_ID, position: this.#position }];
  }

  close(): void {
    this.#iterator?.return?.();
    this.#iterator = undefined;
    this.#waiter.wake();
  }
}
