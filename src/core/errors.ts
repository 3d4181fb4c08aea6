/** Error types shared by every layer: each carries the context a user needs to act on it. */

/** Base class of every error Weir raises on purpose. */
export class WeirError extends Error {
  override name = 'WeirError';
}

/** A configuration value is invalid; the message names the option and the accepted range. */
export class ConfigurationError extends WeirError {
  override name = 'ConfigurationError';
}

/** A job could not be built: bad graph, unknown uid, wrong job module. */
export class JobDefinitionError extends WeirError {
  override name = 'JobDefinitionError';
}

/** Where in a running job a failure happened. */
export interface TaskLocation {
  readonly operatorName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
}

/**
 * A failure inside a running subtask: user code threw, or the runtime found bad data. The
 * `cause` is the user's own error with its own stack trace.
 */
export class TaskFailure extends WeirError {
  override name = 'TaskFailure';
  readonly location: TaskLocation;

  constructor(location: TaskLocation, message: string, options?: { cause?: unknown }) {
    super(
      `${message} (operator '${location.operatorName}', subtask ${location.subtaskIndex + 1}/${location.parallelism})`,
      options,
    );
    this.location = location;
  }
}

/** A job ended by failure; the cause is the first TaskFailure (or other error) observed. */
export class JobExecutionError extends WeirError {
  override name = 'JobExecutionError';
}

/** Describes an unknown thrown value (users may throw strings) for messages. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
