/** A deterministic in-memory twin of the checkpoint file system: memory storage, tests and simulations. */
import type {
  ByteRange,
  CheckpointFileSystem,
  DirectoryEntry,
  FileStat,
  FileWriteHandle,
} from './checkpoint-file-system.ts';

interface MemoryFile {
  bytes: Uint8Array;
  modifiedMs: number;
}

/** Options of {@link InMemoryFileSystem}. */
export interface InMemoryFileSystemOptions {
  /** Modification times; default a logical clock that ticks once per change (deterministic). */
  readonly now?: () => number;
}

/** A Node-style file-system error, with `code`, `syscall` and `path` like the real ones. */
export function fileSystemError(code: string, syscall: string, path: string, detail = ''): Error {
  const message = `${code}: ${detail || code.toLowerCase()}, ${syscall} '${path}'`;
  return Object.assign(new Error(message), { code, syscall, path });
}

/**
 * Files and directories in maps. Paths are strings split at `/`, so any prefix works as a root:
 * `/a/b` as well as `memory://job/chk-1`. `rename` is atomic and `fsync` checks only that the
 * path exists: this twin models the API, not lost writes after a power cut.
 *
 * @example
 * ```ts
 * const fs = new InMemoryFileSystem();
 * await fs.mkdir('/ck/job');
 * await fs.writeFile('/ck/job/x', new Uint8Array([1]));
 * (await fs.readdir('/ck/job')).map((e) => e.name); // ['x']
 * ```
 */
export class InMemoryFileSystem implements CheckpointFileSystem {
  readonly #files = new Map<string, MemoryFile>();
  readonly #directories = new Map<string, number>();
  readonly #now: () => number;
  #tick = 0;

  constructor(options: InMemoryFileSystemOptions = {}) {
    this.#now = options.now ?? (() => ++this.#tick);
  }

  /** Every file path, sorted: for tests that check what is left behind. */
  filePaths(): string[] {
    return [...this.#files.keys()].sort();
  }

  /** Total bytes held in files. */
  sizeBytes(): number {
    let total = 0;
    for (const file of this.#files.values()) total += file.bytes.length;
    return total;
  }

  async mkdir(path: string): Promise<void> {
    if (this.#files.has(path)) throw fileSystemError('EEXIST', 'mkdir', path, 'file already exists');
    for (let end = path.indexOf('/', 1); end !== -1; end = path.indexOf('/', end + 1)) {
      const ancestor = path.slice(0, end);
      if (this.#files.has(ancestor)) throw fileSystemError('ENOTDIR', 'mkdir', path, 'not a directory');
      if (!this.#directories.has(ancestor)) this.#directories.set(ancestor, this.#now());
    }
    if (!this.#directories.has(path)) this.#directories.set(path, this.#now());
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    this.#requireParent(path, 'open');
    if (this.#directories.has(path)) throw fileSystemError('EISDIR', 'open', path, 'is a directory');
    this.#files.set(path, { bytes: data.slice(), modifiedMs: this.#now() });
  }

  async openForWriting(path: string): Promise<FileWriteHandle> {
    await this.writeFile(path, new Uint8Array(0));
    const opened = this.#files.get(path);
    // Grown by doubling, so a file written in many parts costs linear time.
    let buffer = new Uint8Array(0);
    let length = 0;
    let closed = false;
    return {
      write: async (data: Uint8Array): Promise<void> => {
        if (closed) throw fileSystemError('EBADF', 'write', path, 'bad file descriptor');
        const file = this.#files.get(path);
        // Deleted or replaced while open: like an unlinked file, the writes go nowhere visible.
        if (file === undefined || file !== opened) return;
        if (length + data.length > buffer.length) {
          const grown = new Uint8Array(Math.max(2 * buffer.length, length + data.length));
          grown.set(buffer.subarray(0, length));
          buffer = grown;
        }
        buffer.set(data, length);
        length += data.length;
        file.bytes = buffer.subarray(0, length);
        file.modifiedMs = this.#now();
      },
      close: async (): Promise<void> => {
        closed = true;
      },
    };
  }

  async fsync(path: string): Promise<void> {
    if (!this.#files.has(path) && !this.#directories.has(path)) {
      throw fileSystemError('ENOENT', 'fsync', path, 'no such file or directory');
    }
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    const file = this.#files.get(fromPath);
    if (file === undefined) throw fileSystemError('ENOENT', 'rename', fromPath, 'no such file or directory');
    this.#requireParent(toPath, 'rename');
    if (this.#directories.has(toPath)) throw fileSystemError('EISDIR', 'rename', toPath, 'is a directory');
    this.#files.delete(fromPath);
    this.#files.set(toPath, file);
  }

  async readFile(path: string): Promise<Uint8Array> {
    const file = this.#files.get(path);
    if (file !== undefined) return file.bytes.slice();
    if (this.#directories.has(path)) throw fileSystemError('EISDIR', 'read', path, 'is a directory');
    throw fileSystemError('ENOENT', 'open', path, 'no such file or directory');
  }

  async *readChunks(path: string, chunkBytes: number, range?: ByteRange): AsyncIterable<Uint8Array> {
    const whole = await this.readFile(path);
    const bytes = range === undefined ? whole : whole.subarray(range.start, range.end);
    for (let start = 0; start < bytes.length; start += chunkBytes) {
      yield bytes.subarray(start, Math.min(bytes.length, start + chunkBytes));
    }
  }

  async readdir(path: string): Promise<DirectoryEntry[]> {
    if (!this.#directories.has(path)) {
      const code = this.#files.has(path) ? 'ENOTDIR' : 'ENOENT';
      throw fileSystemError(code, 'scandir', path);
    }
    const prefix = `${path}/`;
    const entries: DirectoryEntry[] = [];
    const collect = (candidate: string, isDirectory: boolean): void => {
      if (!candidate.startsWith(prefix)) return;
      const name = candidate.slice(prefix.length);
      if (name.length > 0 && !name.includes('/')) entries.push({ name, isDirectory });
    };
    for (const directory of this.#directories.keys()) collect(directory, true);
    for (const file of this.#files.keys()) collect(file, false);
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const file = this.#files.get(path);
    if (file !== undefined)
      return { isDirectory: false, sizeBytes: file.bytes.length, modifiedMs: file.modifiedMs };
    const modifiedMs = this.#directories.get(path);
    if (modifiedMs !== undefined) return { isDirectory: true, sizeBytes: 0, modifiedMs };
    return undefined;
  }

  async remove(path: string): Promise<void> {
    const prefix = `${path}/`;
    for (const file of [...this.#files.keys()]) {
      if (file === path || file.startsWith(prefix)) this.#files.delete(file);
    }
    for (const directory of [...this.#directories.keys()]) {
      if (directory === path || directory.startsWith(prefix)) this.#directories.delete(directory);
    }
  }

  #requireParent(path: string, syscall: string): void {
    const slash = path.lastIndexOf('/');
    const parent = path.slice(0, slash);
    if (slash > 0 && !this.#directories.has(parent)) {
      throw fileSystemError('ENOENT', syscall, path, 'no such file or directory');
    }
  }
}
