/** Tests of TextFileSource: every line read exactly once for any split size, parallelism and resume point. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TextFileSplit } from '../../../src/api/sources/text-file-source.ts';
import { TextFileSource } from '../../../src/api/sources/text-file-source.ts';
import { drainReader, readInParallel, readSplits, startReader } from './drain-reader.ts';

let directory: string;
let fileCounter = 0;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'weir-text-source-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function writeTemp(content: string | Buffer): Promise<string> {
  const path = join(directory, `input-${fileCounter++}.txt`);
  await writeFile(path, content);
  return path;
}

/** The lines a text file holds: split at '\n', a trailing '\r' dropped, no empty line after a final '\n'. */
function expectedLines(content: string): string[] {
  const segments = content.split('\n');
  const last = segments.pop()!;
  if (last !== '') segments.push(last);
  return segments.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

// Characters of 1 to 4 UTF-8 bytes, plus '\r' and '\n' so line endings land anywhere.
const textChar = fc.constantFrom('a', 'b', ' ', 'é', '€', '😀', '\r', '\n', '\n', '\r\n');
const fileContent = fc.array(textChar, { maxLength: 120 }).map((chars) => chars.join(''));

describe('TextFileSource', () => {
  it('reads a small file with LF, CRLF and multi-byte lines', async () => {
    const content = 'first\r\nsecond é€\n\nlast 😀';
    const path = await writeTemp(content);
    const [lines] = await readInParallel(new TextFileSource(path), 1);
    expect(lines).toEqual(['first', 'second é€', '', 'last 😀']);
  });

  it('emits no trailing empty line after a final newline, and nothing for an empty file', async () => {
    const [lines] = await readInParallel(new TextFileSource(await writeTemp('a\nb\n')), 1);
    expect(lines).toEqual(['a', 'b']);
    const [none] = await readInParallel(new TextFileSource(await writeTemp('')), 1);
    expect(none).toEqual([]);
    const [blank] = await readInParallel(new TextFileSource(await writeTemp('\n')), 1);
    expect(blank).toEqual(['']);
  });

  for (const splitSizeBytes of [1, 2, 7, 64, 1024]) {
    for (const parallelism of [1, 2, 3, 4, 5]) {
      it(`reads each line exactly once with ${parallelism} readers and ${splitSizeBytes}-byte splits`, async () => {
        const lines = Array.from(
          { length: 40 },
          (_, i) => `line ${i} ${'€'.repeat(i % 5)}${'x'.repeat(i % 9)}`,
        );
        const content =
          lines.join(parallelism % 2 === 0 ? '\r\n' : '\n') + (splitSizeBytes % 2 === 0 ? '\n' : '');
        const source = new TextFileSource(await writeTemp(content), { splitSizeBytes, readChunkBytes: 5 });
        const perReader = await readInParallel(source, parallelism);
        expect(perReader.flat()).toEqual(lines);
      });
    }
  }

  it('property: readers over random files and split sizes emit the file lines exactly once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fileContent,
        fc.integer({ min: 1, max: 5 }),
        fc.oneof(fc.constantFrom(1, 7), fc.integer({ min: 1, max: 200 })),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 4 }),
        async (content, parallelism, splitSizeBytes, readChunkBytes, maxRecords) => {
          const source = new TextFileSource(await writeTemp(content), { splitSizeBytes, readChunkBytes });
          const perReader = await readInParallel(source, parallelism, { maxRecords });
          expect(perReader.flat()).toEqual(expectedLines(content));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: each split alone emits exactly the lines that start inside it', async () => {
    await fc.assert(
      fc.asyncProperty(fileContent, fc.integer({ min: 1, max: 30 }), async (content, splitSizeBytes) => {
        const source = new TextFileSource(await writeTemp(content), { splitSizeBytes, readChunkBytes: 3 });
        const splits = await source.createSplits(1);
        const bytes = Buffer.from(content);
        for (const split of splits) {
          const lines = await readSplits(source, [split]);
          expect(lines).toEqual(linesStartingIn(bytes, split.startOffset, split.endOffset));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('property: a reader restored from snapshotSplits continues without loss or duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(
        fileContent,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 3 }),
        async (content, splitSizeBytes, readChunkBytes, pollCounts, maxRecords) => {
          const source = new TextFileSource(await writeTemp(content), { splitSizeBytes, readChunkBytes });
          let splits: TextFileSplit[] = [...(await source.createSplits(1))];
          const lines: string[] = [];
          // Stop after a few polls (possibly with a read in flight), snapshot, restore in a new reader.
          for (const pollsMax of pollCounts) {
            const reader = source.createReader();
            startReader(reader, splits);
            const emitted = await drainReader(reader, { pollsMax, maxRecords });
            lines.push(...emitted.map((e) => e.value));
            splits = reader.snapshotSplits(1);
            await reader.close();
          }
          lines.push(...(await readSplits(source, splits)));
          expect(lines).toEqual(expectedLines(content));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes a multi-byte character split across read chunks', async () => {
    const content = '😀😀😀\n€é€\n';
    for (let readChunkBytes = 1; readChunkBytes <= 8; readChunkBytes++) {
      const source = new TextFileSource(await writeTemp(content), { readChunkBytes });
      const [lines] = await readInParallel(source, 1);
      expect(lines).toEqual(['😀😀😀', '€é€']);
    }
  });

  it('keeps exact byte positions through malformed UTF-8, resuming after every line', async () => {
    const bytes = Buffer.from([0x61, 0xff, 0x0a, 0xc3, 0x0a, 0xe2, 0x82, 0x0a, 0x62, 0x0a, 0x80, 0x63, 0x0a]);
    const path = await writeTemp(bytes);
    const source = new TextFileSource(path, { splitSizeBytes: 6 });
    const expected = ['a\ufffd', '\ufffd', '\ufffd', 'b', '\ufffdc'];
    expect((await readInParallel(source, 1)).flat()).toEqual(expected);
    for (let polls = 1; polls <= 8; polls++) {
      const reader = source.createReader();
      startReader(reader, await source.createSplits(1));
      const head = (await drainReader(reader, { pollsMax: polls, maxRecords: 1 })).map((e) => e.value);
      const snapshot = reader.snapshotSplits(1);
      await reader.close();
      expect([...head, ...(await readSplits(source, snapshot))]).toEqual(expected);
    }
  });

  it('rejects a file listed twice', async () => {
    const path = await writeTemp('x\n');
    await expect(new TextFileSource([path, path]).createSplits(1)).rejects.toThrow(/listed more than once/);
  });

  it('keeps a line that starts exactly at a split start in that split', async () => {
    // 'ab\n' is 3 bytes, so with 3-byte splits every line starts exactly at a split start.
    const source = new TextFileSource(await writeTemp('ab\ncd\nef\n'), { splitSizeBytes: 3 });
    const splits = await source.createSplits(3);
    expect(splits.map((s) => [s.startOffset, s.endOffset])).toEqual([
      [0, 3],
      [3, 6],
      [6, 9],
    ]);
    const perSplit = await Promise.all(splits.map((split) => readSplits(source, [split])));
    expect(perSplit).toEqual([['ab'], ['cd'], ['ef']]);
  });

  it('reads a directory: regular files sorted by name, skipping hidden and underscore files', async () => {
    const dir = join(directory, `dir-${fileCounter++}`);
    await mkdir(join(dir, 'nested'), { recursive: true });
    await writeFile(join(dir, 'b.txt'), 'b1\nb2\n');
    await writeFile(join(dir, 'a.txt'), 'a1\n');
    await writeFile(join(dir, '.part-0-0.inprogress'), 'hidden\n');
    await writeFile(join(dir, '_SUCCESS'), 'marker\n');
    await writeFile(join(dir, 'nested', 'c.txt'), 'nested\n');
    const [lines] = await readInParallel(new TextFileSource(dir), 1);
    expect(lines).toEqual(['a1', 'b1', 'b2']);
  });

  it('reads a list of files in the given order', async () => {
    const first = await writeTemp('1\n2\n');
    const second = await writeTemp('3\n');
    const [lines] = await readInParallel(new TextFileSource([second, first], { splitSizeBytes: 1 }), 1);
    expect(lines).toEqual(['3', '1', '2']);
  });

  it('fails at createSplits when a file does not exist, naming the path', async () => {
    const missing = join(directory, 'no-such-file.txt');
    await expect(new TextFileSource(missing).createSplits(1)).rejects.toThrow(
      `input file does not exist: ${missing}`,
    );
  });

  it('fails the reader when the file disappears after splitting, naming the path', async () => {
    const path = await writeTemp('a\nb\n');
    const source = new TextFileSource(path);
    const splits = await source.createSplits(1);
    await rm(path);
    const reader = source.createReader();
    startReader(reader, splits);
    await expect(drainReader(reader)).rejects.toThrow(`input file does not exist: ${path}`);
    await reader.close();
  });

  it('fails on a line longer than lineBytesMax instead of buffering it', async () => {
    const source = new TextFileSource(await writeTemp(`short\n${'x'.repeat(100)}\n`), {
      lineBytesMax: 50,
      readChunkBytes: 16,
    });
    const reader = source.createReader();
    startReader(reader, await source.createSplits(1));
    await expect(drainReader(reader)).rejects.toThrow(/longer than lineBytesMax \(50 bytes\)/);
    await reader.close();
  });

  it('rejects invalid options', () => {
    expect(() => new TextFileSource('x', { splitSizeBytes: 0 })).toThrow(/splitSizeBytes/);
    expect(() => new TextFileSource([])).toThrow(/at least one path/);
  });
});

/** Reference ownership rule: the lines of `bytes` whose first byte lies in [start, end). */
function linesStartingIn(bytes: Buffer, start: number, end: number): string[] {
  const lines: string[] = [];
  let lineStart = 0;
  while (lineStart < bytes.length) {
    let newline = bytes.indexOf(0x0a, lineStart);
    if (newline === -1) newline = bytes.length;
    if (lineStart >= start && lineStart < end) {
      lines.push(expectedLines(bytes.toString('utf8', lineStart, Math.min(newline + 1, bytes.length)))[0]);
    }
    lineStart = newline + 1;
  }
  return lines;
}
