/** Validates a savepoint target directory that arrives over REST before it may become a file path (Flink CVE-2020-17518/17519). */
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** Longer target directories are rejected: no file system needs more. */
export const TARGET_DIRECTORY_LENGTH_MAX = 4096;

/** The outcome of {@link validateTargetDirectory}: the path to use, or why the input is refused. */
export type TargetDirectoryCheck =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly message: string };

/** Options of {@link validateTargetDirectory}. */
export interface TargetDirectoryOptions {
  /**
   * When set, savepoints may go only below this directory: relative targets are resolved
   * against it, absolute ones must lie inside it. Without it, targets must be absolute.
   */
  readonly savepointRoot?: string;
}

const PERCENT_ESCAPE = /%[0-9a-f]{2}/i;
/** C0 control characters other than NUL (which gets its own message), and DEL. */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code > 0 && code < 0x20) || code === 0x7f) return true;
  }
  return false;
}

/**
 * Checks a target directory from a request body. Refused (with a message fit for a 400 response):
 * non-strings, empty or overlong values, NUL bytes, control characters, backslashes, malformed
 * percent-encoding, a `..` segment before or after decoding once (`..%2f`, `%2e%2e`), anything
 * still percent-encoded after decoding once (`..%252f`), any percent-escape at all (a directory is
 * sent as a plain path in JSON, never URL-encoded), relative paths without a savepoint root, and
 * paths outside the root. The accepted path is normalized and absolute.
 *
 * @example
 * ```ts
 * validateTargetDirectory('/var/savepoints'); // { ok: true, path: '/var/savepoints' }
 * validateTargetDirectory('/var/..%2f..%2fetc'); // { ok: false, message: "… '..' segment …" }
 * validateTargetDirectory('nightly', { savepointRoot: '/sp' }); // { ok: true, path: '/sp/nightly' }
 * ```
 */
export function validateTargetDirectory(
  value: unknown,
  options: TargetDirectoryOptions = {},
): TargetDirectoryCheck {
  if (typeof value !== 'string') return refuse('must be a string');
  if (value.length === 0) return refuse('must not be empty');
  if (value.length > TARGET_DIRECTORY_LENGTH_MAX) {
    return refuse(`must be at most ${TARGET_DIRECTORY_LENGTH_MAX} characters`);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return refuse("has malformed percent-encoding ('%' not followed by two hexadecimal digits)");
  }
  for (const form of [value, decoded]) {
    if (form.includes('\u0000')) return refuse('must not contain a NUL byte');
    if (hasControlCharacter(form)) return refuse('must not contain control characters');
    if (form.includes('\\')) return refuse('must not contain a backslash');
    if (form.split('/').includes('..')) {
      return refuse("must not contain a '..' segment (also checked after percent-decoding)");
    }
  }
  if (PERCENT_ESCAPE.test(decoded)) {
    return refuse('must not be percent-encoded more than once (an escape is left after decoding)');
  }
  if (PERCENT_ESCAPE.test(value)) {
    return refuse('must be a plain path: percent-encoded characters are not accepted');
  }
  return placeUnderRoot(value, options.savepointRoot);
}

function placeUnderRoot(path: string, savepointRoot: string | undefined): TargetDirectoryCheck {
  if (savepointRoot === undefined) {
    return isAbsolute(path) ? { ok: true, path: resolve(path) } : refuse('must be an absolute path');
  }
  const root = resolve(savepointRoot);
  const resolved = resolve(root, path);
  const inside = relative(root, resolved);
  if (inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    return refuse(`must lie inside the savepoint root ${root}`);
  }
  return { ok: true, path: resolved };
}

function refuse(problem: string): TargetDirectoryCheck {
  return { ok: false, message: `target directory ${problem}` };
}
