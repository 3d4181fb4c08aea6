/** Reading a checkpoint directory tree back: verified state files, verified `_metadata`, completed checkpoint ids. */
import { crc32c } from '../../core/binary.ts';
import { describeError, WeirError } from '../../core/errors.ts';
import { decodeCheckpointMetadata, hex32 } from '../metadata/checkpoint-metadata-format.ts';
import type { CheckpointMetadata, StateFileHandle } from '../snapshot-handles.ts';
import {
  CheckpointIOError,
  CheckpointNotFoundError,
  CorruptCheckpointError,
  withIOContext,
} from './checkpoint-errors.ts';
import { type ByteRange, type CheckpointFileSystem, isNotFound } from './checkpoint-file-system.ts';
import type { FileVerification } from './checkpoint-storage.ts';
import { METADATA_FILE_NAME, relativePathProblem, SHARED_STATE_PATH_PREFIX } from './state-file-names.ts';

/** Verification reads files in chunks of this size, so checking a large file needs little memory (1 MiB). */
export const VERIFY_CHUNK_BYTES = 1024 * 1024;

const CHECKPOINT_DIRECTORY_PATTERN = /^chk-(0|[1-9][0-9]{0,15})$/;

/** A file system with the path syntax that goes with it (`node:path`, or `/`-joined `memory://` paths). */
export interface PathContext {
  readonly fs: CheckpointFileSystem;
  join(directory: string, name: string): string;
  dirname(path: string): string;
}

/** The id of a `chk-<n>` directory name, or `undefined` for any other name. */
export function checkpointIdOfDirectoryName(name: string): number | undefined {
  const match = CHECKPOINT_DIRECTORY_PATTERN.exec(name);
  if (match === null) return undefined;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** The directory named by a pointer that may also be the path of its `_metadata` file. */
export function checkpointDirectoryOf(paths: PathContext, pointer: string): string {
  const trimmed = pointer.length > 1 && pointer.endsWith('/') ? pointer.slice(0, -1) : pointer;
  return trimmed.endsWith(`/${METADATA_FILE_NAME}`) || trimmed.endsWith(`\\${METADATA_FILE_NAME}`)
    ? paths.dirname(trimmed)
    : trimmed;
}

/** Where a handle's file lives: in the checkpoint directory, or in the job's `shared/` directory. */
export function stateFilePath(paths: PathContext, directory: string, handle: StateFileHandle): string {
  const problem = relativePathProblem(handle.relativePath, true);
  if (problem !== undefined) {
    throw new WeirError(`unsafe state file path '${handle.relativePath}' in ${directory}: ${problem}`);
  }
  if (handle.relativePath.startsWith(SHARED_STATE_PATH_PREFIX)) {
    const name = handle.relativePath.slice(SHARED_STATE_PATH_PREFIX.length);
    return paths.join(paths.join(paths.dirname(directory), 'shared'), name);
  }
  return paths.join(directory, handle.relativePath);
}

/** Reads a state file whole and checks size and CRC-32C; damage throws {@link CorruptCheckpointError}. */
export async function readVerifiedStateFile(
  paths: PathContext,
  directory: string,
  handle: StateFileHandle,
): Promise<Uint8Array> {
  const path = stateFilePath(paths, directory, handle);
  let bytes: Uint8Array;
  try {
    bytes = await paths.fs.readFile(path);
  } catch (error) {
    if (isNotFound(error)) throw new CorruptCheckpointError(path, 'file is missing', { cause: error });
    throw new CheckpointIOError('read state file', path, error);
  }
  if (bytes.length !== handle.sizeBytes) {
    const reason = bytes.length < handle.sizeBytes ? 'truncated' : 'size mismatch';
    throw new CorruptCheckpointError(path, reason, {
      expected: `${handle.sizeBytes} bytes`,
      actual: `${bytes.length} bytes`,
    });
  }
  const actual = crc32c(bytes);
  if (actual !== handle.crc32c) {
    throw new CorruptCheckpointError(path, 'checksum mismatch', {
      expected: hex32(handle.crc32c),
      actual: hex32(actual),
    });
  }
  return bytes;
}

/**
 * A state file as a stream of chunks (`VERIFY_CHUNK_BYTES` each), checked against the
 * handle as it goes: more bytes than the handle says, or at the end fewer or another
 * CRC-32C, throw {@link CorruptCheckpointError}. A consumer that stops early gets no
 * whole-file check (the sections it read carry their own checksums). With `range`, only
 * those bytes, and only their count is checked (the whole file's CRC-32C needs all of it).
 */
export async function* readStateFileChunks(
  paths: PathContext,
  directory: string,
  handle: StateFileHandle,
  range?: ByteRange,
): AsyncGenerator<Uint8Array, void, undefined> {
  const path = stateFilePath(paths, directory, handle);
  if (
    range !== undefined &&
    !(range.start >= 0 && range.start <= range.end && range.end <= handle.sizeBytes)
  ) {
    throw new RangeError(
      `bytes [${range.start}, ${range.end}) of ${path} lie outside its ${handle.sizeBytes} bytes`,
    );
  }
  const expectedBytes = range === undefined ? handle.sizeBytes : range.end - range.start;
  let crc = 0;
  let sizeBytes = 0;
  const chunks = paths.fs.readChunks(path, VERIFY_CHUNK_BYTES, range)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (error) {
        if (isNotFound(error)) throw new CorruptCheckpointError(path, 'file is missing', { cause: error });
        throw new CheckpointIOError('read state file', path, error);
      }
      if (next.done === true) break;
      const chunk = next.value;
      if (range === undefined) crc = crc32c(chunk, 0, chunk.length, crc);
      sizeBytes += chunk.length;
      if (sizeBytes > expectedBytes) {
        throw new CorruptCheckpointError(path, 'size mismatch', {
          expected: `${handle.sizeBytes} bytes`,
          actual: `more than ${handle.sizeBytes} bytes`,
        });
      }
      yield chunk;
    }
  } finally {
    // Closes the file when the consumer stops early (or this throws); a no-op once it ended.
    await chunks.return?.();
  }
  if (sizeBytes < expectedBytes) {
    throw new CorruptCheckpointError(path, 'truncated', {
      expected: range === undefined ? `${handle.sizeBytes} bytes` : `bytes up to ${range.end}`,
      actual: range === undefined ? `${sizeBytes} bytes` : `the file ends at ${range.start + sizeBytes}`,
    });
  }
  if (range === undefined && crc !== handle.crc32c) {
    throw new CorruptCheckpointError(path, 'checksum mismatch', {
      expected: hex32(handle.crc32c),
      actual: hex32(crc),
    });
  }
}

