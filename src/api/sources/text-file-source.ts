/** A bounded source emitting the lines of text files, split by byte range and read asynchronously. */
import { type FileHandle, open, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigurationError, describeError, WeirError } from '../../core/errors.ts';
import type { InputStatus, ReaderOutput, SourceReader, SourceSplit } from '../source.ts';
import { SplitWaiter } from './split-waiter.ts';
import { StaticSplitSource } from './static-split-source.ts';

/** How a {@link TextFileSource} cuts and reads its files. */
export interface TextFileSourceOptions {
  /** Target size of a split; default 32 MiB. */
  readonly splitSizeBytes?: number;
  /** Largest single read; default 64 KiB. */
  readonly readChunkBytes?: number;
  /** A longer line fails the reader instead of growing its buffer without bound; default 128 MiB. */
  readonly lineBytesMax?: number;
}

/**
 * The byte range `[startOffset, endOffset)` of one file. A line belongs to the split in which it
 * starts. `position` is the byte offset of the next line to emit; while it equals `startOffset`
 * (and that is not 0) the reader has yet to find where its first line starts.
 */
export interface TextFileSplit extends SourceSplit {
  readonly path: string;
  readonly startOffset: number;
  readonly endOffset: number;
  readonly position: number;
}

const SPLIT_SIZE_BYTES_DEFAULT = 32 * 1024 * 1024;
const READ_CHUNK_BYTES_DEFAULT = 64 * 1024;
const LINE_BYTES_MAX_DEFAULT = 128 * 1024 * 1024;
/** First read past a split's end, to finish its last line; doubles up to the chunk size. */
const TAIL_READ_BYTES_MIN = 4 * 1024;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Emits every line of one or more UTF-8 text files (`\n` or `\r\n` endings; a final newline
 * does not make an empty last line). A directory stands for its regular files, sorted by name,
 * not recursively, skipping names that start with `.` or `_` (in-progress and marker files).
 * Files are cut into splits of about `splitSizeBytes`, so several subtasks share a large file.
 *
 * @example
 * ```ts
 * const lines = new TextFileSource('data/events.log', { splitSizeBytes: 8 * 1024 * 1024 });
 * const logs = new TextFileSource(['logs/a.txt', 'logs/archive/']);
 * ```
 */
export class TextFileSource extends StaticSplitSource<string, TextFileSplit> {
  readonly boundedness = 'bounded';
  readonly #paths: readonly string[];
  readonly #splitSizeBytes: number;
  readonly #readChunkBytes: number;
  readonly #lineBytesMax: number;

