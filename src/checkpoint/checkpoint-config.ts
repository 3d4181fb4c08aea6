/** Checkpointing configuration with Flink's defaults, validated with errors that name the option. */
import { ConfigurationError } from '../core/errors.ts';
import type { CheckpointingMode } from '../runtime/checkpointing/barrier-handler.ts';

export type ExternalizedCheckpointRetention = 'RETAIN_ON_CANCELLATION' | 'DELETE_ON_CANCELLATION';

export interface CheckpointConfig {
  /** Period of automatic checkpoints; undefined = checkpointing off (manual savepoints still work). */
  readonly intervalMs: number | undefined;
  readonly mode: CheckpointingMode;
  /** A checkpoint not completed within this time is aborted (default 10 min, as Flink). */
  readonly timeoutMs: number;
  /** Least time between the end of one checkpoint and the start of the next (default 0). */
  readonly minPauseMs: number;
  /** Checkpoints in flight at once (default 1). */
  readonly maxConcurrent: number;
  /** Consecutive failed checkpoints the job tolerates before it fails (default 0, as Flink). */
  readonly tolerableConsecutiveFailures: number;
  /** Completed checkpoints kept (default 1). */
  readonly retained: number;
  readonly externalizedRetention: ExternalizedCheckpointRetention;
}

export const CHECKPOINT_CONFIG_DEFAULTS: CheckpointConfig = {
  intervalMs: undefined,
  mode: 'exactly-once',
  timeoutMs: 600_000,
  minPauseMs: 0,
  maxConcurrent: 1,
  tolerableConsecutiveFailures: 0,
  retained: 1,
  externalizedRetention: 'RETAIN_ON_CANCELLATION',
};

export function resolveCheckpointConfig(partial: Partial<CheckpointConfig> = {}): CheckpointConfig {
  const config = { ...CHECKPOINT_CONFIG_DEFAULTS, ...stripUndefined(partial) };
  if (partial.intervalMs !== undefined) positive('checkpoint interval (intervalMs)', partial.intervalMs, 1);
  positive('checkpoint timeout (timeoutMs)', config.timeoutMs, 1);
  positive('min pause between checkpoints (minPauseMs)', config.minPauseMs, 0);
  integer('max concurrent checkpoints (maxConcurrent)', config.maxConcurrent, 1);
  integer('tolerable consecutive checkpoint failures', config.tolerableConsecutiveFailures, 0);
  integer('retained checkpoints (retained)', config.retained, 1);
  if (config.mode !== 'exactly-once' && config.mode !== 'at-least-once') {
    throw new ConfigurationError(
      `checkpointing mode must be 'exactly-once' or 'at-least-once', got '${String(config.mode)}'`,
    );
  }
  if (
    config.externalizedRetention !== 'RETAIN_ON_CANCELLATION' &&
    config.externalizedRetention !== 'DELETE_ON_CANCELLATION'
  ) {
    throw new ConfigurationError(
      `externalized checkpoint retention must be RETAIN_ON_CANCELLATION or DELETE_ON_CANCELLATION, got '${String(config.externalizedRetention)}'`,
    );
  }
  return { ...config, intervalMs: partial.intervalMs };
}

function stripUndefined<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positive(what: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new ConfigurationError(`${what} must be a finite number >= ${min}, got ${String(value)}`);
  }
}

function integer(what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigurationError(`${what} must be an integer >= ${min}, got ${String(value)}`);
  }
}
