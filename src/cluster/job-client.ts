/** A handle on a running job: its status, its result, and a way to cancel it. */

export type JobStatus = 'CREATED' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'CANCELED';

export interface JobExecutionResult {
  readonly jobId: string;
  readonly jobName: string;
  readonly durationMs: number;
}

export interface JobClient {
  readonly jobId: string;
  readonly jobName: string;
  status(): JobStatus;
  /** Resolves when the job finishes; rejects with a JobExecutionError when it fails. */
  result(): Promise<JobExecutionResult>;
  /** Stops every task; `result()` then rejects with a cancellation error. */
  cancel(): Promise<void>;
}
