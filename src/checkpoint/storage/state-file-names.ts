/** Rules for names inside a checkpoint directory, so no name or stored relative path can reach outside it. */
import { crc32c } from '../../core/binary.ts';

/** Longest file name a location accepts, leaving room under the usual 255-byte limit for temp suffixes. */
export const STATE_FILE_NAME_BYTES_MAX = 200;
/** The committed metadata file of a checkpoint or savepoint. */
export const METADATA_FILE_NAME = '_metadata';
/** Where `_metadata` is written before the atomic rename; a leftover one means the commit never happened. */
export const METADATA_TEMP_FILE_NAME = '_metadata.inprogress';
/** How a handle refers to a file in the job's `shared/` directory (incremental checkpoints). */
export const SHARED_STATE_PATH_PREFIX = '../shared/';

const OPERATOR_ID_ENCODED_CHARS_MAX = 120;
const utf8 = new TextEncoder();

/**
 * Why `name` cannot be a file name in a checkpoint location, or `undefined` when it can. Names
 * are single path segments: no `/` or `\`, no `..` anywhere, no control characters, not empty,
 * and not starting with `_`, which is reserved for the storage's own files (`_metadata`).
 *
 * @example
 * ```ts
 * stateFileNameProblem('op-1.keyed'); // undefined
 * stateFileNameProblem('../etc/passwd'); // 'must not contain a path separator'
 * ```
 */
export function stateFileNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.includes('/') || name.includes('\\')) return 'must not contain a path separator';
  if (name.includes('..')) return "must not contain '..'";
  if (name === '.') return "must not be '.'";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point.
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  if (name.startsWith('_')) return "must not start with '_' (reserved for the storage's own files)";
  if (utf8.encode(name).length > STATE_FILE_NAME_BYTES_MAX) {
    return `must be at most ${STATE_FILE_NAME_BYTES_MAX} bytes of UTF-8`;
  }
  return undefined;
}

/** Like {@link stateFileNameProblem} for a job id, which becomes a directory name. */
export function jobIdProblem(jobId: string): string | undefined {
  return stateFileNameProblem(jobId);
}

/**
 * Why a handle's stored `relativePath` is unsafe to open, or `undefined` when it is a plain
 * name in the checkpoint's directory or, for checkpoints only, `../shared/<name>`. Checked on
 * every load, so a hostile or damaged `_metadata` cannot make Weir read outside the job directory.
 */
export function relativePathProblem(relativePath: string, allowShared: boolean): string | undefined {
  if (relativePath.startsWith(SHARED_STATE_PATH_PREFIX)) {
    if (!allowShared) return 'a savepoint must not reference shared files (it has to be self-contained)';
    return stateFileNameProblem(relativePath.slice(SHARED_STATE_PATH_PREFIX.length));
  }
  return stateFileNameProblem(relativePath);
}

/**
 * `shared/<name>` for a `SharedStateRegistry` key, checked so that a key can only ever name a
 * file directly inside the job's `shared/` directory.
 */
export function sharedFileOfKey(key: string): string {
  const name = key.startsWith('shared/') ? key.slice('shared/'.length) : undefined;
  const problem = name === undefined ? "must start with 'shared/'" : stateFileNameProblem(name);
  if (problem !== undefined) throw new RangeError(`shared state key '${key}' ${problem}`);
  return `shared/${name}`;
}

/**
 * A unique name for a file of incremental keyed state in `shared/`: operator, subtask,
 * checkpoint id and a random suffix, so names never repeat across checkpoints, attempts or
 * jobs writing into the same directory.
 *
 * @example
 * ```ts
 * sharedStateFileName('counts', 0, 7, 'a1b2c3d4'); // 'counts-0-chk7-a1b2c3d4.kchg'
 * ```
 */
export function sharedStateFileName(
  operatorId: string,
  subtaskIndex: number,
  checkpointId: number,
  randomSuffix: string,
): string {
  const base = stateFileName(operatorId, subtaskIndex, 'keyed').replace(/\.keyed$/, '');
  return `${base}-chk${checkpointId}-${randomSuffix}.kchg`;
}

/**
 * A safe, injective file name for one operator subtask's state file: the operator id is
 * percent-encoded (so a uid such as `a/b` or `..` cannot escape), a long one is shortened
 * and disambiguated by its checksum.
 *
 * @example
 * ```ts
 * const name = stateFileName('counts', 0, 'keyed'); // 'counts-0.keyed'
 * const handle = await location.writeFile(name, bytes);
 * ```
 */
export function stateFileName(operatorId: string, subtaskIndex: number, kind: 'keyed' | 'operator'): string {
  if (!(Number.isSafeInteger(subtaskIndex) && subtaskIndex >= 0)) {
    throw new RangeError(`subtask index must be a non-negative integer, got ${subtaskIndex}`);
  }
  let encoded = encodeURIComponent(operatorId).replace(/[.!'()*~_]/g, percentEncode);
  if (encoded.length > OPERATOR_ID_ENCODED_CHARS_MAX) {
    const digest = crc32c(utf8.encode(operatorId)).toString(16).padStart(8, '0');
    encoded = `${encoded.slice(0, OPERATOR_ID_ENCODED_CHARS_MAX - 9)}~${digest}`;
  }
  if (encoded.length === 0) encoded = '%';
  return `${encoded}-${subtaskIndex}.${kind === 'keyed' ? 'keyed' : 'opstate'}`;
}

function percentEncode(char: string): string {
  return `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}
