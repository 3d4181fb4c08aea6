/** The at-least-once file writer: one line per record into rolling part files per subtask, renamed on roll. */
import { type FileHandle, mkdir, open, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, WeirError } from '../../../core/errors.ts';
import type { CommittingSinkWriter } from '../../sink.ts';

const IN_PROGRESS_SUFFIX = '.inprogress';

/**
 * Writes `part-{subtask}-{counter}{suffix}` files into `directory` (created if missing). A part
 * being written is hidden as `.part-…{suffix}.inprogress` and renamed when it reaches
 * `rollSizeBytes` or the input ends; a job that stops early leaves its in-progress files
 * behind. Counters continue after the highest part already in the directory, so a rerun or a
 * restart never overwrites earlier parts. Records replayed after a restore are written again.
 */
export async function createAtLeastOnceFileWriter<T>(
  directory: string,
  subtaskIndex: number,
  suffix: string,
  rollSizeBytes: number,
  format: (value: T) => string,
): Promise<CommittingSinkWriter<T, never>> {
  let names: string[];
  try {
    await mkdir(directory, { recursive: true });
    names = await readdir(directory);
  } catch (error) {
    throw new WeirError(`cannot create output directory ${directory}: ${describeError(error)}`, {
      cause: error,
    });
  }
  const counter = nextPartCounter(names, subtaskIndex);
  return new FileWriter<T>(directory, subtaskIndex, counter, suffix, rollSizeBytes, format);
}

/** One past the highest counter of this subtask's part files (final or in progress) in `names`. */
function nextPartCounter(names: readonly string[], subtaskIndex: number): number {
  const pattern = new RegExp(`^\\.?part-${subtaskIndex}-(\\d+)`);
  let next = 0;
  for (const name of names) {
    const match = pattern.exec(name);
    if (match !== null) next = Math.max(next, Number(match[1]) + 1);
  }
  return next;
}

class FileWriter<T> implements CommittingSinkWriter<T, never> {
  readonly #directory: string;
  readonly #subtaskIndex: number;
  readonly #suffix: string;
  readonly #rollSizeBytes: number;
  readonly #format: (value: T) => string;
  #counter: number;
  /** The open in-progress part, if any. */
  #handle: FileHandle | undefined;
  /** Lines of parts that reached the roll size and must be finished in the next flush. */
  #sealed: string[][] = [];
  /** Lines of the current part not yet written. */
  #pending: string[] = [];
  /** Bytes of the current part, written and pending. */
  #partBytes = 0;

  constructor(
    directory: string,
    subtaskIndex: number,
    counter: number,
    suffix: string,
    rollSizeBytes: number,
    format: (value: T) => string,
  ) {
    this.#directory = directory;
    this.#subtaskIndex = subtaskIndex;
    this.#counter = counter;
    this.#suffix = suffix;
    this.#rollSizeBytes = rollSizeBytes;
    this.#format = format;
  }

  write(value: T): void {
    const line = this.#format(value) + '\n';
    // Roll before the record that would start past the limit, as Flink's rolling policy does.
    if (this.#partBytes >= this.#rollSizeBytes) {
      this.#sealed.push(this.#pending);
      this.#pending = [];
      this.#partBytes = 0;
    }
    this.#pending.push(line);
    this.#partBytes += Buffer.byteLength(line);
  }

  async flush(endOfInput: boolean): Promise<void> {
    const sealed = this.#sealed;
    this.#sealed = [];
    for (const lines of sealed) {
      await this.#append(lines);
      await this.#finishPart();
    }
    const pending = this.#pending;
    this.#pending = [];
    if (pending.length > 0) await this.#append(pending);
    if (endOfInput) {
      await this.#finishPart();
      this.#partBytes = 0;
    }
  }

  /** Never called (at-least-once runs without a committer); nothing to commit. */
  prepareCommit(): readonly never[] {
    return [];
  }

  async close(): Promise<void> {
    // Without end of input the part stays in progress: it may be incomplete.
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  #finalName(): string {
    return `part-${this.#subtaskIndex}-${this.#counter}${this.#suffix}`;
  }

  #inProgressPath(): string {
    return join(this.#directory, `.${this.#finalName()}${IN_PROGRESS_SUFFIX}`);
  }

  async #append(lines: readonly string[]): Promise<void> {
    const path = this.#inProgressPath();
    try {
      this.#handle ??= await open(path, 'w');
      await this.#handle.appendFile(lines.join(''));
    } catch (error) {
      throw new WeirError(`cannot write part file ${path}: ${describeError(error)}`, { cause: error });
    }
  }

  async #finishPart(): Promise<void> {
    const handle = this.#handle;
    if (handle === undefined) return;
    const from = this.#inProgressPath();
    const to = join(this.#directory, this.#finalName());
    this.#handle = undefined;
    try {
      await handle.close();
      await rename(from, to);
    } catch (error) {
      throw new WeirError(`cannot finish part file ${from} as ${to}: ${describeError(error)}`, {
        cause: error,
      });
    }
    this.#counter++;
  }
}
