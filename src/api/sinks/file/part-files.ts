/** Part-file names of the exactly-once file sink, and its committer: truncate, rename, abort. */
import type { Dirent } from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError, WeirError } from '../../../core/errors.ts';
import type { Committer, LingeringContext } from '../../sink.ts';

/** A pending part: its hidden name, the name it gets on commit, and its length at the barrier. */
export interface FileCommittable {
  /** Relative to the sink's directory. */
  readonly inProgressPath: string;
  /** Relative to the sink's directory. */
  readonly finalPath: string;
  readonly lengthBytes: number;
}

const IN_PROGRESS_SUFFIX = '.inprogress';
/** `.part-<lineage>-<subtask>-<k>-<j>…` of an in-progress file (the lineage is 8 hex digits). */
const IN_PROGRESS_PATTERN = /^\.part-([0-9a-f]{8})-(\d+)-(\d+)-(\d+)(.*)\.inprogress$/;

/** `part-<lineage>-<subtask>-<k>-<j><suffix>`: transaction k of a subtask, part j in its bucket. */
export function partName(
  lineageId: string,
  subtaskIndex: number,
  k: number,
  j: number,
  suffix: string,
): string {
  return `part-${lineageId}-${subtaskIndex}-${k}-${j}${suffix}`;
}

export function inProgressName(finalName: string): string {
  return `.${finalName}${IN_PROGRESS_SUFFIX}`;
}

/**
 * Commits pending parts by an atomic rename, idempotently: a part whose hidden file is gone
 * and whose final file exists with the recorded length was committed before. A hidden file
 * longer than recorded is truncated first (it can only have grown by a bug or a foreign write;
 * the recorded length is what the checkpoint covers).
 */
export class FileCommitter implements Committer<FileCommittable> {
  readonly #directory: string;

  constructor(directory: string) {
    this.#directory = directory;
  }

  async commit(committables: readonly FileCommittable[]): Promise<void> {
    const directories = new Set<string>();
    for (const committable of committables) {
      await this.#commitOne(committable);
      directories.add(dirname(join(this.#directory, committable.finalPath)));
    }
    // The renames are durable only once their directories are.
    for (const directory of directories) await syncDirectory(directory);
  }

  async #commitOne(committable: FileCommittable): Promise<void> {
    const from = join(this.#directory, committable.inProgressPath);
    const to = join(this.#directory, committable.finalPath);
    const length = committable.lengthBytes;
    const size = await sizeOf(from);
    if (size === undefined) {
      if ((await sizeOf(to)) === length) return; // Committed before.
      throw new WeirError(
        `cannot commit part ${to}: neither it (with ${length} bytes) nor its in-progress file ${from} exists`,
      );
    }
    if (size < length) {
      throw new WeirError(
        `cannot commit part ${from}: it has ${size} bytes, the checkpoint recorded ${length}`,
      );
    }
    try {
      if (size > length) {
        const handle = await open(from, 'r+');
        try {
          await handle.truncate(length);
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      await rename(from, to);
    } catch (error) {
      throw new WeirError(`cannot commit part ${from} as ${to}: ${describeError(error)}`, { cause: error });
    }
  }

  /**
   * Deletes in-progress parts that no checkpoint will commit: of the restored lineages, those of owned
   * old subtasks with `k` above the restored checkpoint; on a fresh start, every owned
   * in-progress part of any lineage (leftovers of earlier runs into the same directory).
   * Walks the whole directory tree (buckets may be nested).
   */
  async abortLingering(context: LingeringContext): Promise<void> {
    const fresh = context.restoredCheckpointId === undefined;
    for await (const path of walk(this.#directory)) {
      const match = IN_PROGRESS_PATTERN.exec(basename(path));
      if (match === null) continue;
      const [, lineage, j, k] = match;
      const ours = lineage === context.lineageId || context.restoredLineageIds.includes(lineage);
      const lingering = ours
        ? context.isLingering(Number(j), Number(k))
        : fresh && context.ownsOldSubtask(Number(j));
      if (lingering) await unlink(path).catch(ignoreMissing);
    }
  }

  async close(): Promise<void> {}
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WeirError(`cannot stat ${path}: ${describeError(error)}`, { cause: error });
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

/** Every file below `directory` (nothing if it does not exist). */
async function* walk(directory: string): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}
