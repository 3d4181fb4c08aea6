/** What a source task's head operator offers the task: a reader it can poll without blocking. */
import type { StreamOperator } from './operator.ts';

export type SourcePollStatus = 'more-available' | 'nothing-available' | 'end-of-input';

/** Enqueues an action in the task's mailbox, to run between batches on the task's thread. */
export type MailboxExecutor = (mail: () => void) => void;

/** Implemented by the API's source operator; the runtime knows no specific source. */
export interface SourceInput<OUT> extends StreamOperator<OUT> {
  readonly isSourceInput: true;
  /**
   * Called before `open`: events from the job manager (split assignments) must reach the
   * source through the task's mailbox, in order with checkpoint triggers.
   */
  attachMailbox(execute: MailboxExecutor): void;
  /** Emits at most `maxRecords` records into the operator's output. */
  pollNext(maxRecords: number): SourcePollStatus;
  isAvailable(): Promise<void>;
  /** The input ended: emit the final watermark (MAX_WATERMARK) so every event-time timer fires. */
  endInput(): void;
}

export function isSourceInput(operator: StreamOperator<unknown>): operator is SourceInput<unknown> {
  return (operator as Partial<SourceInput<unknown>>).isSourceInput === true;
}
