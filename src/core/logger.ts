/** One logger for the runtime: a line per event with its context (job, operator, checkpoint). */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(
    level: LogLevel,
    message: string,
    context?: Readonly<Record<string, string | number | boolean | undefined>>,
  ): void;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Writes `LEVEL message key=value …` lines to a stream (standard error by default). */
export class StreamLogger implements Logger {
  readonly #write: (line: string) => void;
  readonly #minRank: number;

  constructor(options: { readonly level?: LogLevel; readonly write?: (line: string) => void } = {}) {
    this.#write = options.write ?? ((line) => process.stderr.write(line));
    this.#minRank = LEVEL_RANK[options.level ?? 'info'];
  }

  log(
    level: LogLevel,
    message: string,
    context?: Readonly<Record<string, string | number | boolean | undefined>>,
  ): void {
    if (LEVEL_RANK[level] < this.#minRank) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
    if (context !== undefined) {
      for (const [key, value] of Object.entries(context)) if (value !== undefined) line += ` ${key}=${value}`;
    }
    this.#write(`${line}\n`);
  }
}

/** Discards everything (embedded use and tests that do not care). */
export const SILENT_LOGGER: Logger = { log: () => {} };
