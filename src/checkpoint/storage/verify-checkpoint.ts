/** Verifies a whole checkpoint or savepoint: its `_metadata` and every state file it references. */
import { describeError } from '../../core/errors.ts';
import { type CheckpointMetadata, referencedStateFiles, type StateFileHandle } from '../snapshot-handles.ts';
import { CheckpointIOError, CheckpointNotFoundError, CorruptCheckpointError } from './checkpoint-errors.ts';
import type { CheckpointStorage, FileVerification } from './checkpoint-storage.ts';
import { describeFileVerification } from './directory-tree.ts';

/** The outcome of {@link verifyCheckpoint}. */
export type CheckpointVerification =
  | {
      readonly status: 'intact';
      readonly pointer: string;
      readonly metadata: CheckpointMetadata;
      readonly files: readonly FileVerification[];
    }
  | {
      readonly status: 'damaged';
      readonly pointer: string;
      /** Absent when `_metadata` itself is damaged. */
      readonly metadata: CheckpointMetadata | undefined;
      /** One line per problem, each naming the file: `…/chk-7/x.keyed: checksum mismatch (…)`. */
      readonly problems: readonly string[];
      readonly files: readonly FileVerification[];
    }
  | { readonly status: 'not-found'; readonly pointer: string; readonly message: string };

/**
 * Loads `_metadata` (magic, version, checksum, structure) and checks the size and CRC-32C of
 * every file it references. Damage and absence are values; only bugs and unexpected errors throw.
 *
 * @example
 * ```ts
 * const verification = await verifyCheckpoint(storage, '/ck/job/chk-7');
 * if (verification.status === 'damaged') console.error(verification.problems.join('\n'));
 * ```
 */
export async function verifyCheckpoint(
  storage: CheckpointStorage,
  pointer: string,
): Promise<CheckpointVerification> {
  const loaded = await loadMetadataAsValue(storage, pointer);
  if (loaded.status !== 'loaded') return loaded;
  return verifyCheckpointFiles(storage, pointer, loaded.metadata);
}

/**
 * The second half of {@link verifyCheckpoint}, for a caller that already holds the metadata.
 * Files for which `verifiedElsewhere` resolves true (an intact local copy) count as intact
 * without reading them from `storage`.
 */
export async function verifyCheckpointFiles(
  storage: CheckpointStorage,
  pointer: string,
  metadata: CheckpointMetadata,
  verifiedElsewhere?: (handle: StateFileHandle) => Promise<boolean>,
): Promise<CheckpointVerification> {
  const files: FileVerification[] = [];
  // Sequential on purpose: bounded memory and I/O, and verification is off the hot path.
  for (const handle of referencedStateFiles(metadata)) {
    if (verifiedElsewhere !== undefined && (await verifiedElsewhere(handle))) {
      const { relativePath: path, sizeBytes, crc32c } = handle;
      files.push({ status: 'ok', path, sizeBytes, crc32c });
      continue;
    }
    files.push(await storage.verifyFile(pointer, handle));
  }
  const problems = files.filter((file) => file.status !== 'ok').map(describeFileVerification);
  return problems.length === 0
    ? { status: 'intact', pointer, metadata, files }
    : { status: 'damaged', pointer, metadata, problems, files };
}

/** `_metadata` as a value: loaded, damaged (naming the path), or not found. */
export async function loadMetadataAsValue(
  storage: CheckpointStorage,
  pointer: string,
): Promise<
  | { readonly status: 'loaded'; readonly metadata: CheckpointMetadata }
  | Exclude<CheckpointVerification, { status: 'intact' }>
> {
  try {
    return { status: 'loaded', metadata: await storage.loadMetadata(pointer) };
  } catch (error) {
    if (error instanceof CheckpointNotFoundError)
      return { status: 'not-found', pointer, message: error.message };
    if (error instanceof CorruptCheckpointError) {
      return { status: 'damaged', pointer, metadata: undefined, problems: [error.summary], files: [] };
    }
    if (error instanceof CheckpointIOError) {
      return {
        status: 'damaged',
        pointer,
        metadata: undefined,
        problems: [`${error.path}: ${describeError(error.cause)}`],
        files: [],
      };
    }
    throw error;
  }
}
