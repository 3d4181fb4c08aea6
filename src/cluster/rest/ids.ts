/** Job ids and trigger ids as they appear in REST URLs: 32 lower-case hexadecimal characters, like Flink's JobID. */
import { randomBytes } from 'node:crypto';

const ID_PATTERN = /^[0-9a-f]{32}$/;

/**
 * Whether `value` is a well-formed job or trigger id. Anything else in a URL is rejected before
 * it reaches a lookup, a log line or a file name.
 *
 * @example
 * ```ts
 * isRestId('3f2a0c1b9d8e7f6a5b4c3d2e1f0a9b8c'); // true
 * isRestId('../../etc/passwd'); // false
 * ```
 */
export function isRestId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/**
 * A fresh random trigger id for an asynchronous operation (savepoint, stop).
 *
 * @example
 * ```ts
 * const triggerId = newTriggerId(); // 32 hex characters
 * ```
 */
export function newTriggerId(): string {
  return randomBytes(16).toString('hex');
}
