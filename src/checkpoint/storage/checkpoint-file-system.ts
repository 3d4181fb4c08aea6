/** The small file-system interface checkpoint storage goes through, and its real `node:fs/promises` implementation. */
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';

/** One entry of a directory listing. */
export interface DirectoryEntry {
  readonly name: string;
  readonly isDirectory: boolean;
}

/** A file open for writing from its start: its parts are appended in order. */
export interface FileWriteHandle {
  /** Appends all of `data`. */
  write(data: Uint8Array): Promise<void>;
  /** Closes the file (no fsync). Idempotent. */
  close(): Promise<void>;
}

/** Bytes `start` up to (not including) `end` of a file. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** What checkpoint storage needs to know about a path. */
export interface FileStat {
  readonly isDirectory: boolean;
  readonly sizeBytes: number;
  /** Last modification, milliseconds since the epoch. */
  readonly modifiedMs: number;
}

/**
 * Every file-system call checkpoint storage makes. Production uses {@link NodeCheckpointFileSystem};
 * tests use `InMemoryFileSystem` and wrap either in `FaultInjectingFileSystem` to inject ENOSPC,
 * EIO or a crash between two calls. Failures reject with Node-style errors (a `code` such as
 * `ENOENT`), which the storage wraps with the path and the operation.
 *
 * Durability is explicit: `writeFile` alone promises nothing after a crash; `fsync` of the file
 * and then of its directory does.
 *
 * @example
 * ```ts
 * const fs: CheckpointFileSystem = new NodeCheckpointFileSystem();
 * await fs.mkdir('/tmp/weir/job/chk-1');
 * await fs.writeFile('/tmp/weir/job/chk-1/part', new Uint8Array([1, 2, 3]));
 * await fs.fsync('/tmp/weir/job/chk-1/part');
 * ```
 */
export interface CheckpointFileSystem {
  /** Creates the directory and its missing parents; fine when it exists. */
  mkdir(path: string): Promise<void>;
  /** Creates or truncates the file and writes all of `data` (no fsync). */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /**
   * Creates or truncates the file and returns a handle that appends to it: for files written
   * in parts, never whole in memory (no fsync; close the handle, then `fsync` the path).
   */
  openForWriting(path: string): Promise<FileWriteHandle>;
  /** Flushes the file or directory at `path` to stable storage. */
  fsync(path: string): Promise<void>;
  /** Atomically replaces `toPath` with `fromPath` (same directory in every use here). */
  rename(fromPath: string, toPath: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /**
   * The file's bytes in chunks of at most `chunkBytes`, in order; with `range`, only the
   * bytes from `range.start` up to (not including) `range.end`, or the file's end if that
   * comes first. A chunk may be a view into a reused buffer: consume it before asking for
   * the next.
   */
  readChunks(path: string, chunkBytes: number, range?: ByteRange): AsyncIterable<Uint8Array>;
  /** Rejects with ENOENT when the directory does not exist. */
  readdir(path: string): Promise<DirectoryEntry[]>;
  /** `undefined` when nothing exists at `path`. */
  stat(path: string): Promise<FileStat | undefined>;
  /** Removes a file or a directory tree; fine when nothing exists at `path`. */
  remove(path: string): Promise<void>;
}

/** True for the rejection a file system gives for a path that does not exist. */
export function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

/**
 * The real file system. `fsync` opens the path read-only and syncs it: on POSIX, fsync flushes
 * the file (or the directory's entries), whichever descriptor it is called through.
 *
 * @example
 * ```ts
 * const storage = new FileSystemCheckpointStorage('/var/weir/checkpoints', {
 *   fileSystem: new NodeCheckpointFileSystem(),
 * });
 * ```
 */
export class NodeCheckpointFileSystem implements CheckpointFileSystem {
  async mkdir(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    await writeFile(path, data);
  }

  async openForWriting(path: string): Promise<FileWriteHandle> {
    const handle = await open(path, 'w');
    let closed: Promise<void> | undefined;
    return {
      async write(data: Uint8Array): Promise<void> {
        // A write to a regular file may still be short (a signal, a full quota): go on until all is written.
        for (let offset = 0; offset < data.length; ) {
          const { bytesWritten } = await handle.write(data, offset, data.length - offset);
          offset += bytesWritten;
        }
      },
      close(): Promise<void> {
        closed ??= handle.close();
        return closed;
      },
    };
  }

  async fsync(path: string): Promise<void> {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(path, 'r');
      await handle.sync();
    } catch (error) {
      // Windows cannot open or sync a directory; durability of the entry is the OS's business there.
      if (process.platform === 'win32' && (await stat(path).catch(() => undefined))?.isDirectory()) return;
      throw error;
    } finally {
      await handle?.close();
    }
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    await rename(fromPath, toPath);
  }

  async readFile(path: string): Promise<Uint8Array> {
    const handle = await open(path, 'r');
    try {
      const buffer = await handle.readFile();
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } finally {
      await handle.close();
    }
  }

  async *readChunks(path: string, chunkBytes: number, range?: ByteRange): AsyncIterable<Uint8Array> {
    const handle = await open(path, 'r');
    try {
      const buffer = new Uint8Array(chunkBytes);
      let position = range?.start ?? 0;
      const end = range?.end ?? Number.POSITIVE_INFINITY;
      while (position < end) {
        const length = Math.min(chunkBytes, end - position);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  async readdir(path: string): Promise<DirectoryEntry[]> {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.map((entry) => ({ name: entry.name, isDirectory: entry.isDirectory() }));
  }

  async stat(path: string): Promise<FileStat | undefined> {
    try {
      const info = await stat(path);
      return { isDirectory: info.isDirectory(), sizeBytes: info.size, modifiedMs: info.mtimeMs };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }
}
