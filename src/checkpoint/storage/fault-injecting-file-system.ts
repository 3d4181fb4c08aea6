/** Wraps a checkpoint file system and fails chosen calls: ENOSPC on write, EIO on fsync, a crash before a rename. */
import type {
  ByteRange,
  CheckpointFileSystem,
  DirectoryEntry,
  FileStat,
  FileWriteHandle,
} from './checkpoint-file-system.ts';
import { fileSystemError } from './in-memory-file-system.ts';

/** The calls a fault can target. */
export type FileSystemOperation =
  | 'mkdir'
  | 'writeFile'
  /** One part of a file written through `openForWriting` (whose opening counts as `writeFile`). */
  | 'write'
  | 'fsync'
  | 'rename'
  | 'readFile'
  | 'readChunks'
  | 'readdir'
  | 'stat'
  | 'remove';

/**
 * Decides whether a call fails: return the error to reject with, or `undefined` to let it
 * through. For `rename`, `path` is the source path.
 */
export type FaultRule = (operation: FileSystemOperation, path: string) => Error | undefined;

/**
 * Delegates to `inner` unless a rule fails the call, in which case `inner` is not called at
 * all: a failed `rename` therefore models a crash between writing the temp file and renaming
 * it. Every call is recorded in `calls` so a test can assert the order (write, fsync, rename).
 *
 * @example
 * ```ts
 * const fs = new FaultInjectingFileSystem(new InMemoryFileSystem());
 * fs.failNext('writeFile', '.keyed', 'ENOSPC'); // the next write of a path containing '.keyed'
 * ```
 */
export class FaultInjectingFileSystem implements CheckpointFileSystem {
  readonly #inner: CheckpointFileSystem;
  readonly #rules: FaultRule[] = [];
  /** Every call seen, as `operation path`, failed or not; cleared by tests when they like. */
  readonly calls: string[] = [];

  constructor(inner: CheckpointFileSystem) {
    this.#inner = inner;
  }

  /** Adds a rule; it stays until `clearFaults()`. */
  addRule(rule: FaultRule): void {
    this.#rules.push(rule);
  }

  /** Fails the next `operation` on a path containing `pathIncludes` with a Node-style error `code`, once. */
  failNext(operation: FileSystemOperation, pathIncludes: string, code: string): void {
    let fired = false;
    this.addRule((op, path) => {
      if (fired || op !== operation || !path.includes(pathIncludes)) return undefined;
      fired = true;
      return fileSystemError(code, operation, path, 'injected fault');
    });
  }

  clearFaults(): void {
    this.#rules.length = 0;
  }

  #check(operation: FileSystemOperation, path: string): void {
    this.calls.push(`${operation} ${path}`);
    for (const rule of this.#rules) {
      const error = rule(operation, path);
      if (error !== undefined) throw error;
    }
  }

  async mkdir(path: string): Promise<void> {
    this.#check('mkdir', path);
    return this.#inner.mkdir(path);
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    this.#check('writeFile', path);
    return this.#inner.writeFile(path, data);
  }

  async openForWriting(path: string): Promise<FileWriteHandle> {
    this.#check('writeFile', path);
    const inner = await this.#inner.openForWriting(path);
    return {
      write: async (data: Uint8Array): Promise<void> => {
        this.#check('write', path);
        return inner.write(data);
      },
      close: () => inner.close(),
    };
  }

  async fsync(path: string): Promise<void> {
    this.#check('fsync', path);
    return this.#inner.fsync(path);
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    this.#check('rename', fromPath);
    return this.#inner.rename(fromPath, toPath);
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.#check('readFile', path);
    return this.#inner.readFile(path);
  }

  async *readChunks(path: string, chunkBytes: number, range?: ByteRange): AsyncIterable<Uint8Array> {
    this.#check('readChunks', path);
    yield* this.#inner.readChunks(path, chunkBytes, range);
  }

  async readdir(path: string): Promise<DirectoryEntry[]> {
    this.#check('readdir', path);
    return this.#inner.readdir(path);
  }

  async stat(path: string): Promise<FileStat | undefined> {
    this.#check('stat', path);
    return this.#inner.stat(path);
  }

  async remove(path: string): Promise<void> {
    this.#check('remove', path);
    return this.#inner.remove(path);
  }
}
