/** The enumerator half of a source whose splits are known at start, shared by the built-in sources. */
import type {
  Boundedness,
  Source,
  SourceReader,
  SourceReaderContext,
  SourceSplit,
  SplitEnumeratorContext,
} from '../source.ts';
import { StaticSplitEnumerator, type StaticSplitEnumeratorState } from './static-split-enumerator.ts';

/**
 * A source whose splits `createSplits` lists once, when the job starts (so a bad input fails
 * before any task runs): a StaticSplitEnumerator deals them out, and restores from its state,
 * or from none for checkpoints older than split enumerators. Subclasses supply the splits and
 * the reader.
 *
 * @example
 * ```ts
 * class Numbers extends StaticSplitSource<number, RangeSplit> {
 *   readonly boundedness = 'bounded';
 *   createSplits(parallelism: number) { return rangeSplits(parallelism); }
 *   createReader() { return new RangeReader(); }
 * }
 * ```
 */
export abstract class StaticSplitSource<T, Split extends SourceSplit>
  implements Source<T, Split, StaticSplitEnumeratorState<Split>>
{
  abstract readonly boundedness: Boundedness;

  /** The splits the enumerator deals out, split `i` to subtask `i % parallelism`. */
  abstract createSplits(parallelism: number): Promise<readonly Split[]> | readonly Split[];

  abstract createReader(context: SourceReaderContext): SourceReader<T, Split>;

  createEnumerator(context: SplitEnumeratorContext<Split>): StaticSplitEnumerator<Split> {
    return new StaticSplitEnumerator(context, () => this.createSplits(context.parallelism));
  }

  restoreEnumerator(
    context: SplitEnumeratorContext<Split>,
    state: StaticSplitEnumeratorState<Split>,
  ): StaticSplitEnumerator<Split> {
    return new StaticSplitEnumerator(context, state);
  }

  restoreEnumeratorWithoutState(context: SplitEnumeratorContext<Split>): StaticSplitEnumerator<Split> {
    return new StaticSplitEnumerator(context, []);
  }
}
