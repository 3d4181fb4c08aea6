/** Reference counting for files shared between checkpoints (incremental `shared/`): deleted exactly when no checkpoint uses them. */
import { WeirError } from '../../core/errors.ts';
import { SHARED_STATE_PATH_PREFIX } from './state-file-names.ts';

/** Keys of deleted files remembered to catch a late registration of one (a use-after-delete bug). */
export const DELETED_KEYS_REMEMBERED_MAX = 10_000;

/** A shared file whose deletion failed: it is forgotten (an orphan for a later sweep), not retried. */
export interface SharedFileDeleteFailure {
  readonly key: string;
  readonly error: unknown;
}

/** What {@link SharedStateRegistry.release} did. */
export interface SharedStateReleaseResult {
  /** Keys whose last reference went away and whose file was deleted. */
  readonly deleted: readonly string[];
  readonly failures: readonly SharedFileDeleteFailure[];
}

/**
 * Counts, per shared file, the checkpoints that reference it. A checkpoint registers its
 * shared files as soon as its subtasks acknowledge (so files of a pending checkpoint are
 * protected too) and releases them when it is aborted or subsumed; a file is deleted when its
 * count drops to zero. A checkpoint retained past the job's end simply never releases. Keys
 * are paths relative to the job directory, such as `shared/3f2a…`.
 *
 * Registering the same key twice for one checkpoint counts once, so a retried acknowledgement
 * is harmless. Registering a key that was already deleted throws: a checkpoint referenced a
 * file that no longer exists, which would make it unrestorable.
 *
 * @example
 * ```ts
 * const registry = new SharedStateRegistry((key) => fs.remove(join(jobDirectory, key)));
 * registry.register(5, ['shared/a', 'shared/b']);
 * registry.register(6, ['shared/b', 'shared/c']);
 * await registry.release(5); // deletes shared/a; shared/b is still used by checkpoint 6
 * ```
 */
export class SharedStateRegistry {
  readonly #deleteFile: (key: string) => Promise<void>;
  readonly #counts = new Map<string, number>();
  readonly #keysByCheckpoint = new Map<number, Set<string>>();
  readonly #recentlyDeleted = new Set<string>();

  constructor(deleteFile: (key: string) => Promise<void>) {
    this.#deleteFile = deleteFile;
  }

  /** Adds references from checkpoint `checkpointId` to `keys` (idempotent per checkpoint and key). */
  register(checkpointId: number, keys: Iterable<string>): void {
    let owned = this.#keysByCheckpoint.get(checkpointId);
    if (owned === undefined) {
      owned = new Set();
      this.#keysByCheckpoint.set(checkpointId, owned);
    }
    for (const key of keys) {
      if (owned.has(key)) continue;
      if (this.#recentlyDeleted.has(key)) {
        throw new WeirError(
          `checkpoint ${checkpointId} references shared file ${key}, which was already deleted`,
        );
      }
      owned.add(key);
      this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    }
  }

  /** Drops every reference of `checkpointId`; deletes files nobody references any more. */
  async release(checkpointId: number): Promise<SharedStateReleaseResult> {
    const owned = this.#keysByCheckpoint.get(checkpointId);
    if (owned === undefined) return { deleted: [], failures: [] };
    this.#keysByCheckpoint.delete(checkpointId);
    const unreferenced: string[] = [];
    for (const key of owned) {
      const count = (this.#counts.get(key) ?? 0) - 1;
      if (count < 0) throw new WeirError(`shared file ${key} released more often than registered (a bug)`);
      if (count > 0) {
        this.#counts.set(key, count);
        continue;
      }
      this.#counts.delete(key);
      this.#rememberDeleted(key);
      unreferenced.push(key);
    }
    const deleted: string[] = [];
    const failures: SharedFileDeleteFailure[] = [];
    for (const key of unreferenced) {
      try {
        await this.#deleteFile(key);
        deleted.push(key);
      } catch (error) {
        failures.push({ key, error });
      }
    }
    return { deleted, failures };
  }

  /** How many checkpoints reference `key` (0 when unknown). */
  referenceCount(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Every key referenced by at least one checkpoint, sorted. */
  referencedKeys(): string[] {
    return [...this.#counts.keys()].sort();
  }

  /** Checkpoints currently holding references, ascending. */
  checkpointIds(): number[] {
    return [...this.#keysByCheckpoint.keys()].sort((a, b) => a - b);
  }

  #rememberDeleted(key: string): void {
    this.#recentlyDeleted.add(key);
    if (this.#recentlyDeleted.size > DELETED_KEYS_REMEMBERED_MAX) {
      const oldest = this.#recentlyDeleted.values().next().value as string;
      this.#recentlyDeleted.delete(oldest);
    }
  }
}

/**
 * Registry keys of the shared files a handle list references: `../shared/x` becomes
 * `shared/x`; files private to a checkpoint are skipped.
 */
export function sharedStateKeys(relativePaths: Iterable<string>): string[] {
  const keys: string[] = [];
  for (const relativePath of relativePaths) {
    if (relativePath.startsWith(SHARED_STATE_PATH_PREFIX)) keys.push(relativePath.slice(3));
  }
  return keys;
}
