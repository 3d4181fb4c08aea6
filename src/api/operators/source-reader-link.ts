/** How a source operator subtask and its source's coordinator (in the job manager) talk to each other. */
import type { SourceSplit } from '../source.ts';

/**
 * What the coordinator offers a reader subtask. Calls go from the reader's task to the
 * coordinator; the coordinator runs the enumerator's callback outside the caller's stack.
 */
export interface SourceCoordinatorLink<Split extends SourceSplit> {
  /** The reader of `subtaskIndex` is open; the enumerator's events for it go to `events`. */
  registerReader(subtaskIndex: number, events: ReaderEvents<Split>): void;
  /** `SourceReaderContext.sendSplitRequest` of that reader. */
  requestSplit(subtaskIndex: number): void;
  /** Splits that reached the reader after it ended: they belong to the enumerator again. */
  returnSplits(subtaskIndex: number, splits: readonly Split[]): void;
  /** The reader closed: nothing more may be assigned to it. */
  unregisterReader(subtaskIndex: number): void;
}

/**
 * How the coordinator reaches one reader. Both calls are synchronous and only enqueue a mail in
 * the reader task's mailbox: that is what orders an assignment against checkpoint triggers.
 */
export interface ReaderEvents<Split extends SourceSplit> {
  addSplits(splits: readonly Split[]): void;
  noMoreSplits(): void;
}