  constructor(paths: string | readonly string[], options: TextFileSourceOptions = {}) {
    super();
    this.#paths = typeof paths === 'string' ? [paths] : [...paths];
    if (this.#paths.length === 0) throw new ConfigurationError('TextFileSource needs at least one path');
    this.#splitSizeBytes = positiveInteger(
      'splitSizeBytes',
      options.splitSizeBytes,
      SPLIT_SIZE_BYTES_DEFAULT,
    );
    this.#readChunkBytes = positiveInteger(
      'readChunkBytes',
      options.readChunkBytes,
      READ_CHUNK_BYTES_DEFAULT,
    );
    this.#lineBytesMax = positiveInteger('lineBytesMax', options.lineBytesMax, LINE_BYTES_MAX_DEFAULT);
  }

  /** The splits the enumerator deals out: byte ranges of about `splitSizeBytes`, file by file. */
  async createSplits(_parallelism: number): Promise<readonly TextFileSplit[]> {
    const splits: TextFileSplit[] = [];
    for (const file of await listFiles(this.#paths)) {
      for (let start = 0; start < file.sizeBytes; start += this.#splitSizeBytes) {
        const end = Math.min(start + this.#splitSizeBytes, file.sizeBytes);
        splits.push({
          splitId: `${file.path}:${start}`,
          path: file.path,
          startOffset: start,
          endOffset: end,
          position: start,
        });
      }
    }
    return splits;
  }

  createReader(): SourceReader<string, TextFileSplit> {
    return new TextFileReader(this.#readChunkBytes, this.#lineBytesMax);
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isSafeInteger(value) && value >= 1)) {
    throw new ConfigurationError(`TextFileSource ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

interface InputFile {
  readonly path: string;
  readonly sizeBytes: number;
}

/** Expands directories and checks every file can be opened, so a bad path fails before the job runs. */
async function listFiles(paths: readonly string[]): Promise<InputFile[]> {
  const files: InputFile[] = [];
  const add = (path: string, sizeBytes: number): void => {
    // Split ids are made of path and offset, so a file may appear only once.
    if (files.some((file) => file.path === path)) {
      throw new ConfigurationError(`input file is listed more than once: ${path}`);
    }
    files.push({ path, sizeBytes });
  };
  for (const given of paths) {
    const stats = await statReadable(given);
    if (!stats.isDirectory) {
      add(resolve(given), stats.sizeBytes);
      continue;
    }
    let names: string[];
    try {
      names = await readdir(given);
    } catch (error) {
      throw inputError(given, error);
    }
    names.sort();
    for (const name of names) {
      if (name.startsWith('.') || name.startsWith('_')) continue;
      const path = join(given, name);
      const entry = await statReadable(path);
      if (!entry.isDirectory) add(resolve(path), entry.sizeBytes);
    }
  }
  return files;
}

async function statReadable(path: string): Promise<{ isDirectory: boolean; sizeBytes: number }> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const stats = await handle.stat();
    return { isDirectory: stats.isDirectory(), sizeBytes: stats.size };
  } catch (error) {
    throw inputError(path, error);
  } finally {
    await handle?.close().catch(() => {});
  }
}

function inputError(path: string, error: unknown): WeirError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new WeirError(`input file does not exist: ${path}`, { cause: error });
  return new WeirError(`cannot read input file ${path}: ${describeError(error)}`, { cause: error });
}

/** The split being read: a window of bytes from the file and the line under construction. */
interface ActiveSplit {
  readonly split: TextFileSplit;
  handle: FileHandle | undefined;
  /** File offset of the next byte to read. */
  readOffset: number;
  chunk: Buffer;
  chunkOffset: number;
  /** Index in `chunk` of the first byte not yet consumed. */
  cursor: number;
  eof: boolean;
  /** File offset where the next line (or the one under construction, or `text`) starts. */
  lineStart: number;
  /**
   * Complete lines this split owns, decoded from `chunk[cursor, textEnd)` in one call (decoding
   * line by line costs several times more); `textCursor` is the next line's index in it.
   */
  text: string;
  textCursor: number;
  textEnd: number;
  /** Earlier parts of the line under construction, from previous chunks. */
  pieces: Buffer[];
  pieceBytes: number;
  /** Discarding the end of a line that started before this split. */
  skipping: boolean;
  tailReadBytes: number;
}

/**
 * Reads its splits one after another. At most one read is in flight; `pollNext` only consumes
 * bytes already read. Newlines are found in the bytes, never the decoded text, so split
 * boundaries and snapshot positions are exact byte offsets even for malformed UTF-8.
 */
class TextFileReader implements SourceReader<string, TextFileSplit> {
  readonly #readChunkBytes: number;
  readonly #lineBytesMax: number;
  #queue: TextFileSplit[] = [];
  #current: ActiveSplit | undefined;
  #reading: Promise<void> | undefined;
  #closing: Promise<void> = Promise.resolve();
  #failure: WeirError | undefined;
  #noMoreSplits = false;
  readonly #waiter = new SplitWaiter();

  constructor(readChunkBytes: number, lineBytesMax: number) {
    this.#readChunkBytes = readChunkBytes;
    this.#lineBytesMax = lineBytesMax;
  }

  start(): void {}

  notifyNoMoreSplits(): void {
    this.#noMoreSplits = true;
    this.#waiter.wake();
  }

  addSplits(splits: readonly TextFileSplit[]): void {
    this.#waiter.wake();
    for (const split of splits) {
      const { startOffset, endOffset, position } = split;
      const valid =
        Number.isSafeInteger(startOffset) &&
        Number.isSafeInteger(endOffset) &&
        Number.isSafeInteger(position) &&
        startOffset >= 0 &&
        startOffset <= position &&
        position <= endOffset;
      if (!valid) throw new WeirError(`invalid text file split ${JSON.stringify(split)}`);
      this.#queue.push(split);
    }
  }

  pollNext(output: ReaderOutput<string>, maxRecords: number): InputStatus {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#reading !== undefined) return 'nothing-available';
    let emitted = 0;
    while (emitted < maxRecords) {
      const active = this.#current ?? this.#activateNext();
      if (active === undefined) return this.#noMoreSplits ? 'end-of-input' : 'nothing-available';
      if (active.textCursor < active.text.length) {
        emitted += emitText(active, output, maxRecords - emitted);
        if (active.textCursor === active.text.length) this.#leaveText(active);
        continue;
      }
      if (active.cursor < active.chunk.length) {
        const line = this.#takeBytes(active);
        if (line !== undefined) {
          emitted++;
          output.collect(line);
        }
        continue;
      }
      if (!active.eof) {
        this.#read(active);
        return 'nothing-available';
      }
      // A last line without a newline ends at the end of the file.
      if (!active.skipping && active.pieceBytes > 0) {
        const line = decodeLine(active.pieces, active.pieceBytes);
        this.#finish(active);
        emitted++;
        output.collect(line);
      } else {
        this.#finish(active);
      }
    }
    return 'more-available';
  }

  isAvailable(): Promise<void> {
    if (this.#reading !== undefined) return this.#reading;
    const idle = this.#current === undefined && this.#queue.length === 0 && !this.#noMoreSplits;
    return idle ? this.#waiter.wait() : Promise.resolve();
  }

  snapshotSplits(): TextFileSplit[] {
    const splits: TextFileSplit[] = [];
    const active = this.#current;
    if (active !== undefined) {
      splits.push({ ...active.split, position: positionOf(active) });
    }
    splits.push(...this.#queue);
    return splits;
  }

  async close(): Promise<void> {
    await this.#reading;
    const active = this.#current;
    this.#current = undefined;
    this.#queue = [];
    if (active !== undefined) this.#finish(active);
    this.#waiter.wake();
    await this.#closing;
  }

  #activateNext(): ActiveSplit | undefined {
    for (;;) {
      const split = this.#queue.shift();
      if (split === undefined) return undefined;
      if (split.position >= split.endOffset) continue;
      // Whether a line starts at a split's start depends on the byte before it, so read that too.
      const skipping = split.position === split.startOffset && split.startOffset > 0;
      const active: ActiveSplit = {
        split,
        handle: undefined,
        readOffset: skipping ? split.position - 1 : split.position,
        chunk: Buffer.alloc(0),
        chunkOffset: split.position,
        cursor: 0,
        eof: false,
        lineStart: split.position,
        text: '',
        textCursor: 0,
        textEnd: 0,
        pieces: [],
        pieceBytes: 0,
        skipping,
        tailReadBytes: TAIL_READ_BYTES_MIN,
      };
      this.#current = active;
      return active;
    }
  }

  /**
   * At a line start, decodes the chunk's complete lines that this split owns into `text`.
   * Otherwise consumes the chunk up to the next newline: the rest of a line begun in an earlier
   * chunk (returned) or split (skipped).
   */
  #takeBytes(active: ActiveSplit): string | undefined {
    const { chunk, cursor } = active;
    if (!active.skipping && active.pieceBytes === 0) {
      const last = chunk.lastIndexOf(NEWLINE);
      if (last >= cursor) {
        // Lines starting at or after the split's end belong to the next split. Reads stop at
        // that end, so this only matters if a chunk ever reaches past it.
        const endIndex = active.split.endOffset - active.chunkOffset;
        const textLast = last + 1 > endIndex ? chunk.indexOf(NEWLINE, Math.max(cursor, endIndex - 1)) : last;
        active.text = chunk.toString('utf8', cursor, textLast + 1);
        active.textCursor = 0;
        active.textEnd = textLast + 1;
        return undefined;
      }
    }
    const newline = chunk.indexOf(NEWLINE, cursor);
    if (newline === -1) {
      if (!active.skipping) {
        active.pieces.push(chunk.subarray(cursor));
        active.pieceBytes += chunk.length - cursor;
        if (active.pieceBytes > this.#lineBytesMax) this.#failLongLine(active);
      }
      active.cursor = chunk.length;
      return undefined;
    }
    // A newline found here ends a line begun in an earlier chunk or split (else `text` took it).
    let line: string | undefined;
    if (active.skipping) {
      active.skipping = false;
    } else {
      active.pieces.push(chunk.subarray(cursor, newline));
      line = decodeLine(active.pieces, active.pieceBytes + newline - cursor);
      active.pieces = [];
      active.pieceBytes = 0;
    }
    active.cursor = newline + 1;
    active.lineStart = active.chunkOffset + newline + 1;
    // The next line starts in the next split: this one is done.
    if (active.lineStart >= active.split.endOffset) this.#finish(active);
    return line;
  }

  #leaveText(active: ActiveSplit): void {
    active.cursor = active.textEnd;
    active.lineStart = active.chunkOffset + active.textEnd;
    active.text = '';
    active.textCursor = 0;
    if (active.lineStart >= active.split.endOffset) this.#finish(active);
  }

  #failLongLine(active: ActiveSplit): never {
    this.#failure = new WeirError(
      `line starting at byte ${active.lineStart} of ${active.split.path} is longer than ` +
        `lineBytesMax (${this.#lineBytesMax} bytes)`,
    );
    throw this.#failure;
  }

  #read(active: ActiveSplit): void {
    const { path, endOffset } = active.split;
    let length = this.#readChunkBytes;
    if (active.readOffset < endOffset) {
      length = Math.min(length, endOffset - active.readOffset);
    } else {
      // Past the end only the last line's tail is needed, usually short: start small, then grow.
      length = Math.min(length, active.tailReadBytes);
      active.tailReadBytes *= 2;
    }
    this.#reading = (async () => {
      active.handle ??= await open(path, 'r');
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await active.handle.read(buffer, 0, length, active.readOffset);
      active.chunk = buffer.subarray(0, bytesRead);
      active.chunkOffset = active.readOffset;
      active.cursor = 0;
      active.readOffset += bytesRead;
      active.eof = bytesRead < length;
    })()
      .catch((error: unknown) => {
        this.#failure = inputError(path, error);
      })
      .finally(() => {
        this.#reading = undefined;
      });
  }

  #finish(active: ActiveSplit): void {
    if (this.#current === active) this.#current = undefined;
    const handle = active.handle;
    active.handle = undefined;
    // Closing a file opened for reading cannot lose data, so its errors are ignored.
    if (handle !== undefined) this.#closing = this.#closing.then(() => handle.close().catch(() => {}));
  }
}

