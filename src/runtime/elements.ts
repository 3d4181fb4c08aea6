/** What travels on a channel: record batches, watermarks, watermark status, end of partition. */

/** Timestamp of a record that has none (no timestamp assigner ran upstream). */
export const NO_TIMESTAMP = Number.NEGATIVE_INFINITY;
/** The watermark a finished input sends: every event-time timer may fire. */
export const MAX_WATERMARK = Number.POSITIVE_INFINITY;
/** The watermark of an input before it has sent one. */
export const MIN_WATERMARK = Number.NEGATIVE_INFINITY;

/** Records in arrival order; `timestamps[i]` belongs to `values[i]`. */
export interface RecordBatch {
  readonly kind: 'records';
  readonly values: unknown[];
  readonly timestamps: number[];
  /**
   * On an edge partitioned by key group: `keyGroups[i]` is the key group of `values[i]` as the
   * producer's partitioner computed it with `keySelector`. A consumer keyed by that same
   * selector uses it instead of hashing every key again.
   */
  readonly keyGroups?: number[];
  readonly keySelector?: (value: unknown) => unknown;
}

export interface WatermarkElement {
  readonly kind: 'watermark';
  readonly timestamp: number;
}

/** An idle input sends no data and must not hold back the watermark downstream. */
export interface WatermarkStatusElement {
  readonly kind: 'watermark-status';
  readonly idle: boolean;
}

/** The producer finished; nothing follows on this channel. */
export interface EndOfPartition {
  readonly kind: 'end-of-partition';
}

/** Checkpoint barrier `checkpointId`: everything before it belongs to the checkpoint, nothing after. */
export interface CheckpointBarrier {
  readonly kind: 'barrier';
  readonly checkpointId: number;
  readonly timestampMs: number;
  readonly snapshotKind: 'checkpoint' | 'savepoint';
  /** Stop-with-savepoint: sources emit nothing after this barrier (until resumed if it fails). */
  readonly suspendSources?: boolean;
}

export type StreamElement =
  | RecordBatch
  | WatermarkElement
  | WatermarkStatusElement
  | CheckpointBarrier
  | EndOfPartition;

export const END_OF_PARTITION: EndOfPartition = Object.freeze({ kind: 'end-of-partition' });
