/** A handle on a running job: its status, its result, checkpoints and savepoints, and a way to cancel it. */
import type { CheckpointStats } from '../checkpoint/checkpoint-coordinator.ts';

export type JobStatus = 'CREATED' | 'RUNNING' | 'RESTARTING' | 'FINISHED' | 'FAILED' | 'CANCELED';

export interface JobExecutionResult {
  readonly jobId: string;
  readonly jobName: string;
  readonly durationMs: number;
  /** How often the job restarted after a failure. */
  readonly restarts: number;
  /** Set when the job ended by stop-with-savepoint: where the final savepoint is. */
  readonly savepointPath: string | undefined;
}

export interface JobClient {
  readonly jobId: string;
  readonly jobName: string;
  status(): JobStatus;
  /** Resolves when the job finishes; rejects with a JobExecutionError when it fails. */
  result(): Promise<JobExecutionResult>;
  /** Stops every task; `result()` then rejects with a cancellation error. */
  cancel(): Promise<void>;
  restarts(): number;
  /** Recent checkpoints and savepoints, oldest first. */
  checkpointStatistics(): readonly CheckpointStats[];
  /** Triggers a checkpoint now; resolves with its location once complete. */
  triggerCheckpoint(): Promise<string>;
  /** Takes a full, self-contained savepoint in `targetDirectory`; resolves with its directory. */
  triggerSavepoint(targetDirectory: string | undefined): Promise<string>;
  /** Takes a final savepoint, then ends the job; resolves with the savepoint's directory. */
  stopWithSavepoint(targetDirectory: string | undefined): Promise<string>;
}