/** Emits up to `maxRecords` lines of `active.text`; every line there ends with a newline. */
function emitText(active: ActiveSplit, output: ReaderOutput<string>, maxRecords: number): number {
  const text = active.text;
  let cursor = active.textCursor;
  let emitted = 0;
  while (emitted < maxRecords && cursor < text.length) {
    const newline = text.indexOf('\n', cursor);
    const end = newline > cursor && text.charCodeAt(newline - 1) === CARRIAGE_RETURN ? newline - 1 : newline;
    const line = text.slice(cursor, end);
    cursor = newline + 1;
    // Kept current per line, so a snapshot after a throwing downstream is still exact.
    active.textCursor = cursor;
    emitted++;
    output.collect(line);
  }
  return emitted;
}

/** The byte offset of the next line to emit: in `text`, after as many newlines as lines taken. */
function positionOf(active: ActiveSplit): number {
  if (active.textCursor === 0) return active.lineStart;
  let lines = 0;
  for (
    let i = active.text.indexOf('\n');
    i !== -1 && i < active.textCursor;
    i = active.text.indexOf('\n', i + 1)
  ) {
    lines++;
  }
  let index = active.cursor - 1;
  for (let k = 0; k < lines; k++) index = active.chunk.indexOf(NEWLINE, index + 1);
  return active.chunkOffset + index + 1;
}

function decodeLine(pieces: readonly Buffer[], byteLength: number): string {
  const bytes = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, byteLength);
  const end = byteLength > 0 && bytes[byteLength - 1] === CARRIAGE_RETURN ? byteLength - 1 : byteLength;
  return bytes.toString('utf8', 0, end);
}
