/** Consecutive records of unknown length (a state file's sections) parsed out of a stream of chunks, holding about one record at a time. */
import { CorruptSnapshotError } from './snapshot-errors.ts';

/** Bytes pulled at least whenever the buffer runs short, so small records do not cost a pull each. */
const PULL_BYTES_MIN = 64 * 1024;

/** A record parsed from a buffer: the value and the offset just after it. */
export interface Parsed<T> {
  readonly value: T;
  readonly end: number;
}

/**
 * The bytes of a file of known size read as a stream, for parsers that take a whole buffer:
 * `parse` runs the parser on what is buffered and, when that fails, pulls more (at least
 * doubling what is buffered) and runs it again, so a record's cost stays linear. A failure
 * with everything up to the limit buffered is the parser's verdict (so a damaged record is
 * reported after the rest of the file was read). Records returned keep views of the buffer
 * they came from; buffers are never reused, so those views stay valid.
 *
 * @example
 * ```ts
 * const input = new ChunkedInput(fs.readChunks(path, 1 << 20), path, sizeBytes);
 * const header = await input.take(HEADER_BYTES);
 * const limit = input.sizeBytes - 4; // the trailer follows the records
 * while (input.position < limit) records.push(await input.parse(limit, readRecord));
 * ```
 */
export class ChunkedInput {
  readonly path: string;
  readonly sizeBytes: number;
  readonly #chunks: AsyncIterator<Uint8Array>;
  #buffer: Uint8Array = new Uint8Array(0);
  /** Offset in the file of `#buffer[0]`, and how much of the buffer is consumed. */
  #base = 0;
  #offset = 0;
  #ended = false;

  constructor(chunks: AsyncIterable<Uint8Array>, path: string, sizeBytes: number) {
    this.#chunks = chunks[Symbol.asyncIterator]();
    this.path = path;
    this.sizeBytes = sizeBytes;
  }

  /** The file offset of the next unconsumed byte. */
  get position(): number {
    return this.#base + this.#offset;
  }

  /** The next `count` bytes (a view); CorruptSnapshotError if the file ends before. */
  async take(count: number): Promise<Uint8Array> {
    while (this.#buffer.length - this.#offset < count && !this.#ended) await this.#pull(count);
    if (this.#buffer.length - this.#offset < count) {
      throw new CorruptSnapshotError(
        this.path,
        `truncated: ends at byte ${this.#base + this.#buffer.length}, expected ${this.sizeBytes}`,
      );
    }
    const bytes = this.#buffer.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return bytes;
  }

  /**
   * The next record: `parser(buffer, offset)` reads one from `buffer` at `offset`, which holds
   * nothing past `limit` (a file offset: where the records end). Retried with more bytes
   * until it succeeds or the buffer holds everything up to `limit`.
   */
  async parse<T>(limit: number, parser: (buffer: Uint8Array, offset: number) => Parsed<T>): Promise<T> {
    for (;;) {
      const available = Math.min(this.#buffer.length, limit - this.#base);
      const complete = this.#base + available >= limit || this.#ended;
      try {
        const { value, end } = parser(this.#buffer.subarray(0, available), this.#offset);
        this.#offset = end;
        return value;
      } catch (error) {
        if (complete) throw error;
      }
      await this.#pull(2 * Math.max(available - this.#offset, 1));
    }
  }

  /** Stops reading (the rest of the file is not needed); idempotent. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#chunks.return?.();
  }

  /** Pulls chunks until `wanted` unconsumed bytes are buffered or the file ends; drops the consumed bytes. */
  async #pull(wanted: number): Promise<void> {
    const target = Math.max(wanted, PULL_BYTES_MIN);
    const leftover = this.#buffer.subarray(this.#offset);
    const parts = leftover.length > 0 ? [leftover] : [];
    let buffered = leftover.length;
    while (buffered < target) {
      const next = await this.#chunks.next();
      if (next.done === true) {
        this.#ended = true;
        break;
      }
      // Copied at once: a file system's chunks are views of one buffer it reads into again.
      parts.push(next.value.slice());
      buffered += next.value.length;
    }
    this.#base += this.#offset;
    this.#offset = 0;
    // Never written again: records already returned keep views of the buffers they came from.
    this.#buffer = parts.length === 1 ? parts[0] : Buffer.concat(parts, buffered);
  }
}
