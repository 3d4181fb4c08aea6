/** What a source task's head operator offers the task: a reader it can poll without blocking. */
import type { StreamOperator } from './operator.ts';

export type SourcePollStatus = 'more-available' | 'nothing-available' | 'end-of-input';

/** Implemented by the API's source operator; the runtime knows no specific source. */
export interface SourceInput<OUT> extends StreamOperator<OUT> {
  readonly isSourceInput: true;
  /** Emits at most `maxRecords` records into the operator's output. */
  pollNext(maxRecords: number): SourcePollStatus;
  isAvailable(): Promise<void>;
  /** The input ended: emit the final watermark (MAX_WATERMARK) so every event-time timer fires. */
  endInput(): void;
}

export function isSourceInput(operator: StreamOperator<unknown>): operator is SourceInput<unknown> {
  return (operator as Partial<SourceInput<unknown>>).isSourceInput === true;
}