/** Checks a state file against its handle in bounded chunks; every outcome is a value. */
export async function verifyStateFile(
  paths: PathContext,
  directory: string,
  handle: StateFileHandle,
): Promise<FileVerification> {
  let path: string;
  try {
    path = stateFilePath(paths, directory, handle);
  } catch (error) {
    return {
      status: 'unreadable',
      path: `${directory}/${handle.relativePath}`,
      reason: describeError(error),
    };
  }
  try {
    const info = await paths.fs.stat(path);
    if (info === undefined || info.isDirectory) return { status: 'missing', path };
    if (info.sizeBytes !== handle.sizeBytes) {
      return {
        status: 'size-mismatch',
        path,
        expectedSizeBytes: handle.sizeBytes,
        actualSizeBytes: info.sizeBytes,
      };
    }
    let crc = 0;
    let sizeBytes = 0;
    for await (const chunk of paths.fs.readChunks(path, VERIFY_CHUNK_BYTES)) {
      crc = crc32c(chunk, 0, chunk.length, crc);
      sizeBytes += chunk.length;
    }
    if (sizeBytes !== handle.sizeBytes) {
      return {
        status: 'size-mismatch',
        path,
        expectedSizeBytes: handle.sizeBytes,
        actualSizeBytes: sizeBytes,
      };
    }
    if (crc !== handle.crc32c) {
      return { status: 'checksum-mismatch', path, expectedCrc32c: handle.crc32c, actualCrc32c: crc };
    }
    return { status: 'ok', path, sizeBytes, crc32c: crc };
  } catch (error) {
    if (isNotFound(error)) return { status: 'missing', path };
    return { status: 'unreadable', path, reason: describeError(error) };
  }
}

/**
 * One line for a verification, such as
 * `/ck/job/chk-7/counts-0.keyed: checksum mismatch (expected 0x…, found 0x…)`.
 */
export function describeFileVerification(verification: FileVerification): string {
  return `${verification.path}: ${fileVerificationReason(verification)}`;
}

/** What a verification found, without the path: `OK`, `file is missing`, `checksum mismatch (…)`. */
export function fileVerificationReason(verification: FileVerification): string {
  switch (verification.status) {
    case 'ok':
      return 'OK';
    case 'missing':
      return 'file is missing';
    case 'size-mismatch': {
      const what =
        verification.actualSizeBytes < verification.expectedSizeBytes ? 'truncated' : 'size mismatch';
      return `${what} (expected ${verification.expectedSizeBytes} bytes, found ${verification.actualSizeBytes})`;
    }
    case 'checksum-mismatch':
      return `checksum mismatch (expected ${hex32(verification.expectedCrc32c)}, found ${hex32(verification.actualCrc32c)})`;
    case 'unreadable':
      return `unreadable (${verification.reason})`;
  }
}

/** Reads and decodes `_metadata` of a checkpoint directory. */
export async function loadMetadataFile(paths: PathContext, directory: string): Promise<CheckpointMetadata> {
  const path = paths.join(directory, METADATA_FILE_NAME);
  let bytes: Uint8Array;
  try {
    bytes = await paths.fs.readFile(path);
  } catch (error) {
    if (isNotFound(error)) {
      throw new CheckpointNotFoundError(
        directory,
        `${path} does not exist (never committed, or not a checkpoint)`,
        {
          cause: error,
        },
      );
    }
    throw new CheckpointIOError('read metadata', path, error);
  }
  return decodeCheckpointMetadata(bytes, path);
}

/** The `chk-<n>` directories of a job directory, split by whether `_metadata` exists; ids ascending. */
export async function listCheckpointDirectories(
  paths: PathContext,
  jobDirectory: string,
): Promise<{ completed: number[]; aborted: number[] }> {
  const completed: number[] = [];
  const aborted: number[] = [];
  let entries: Awaited<ReturnType<CheckpointFileSystem['readdir']>>;
  try {
    entries = await paths.fs.readdir(jobDirectory);
  } catch (error) {
    if (isNotFound(error)) return { completed, aborted };
    throw new CheckpointIOError('list', jobDirectory, error);
  }
  for (const entry of entries) {
    const id = entry.isDirectory ? checkpointIdOfDirectoryName(entry.name) : undefined;
    if (id === undefined) continue;
    const metadataPath = paths.join(paths.join(jobDirectory, entry.name), METADATA_FILE_NAME);
    const info = await withIOContext('stat', metadataPath, () => paths.fs.stat(metadataPath));
    (info !== undefined && !info.isDirectory ? completed : aborted).push(id);
  }
  const ascending = (a: number, b: number): number => a - b;
  return { completed: completed.sort(ascending), aborted: aborted.sort(ascending) };
}
