/** Line formats of the file sink: each record becomes one line of text. */
import { formatValue } from '../format-value.ts';

/** Turns a record into one line (without the newline). */
export type LineFormat<T> = (value: T) => string;

/**
 * Text lines: strings as they are, anything else as {@link formatValue} prints it (objects as JSON).
 *
 * @example
 * ```ts
 * new FileSink<string>('out', { format: textLines });
 * ```
 */
export const textLines: LineFormat<unknown> = formatValue;

/**
 * JSON lines: every record through `JSON.stringify` (strings are quoted), one per line.
 *
 * @example
 * ```ts
 * new FileSink<{ id: number }>('out', { format: jsonLines, suffix: '.jsonl' });
 * ```
 */
export const jsonLines: LineFormat<unknown> = (value) => {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`jsonLines cannot represent a ${typeof value}`);
  return text;
};
