/** Tests of FileSink: hidden in-progress parts, renaming at end of input and on roll, and error paths. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSink, type FileSinkOptions } from '../../../src/api/sinks/file-sink.ts';
import { TextFileSource } from '../../../src/api/sources/text-file-source.ts';
import { readInParallel } from '../sources/drain-reader.ts';
import { sinkContext } from './sink-context.ts';

let root: string;
let dirCounter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'weir-file-sink-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function freshDirectory(): string {
  return join(root, `out-${dirCounter++}`, 'nested');
}

async function writerFor<T>(directory: string, subtaskIndex = 0, options: FileSinkOptions<T> = {}) {
  return new FileSink<T>(directory, { deliveryGuarantee: 'at-least-once', ...options }).createWriter(
    sinkContext({
      subtaskIndex,
      parallelism: 2,
      operatorName: 'files',
    }),
  );
}

async function contents(directory: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(directory)).sort())
    files[name] = await readFile(join(directory, name), 'utf8');
  return files;
}

describe('FileSink', () => {
  it('writes a hidden in-progress part, then renames it at end of input', async () => {
    const directory = freshDirectory();
    const writer = await writerFor<string>(directory, 1, { suffix: '.txt' });
    writer.write('first', undefined);
    writer.write('zweite €', undefined);
    expect(await contents(directory)).toEqual({}); // buffered until flush
    await writer.flush(false);
    expect(await contents(directory)).toEqual({ '.part-1-0.txt.inprogress': 'first\nzweite €\n' });
    writer.write('third', undefined);
    await writer.flush(true);
    await writer.close();
    expect(await contents(directory)).toEqual({ 'part-1-0.txt': 'first\nzweite €\nthird\n' });
  });

  it('formats objects as JSON by default, or with the given format', async () => {
    const directory = freshDirectory();
    const json = await writerFor<object>(directory, 0);
    json.write({ a: 1n }, undefined);
    await json.flush(true);
    const custom = await writerFor<number>(directory, 1, { format: (n) => `n=${n}` });
    custom.write(5, undefined);
    await custom.flush(true);
    expect(await contents(directory)).toEqual({ 'part-0-0': '{"a":1}\n', 'part-1-0': 'n=5\n' });
  });

  it('rolls to a new part once a part reaches rollSizeBytes, even within one flush', async () => {
    const directory = freshDirectory();
    // Each line is 4 bytes: parts of 8 bytes hold two lines.
    const writer = await writerFor<string>(directory, 0, { rollSizeBytes: 8 });
    for (const value of ['aaa', 'bbb', 'ccc', 'ddd', 'eee']) writer.write(value, undefined);
    await writer.flush(false);
    expect(await contents(directory)).toEqual({
      'part-0-0': 'aaa\nbbb\n',
      'part-0-1': 'ccc\nddd\n',
      '.part-0-2.inprogress': 'eee\n',
    });
    writer.write('fff', undefined);
    await writer.flush(false);
    writer.write('ggg', undefined);
    await writer.flush(true);
    expect(await contents(directory)).toEqual({
      'part-0-0': 'aaa\nbbb\n',
      'part-0-1': 'ccc\nddd\n',
      'part-0-2': 'eee\nfff\n',
      'part-0-3': 'ggg\n',
    });
  });

  it('writes no file for a subtask that received nothing', async () => {
    const directory = freshDirectory();
    const writer = await writerFor<string>(directory);
    await writer.flush(true);
    await writer.close();
    expect(await contents(directory)).toEqual({});
  });

  it('leaves the part in progress when closed before end of input', async () => {
    const directory = freshDirectory();
    const writer = await writerFor<string>(directory);
    writer.write('x', undefined);
    await writer.flush(false);
    await writer.close();
    expect(await contents(directory)).toEqual({ '.part-0-0.inprogress': 'x\n' });
  });

  it('continues counters after existing parts instead of overwriting them', async () => {
    const directory = freshDirectory();
    for (const value of ['run 1', 'run 2']) {
      const writer = await writerFor<string>(directory);
      writer.write(value, undefined);
      await writer.flush(true);
      await writer.close();
    }
    expect(await contents(directory)).toEqual({ 'part-0-0': 'run 1\n', 'part-0-1': 'run 2\n' });
  });

  it('produces files a TextFileSource reads back, skipping in-progress parts', async () => {
    const directory = freshDirectory();
    const done = await writerFor<string>(directory, 0, { rollSizeBytes: 10 });
    for (let i = 0; i < 20; i++) done.write(`line ${i}`, undefined);
    await done.flush(true);
    const unfinished = await writerFor<string>(directory, 1);
    unfinished.write('not yet', undefined);
    await unfinished.flush(false);
    const [lines] = await readInParallel(new TextFileSource(directory), 1);
    expect([...lines].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i}`).sort());
  });

  it('names the directory when it cannot be created', async () => {
    const blocker = join(root, `blocker-${dirCounter++}`);
    await writeFile(blocker, 'a file, not a directory');
    await expect(writerFor(join(blocker, 'out'))).rejects.toThrow(
      `cannot create output directory ${join(blocker, 'out')}`,
    );
  });

  it('rejects invalid options', () => {
    expect(() => new FileSink('d', { rollSizeBytes: 0 })).toThrow(/rollSizeBytes/);
    expect(() => new FileSink('d', { suffix: '/x' })).toThrow(/suffix/);
  });
});
