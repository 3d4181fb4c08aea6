/** Bucket assigners: which sub-directory of a file sink a record goes to. */
import { ConfigurationError } from '../../../core/errors.ts';

/** What a bucket assigner may look at besides the record. */
export interface BucketContext {
  /** The record's event timestamp, if it has one. */
  readonly timestampMs: number | undefined;
  readonly processingTimeMs: number;
}

/**
 * Maps a record to its bucket: a relative sub-directory of the sink's directory (`''` for the
 * directory itself). Called per record, so keep it cheap.
 */
export type BucketAssigner<T> = (value: T, context: BucketContext) => string;

/** Every record into the sink's directory itself. */
export const basePathBucketAssigner: BucketAssigner<unknown> = () => '';

export interface DateTimeBucketAssignerOptions {
  /** Tokens `yyyy`, `MM`, `dd`, `HH`, `mm`, `ss`; default `'yyyy-MM-dd--HH'` (one bucket per hour). */
  readonly format?: string;
  /** `'processing'` (default, as Flink's DateTimeBucketAssigner) or `'event'` (records without a timestamp fall back to processing time). */
  readonly time?: 'processing' | 'event';
  /** Default `'UTC'`; `'local'` uses the process's time zone. */
  readonly timeZone?: 'UTC' | 'local';
}

const TOKENS = /yyyy|MM|dd|HH|mm|ss/g;

/**
 * Buckets by date and time, like Flink's DateTimeBucketAssigner: `2026-03-01--14/`.
 *
 * @example
 * ```ts
 * const hourly = dateTimeBucketAssigner<{ at: number }>({ time: 'event' });
 * hourly({ at: 0 }, { timestampMs: Date.UTC(2026, 2, 1, 14, 30), processingTimeMs: 0 }); // '2026-03-01--14'
 * ```
 */
export function dateTimeBucketAssigner<T>(options: DateTimeBucketAssignerOptions = {}): BucketAssigner<T> {
  const { format = 'yyyy-MM-dd--HH', time = 'processing', timeZone = 'UTC' } = options;
  if (format.includes('..') || format.startsWith('/')) {
    throw new ConfigurationError(
      `dateTimeBucketAssigner format must stay below the sink directory, got '${format}'`,
    );
  }
  const utc = timeZone === 'UTC';
  return (_value, context) => {
    const ms =
      time === 'event' ? (context.timestampMs ?? context.processingTimeMs) : context.processingTimeMs;
    const date = new Date(ms);
    return format.replace(TOKENS, (token) => {
      switch (token) {
        case 'yyyy':
          return String(utc ? date.getUTCFullYear() : date.getFullYear()).padStart(4, '0');
        case 'MM':
          return pad2((utc ? date.getUTCMonth() : date.getMonth()) + 1);
        case 'dd':
          return pad2(utc ? date.getUTCDate() : date.getDate());
        case 'HH':
          return pad2(utc ? date.getUTCHours() : date.getHours());
        case 'mm':
          return pad2(utc ? date.getUTCMinutes() : date.getMinutes());
        default:
          return pad2(utc ? date.getUTCSeconds() : date.getSeconds());
      }
    });
  };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
