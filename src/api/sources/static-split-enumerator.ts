/** A split enumerator for sources whose splits are known at start: deals them round-robin, then says "no more". */
import type { SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../source.ts';

/** What a static enumerator checkpoints: the splits it has not handed to a reader yet, in order. */
export type StaticSplitEnumeratorState<Split extends SourceSplit> = readonly Split[];

/**
 * Split `i` of the list goes to reader `i % parallelism`, delivered when that reader registers,
 * followed by "no more splits"; so a reader of a bounded source ends once its share is read.
 * Split requests are ignored: everything is pushed. Splits handed back (`addSplitsBack`) wait
 * for their reader to register again. The state is the splits not delivered yet; it is empty
 * once every reader registered, so a restored job reads only what its readers restored.
 *
 * `splits` may be a function (listing files, say); it runs in `start()`, before the job's tasks.
 *
 * @example
 * ```ts
 * class Numbers implements Source<number, RangeSplit, StaticSplitEnumeratorState<RangeSplit>> {
 *   readonly boundedness = 'bounded';
 *   createEnumerator(ctx: SplitEnumeratorContext<RangeSplit>) {
 *     return new StaticSplitEnumerator(ctx, () => rangeSplits(ctx.parallelism));
 *   }
 *   restoreEnumerator(ctx: SplitEnumeratorContext<RangeSplit>, state: StaticSplitEnumeratorState<RangeSplit>) {
 *     return new StaticSplitEnumerator(ctx, state);
 *   }
 *   restoreEnumeratorWithoutState(ctx: SplitEnumeratorContext<RangeSplit>) {
 *     return new StaticSplitEnumerator(ctx, []);
 *   }
 *   createReader() { return new RangeReader(); }
 * }
 * ```
 */
export class StaticSplitEnumerator<Split extends SourceSplit>
  implements SplitEnumerator<Split, StaticSplitEnumeratorState<Split>>
{
  readonly #context: SplitEnumeratorContext<Split>;
  readonly #splits: StaticSplitEnumeratorState<Split> | (() => Promise<readonly Split[]> | readonly Split[]);
  /** Undelivered splits per reader subtask, in list order. */
  #pending: Split[][] = [];

  constructor(
    context: SplitEnumeratorContext<Split>,
    splits: StaticSplitEnumeratorState<Split> | (() => Promise<readonly Split[]> | readonly Split[]),
  ) {
    this.#context = context;
    this.#splits = splits;
  }

  async start(): Promise<void> {
    const splits = typeof this.#splits === 'function' ? await this.#splits() : this.#splits;
    const parallelism = this.#context.parallelism;
    this.#pending = Array.from({ length: parallelism }, () => []);
    splits.forEach((split, index) => this.#pending[index % parallelism].push(split));
    for (const subtask of this.#context.registeredReaders()) this.addReader(subtask);
  }

  handleSplitRequest(_subtaskIndex: number): void {}

  addReader(subtaskIndex: number): void {
    const splits = this.#pending[subtaskIndex] ?? [];
    this.#pending[subtaskIndex] = [];
    if (splits.length > 0) this.#context.assignSplits(new Map([[subtaskIndex, splits]]));
    this.#context.signalNoMoreSplits(subtaskIndex);
  }

  addSplitsBack(splits: readonly Split[], subtaskIndex: number): void {
    (this.#pending[subtaskIndex] ??= []).push(...splits);
  }

  snapshotState(): StaticSplitEnumeratorState<Split> {
    // Interleaved back into list order, so a restore deals them out as the original list would.
    const splits: Split[] = [];
    const longest = Math.max(0, ...this.#pending.map((p) => p.length));
    for (let round = 0; round < longest; round++) {
      for (const pending of this.#pending) if (round < pending.length) splits.push(pending[round]);
    }
    return splits;
  }

  close(): void {
    this.#pending = [];
  }
}
