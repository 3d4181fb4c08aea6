/** Reads the local copies of one completed checkpoint, each verified against its handle; says which were used and why others were not. */
import { crc32c } from '../../core/binary.ts';
import { describeError } from '../../core/errors.ts';
import type { CheckpointMetadata, StateFileHandle } from '../snapshot-handles.ts';
import type { ByteRange, CheckpointFileSystem } from '../storage/checkpoint-file-system.ts';

/** ENOENT, or ENOTDIR: a file where a directory of the path should be. */
export function isNothingThere(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** What became of one file's local copy. */
export type LocalCopyVerdict =
  | { readonly status: 'used'; readonly path: string; readonly sizeBytes: number }
  | { readonly status: 'missing'; readonly path: string }
  | { readonly status: 'damaged'; readonly path: string; readonly reason: string };

/** Chunks a local copy is checked and streamed in. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** A summary line lists at most this many unusable copies by path. */
const PATHS_PER_SUMMARY_MAX = 3;

/**
 * The local side of a restore. `read` returns a copy's bytes only after checking its size
 * and CRC-32C against the handle in `_metadata`; otherwise `undefined`, and the caller reads
 * checkpoint storage. Each file's verdict is kept, so `summary()` can say where the restore
 * came from and why (`restored checkpoint 7 from the local copy …`,
 * `… from checkpoint storage: local copy damaged (…)`).
 *
 * @example
 * ```ts
 * const bytes = (await reader.read(handle)) ?? (await storage.readFile(pointer, handle));
 * logger.log('info', reader.summary());
 * ```
 */
export class LocalStateReader {
  readonly metadata: CheckpointMetadata;
  readonly #fs: CheckpointFileSystem;
  readonly #pathOf: (handle: StateFileHandle) => string;
  readonly #verdicts = new Map<string, LocalCopyVerdict>();

  constructor(
    metadata: CheckpointMetadata,
    fileSystem: CheckpointFileSystem,
    pathOf: (handle: StateFileHandle) => string,
  ) {
    this.metadata = metadata;
    this.#fs = fileSystem;
    this.#pathOf = pathOf;
  }

  /** The verified bytes of the local copy, or undefined when it is missing or damaged. */
  async read(handle: StateFileHandle): Promise<Uint8Array | undefined> {
    const known = this.#verdicts.get(handle.relativePath);
    if (known !== undefined && known.status !== 'used') return undefined;
    const path = this.#pathOf(handle);
    const { verdict, bytes } = await this.#check(path, handle, true);
    this.#verdicts.set(handle.relativePath, verdict);
    return bytes;
  }

  /** Whether the local copy is intact (reads and checks it in bounded chunks, keeps no bytes; once per file). */
  async verify(handle: StateFileHandle): Promise<boolean> {
    const known = this.#verdicts.get(handle.relativePath);
    if (known !== undefined) return known.status === 'used';
    const { verdict } = await this.#check(this.#pathOf(handle), handle, false);
    this.#verdicts.set(handle.relativePath, verdict);
    return verdict.status === 'used';
  }

  /**
   * The local copy as a stream of chunks once `verify` found it intact, or undefined. Read
   * twice (checked, then streamed) so a restore never holds the file and a damaged copy is
   * known before anything of it is used; the stream's consumer checks each section's own
   * checksum besides.
   */
  async open(handle: StateFileHandle, range?: ByteRange): Promise<AsyncIterable<Uint8Array> | undefined> {
    if (!(await this.verify(handle))) return undefined;
    return this.#fs.readChunks(this.#pathOf(handle), READ_CHUNK_BYTES, range);
  }

  /** Every verdict so far, by relative path. */
  verdicts(): ReadonlyMap<string, LocalCopyVerdict> {
    return this.#verdicts;
  }

  /** True when at least one file came from the local copy and none from checkpoint storage. */
  get fullyLocal(): boolean {
    const all = [...this.#verdicts.values()];
    return all.length > 0 && all.every((v) => v.status === 'used');
  }

  /** One line for the log: where the state files came from, and why any did not come from the local copy. */
  summary(): string {
    const all = [...this.#verdicts.values()];
    const used = all.filter((v) => v.status === 'used');
    const missing = all.filter((v) => v.status === 'missing');
    const damaged = all.filter((v) => v.status === 'damaged');
    const what = `checkpoint ${this.metadata.checkpointId}`;
    if (all.length === 0) return `local recovery: ${what} has no state files to restore`;
    const bytes = used.reduce((sum, v) => sum + v.sizeBytes, 0);
    if (missing.length === 0 && damaged.length === 0) {
      return `local recovery: restored ${what} from the local copy (${used.length} files, ${bytes} bytes; checkpoint storage not read)`;
    }
    const reasons: string[] = [];
    if (missing.length > 0) reasons.push(`${missing.length} missing (${list(missing)})`);
    if (damaged.length > 0) {
      reasons.push(
        `${damaged.length} damaged (${damaged
          .slice(0, PATHS_PER_SUMMARY_MAX)
          .map((v) => `${v.path}: ${v.reason}`)
          .join('; ')})`,
      );
    }
    const where =
      used.length === 0
        ? `from checkpoint storage`
        : `from the local copy for ${used.length} files (${bytes} bytes) and from checkpoint storage for ${missing.length + damaged.length}`;
    return `local recovery: restored ${what} ${where}: local copies ${reasons.join(', ')}`;
  }

  /** `keep`: read the file whole and return its bytes; otherwise check it in chunks. */
  async #check(
    path: string,
    handle: StateFileHandle,
    keep: boolean,
  ): Promise<{ readonly verdict: LocalCopyVerdict; readonly bytes?: Uint8Array }> {
    try {
      const info = await this.#fs.stat(path);
      if (info === undefined || info.isDirectory) return { verdict: { status: 'missing', path } };
      if (info.sizeBytes !== handle.sizeBytes) {
        return {
          verdict: {
            status: 'damaged',
            path,
            reason: `${info.sizeBytes} bytes, expected ${handle.sizeBytes}`,
          },
        };
      }
      let bytes: Uint8Array | undefined;
      let actual = 0;
      let sizeBytes = 0;
      if (keep) {
        bytes = await this.#fs.readFile(path);
        actual = crc32c(bytes);
        sizeBytes = bytes.length;
      } else {
        for await (const chunk of this.#fs.readChunks(path, READ_CHUNK_BYTES)) {
          actual = crc32c(chunk, 0, chunk.length, actual);
          sizeBytes += chunk.length;
        }
      }
      if (sizeBytes !== handle.sizeBytes || actual !== handle.crc32c) {
        return {
          verdict: {
            status: 'damaged',
            path,
            reason: `checksum mismatch: expected ${hex(handle.crc32c)}, computed ${hex(actual)}`,
          },
        };
      }
      return { verdict: { status: 'used', path, sizeBytes }, bytes };
    } catch (error) {
      // A file where a directory belongs (an unusable local directory) holds no copy either.
      if (isNothingThere(error)) return { verdict: { status: 'missing', path } };
      return { verdict: { status: 'damaged', path, reason: `unreadable: ${describeError(error)}` } };
    }
  }
}

function list(verdicts: readonly LocalCopyVerdict[]): string {
  const shown = verdicts.slice(0, PATHS_PER_SUMMARY_MAX).map((v) => v.path);
  return verdicts.length > shown.length ? `${shown.join(', ')}, …` : shown.join(', ');
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
