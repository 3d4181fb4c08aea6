/** A contiguous, inclusive range of key groups: what one subtask owns. */

export interface KeyGroupRange {
  readonly start: number;
  /** Inclusive; `end < start` means empty. */
  readonly end: number;
}
