/** The parallel built-in sources in running jobs: every record exactly once, whatever the parallelism. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CollectSink, StreamExecutionEnvironment } from '../../src/index.ts';
import { multiset, PARALLELISMS, TagSubtask, withTempDir } from './support.ts';
import { referenceLines, textArb } from './text.ts';

interface FromSubtask<T> {
  readonly value: T;
  readonly subtask: number;
}

describe('data generator source', () => {
  const generate = (i: number, random: { next(): number }) => ({ i, r: Math.floor(random.next() * 1e9) });

  it('generates each index once, with the same values at every parallelism', async () => {
    const results: Map<number, number>[] = [];
    for (const parallelism of [...PARALLELISMS, 3]) {
      const env = new StreamExecutionEnvironment({ parallelism });
      const sink = new CollectSink<FromSubtask<{ i: number; r: number }>>();
      env
        .fromGenerator({ count: 1_003, seed: 7, generate })
        .map(new TagSubtask((value: { i: number; r: number }, subtask) => ({ value, subtask })))
        .sinkTo(sink);
      await env.execute('generator');
      const indices = sink.values.map((v) => v.value.i).sort((a, b) => a - b);
      expect(indices, `p=${parallelism}`).toEqual(Array.from({ length: 1_003 }, (_, i) => i));
      // Bounded: one contiguous, near-equal range of indices per subtask.
      for (let subtask = 0; subtask < parallelism; subtask++) {
        const mine = sink.values.filter((v) => v.subtask === subtask).map((v) => v.value.i);
        expect(mine.length, `p=${parallelism}, subtask ${subtask}`).toBeGreaterThanOrEqual(
          Math.floor(1_003 / parallelism),
        );
        expect(Math.max(...mine) - Math.min(...mine) + 1, `subtask ${subtask} range is contiguous`).toBe(
          mine.length,
        );
      }
      results.push(new Map(sink.values.map((v) => [v.value.i, v.value.r])));
    }
    for (const result of results.slice(1)) expect(result).toEqual(results[0]);
  });

  it('is deterministic from its seed, and a different seed gives different values', async () => {
    const run = async (seed: number) => {
      const env = new StreamExecutionEnvironment({ parallelism: 2 });
      const sink = new CollectSink<{ i: number; r: number }>();
      env.fromGenerator({ count: 200, seed, generate }).sinkTo(sink);
      await env.execute('generator');
      return [...sink.values].sort((a, b) => a.i - b.i);
    };
    expect(await run(1)).toEqual(await run(1));
    expect(await run(1)).not.toEqual(await run(2));
  });

  it('with fewer records than subtasks, still emits each once', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 4 });
    const sink = new CollectSink<number>();
    env.fromGenerator({ count: 2, generate: (i) => i }).sinkTo(sink);
    await env.execute('tiny generator');
    expect(multiset(sink.values)).toEqual(multiset([0, 1]));
  });
});

describe('text file source', () => {
  it('reads every line exactly once at any parallelism and split size', async () => {
    await withTempDir(async (dir) => {
      await fc.assert(
        fc.asyncProperty(textArb, fc.integer({ min: 1, max: 64 }), async (text, splitSizeBytes) => {
          const path = join(dir, 'lines.txt');
          await writeFile(path, text);
          const expected = multiset(referenceLines(text));
          for (const parallelism of PARALLELISMS) {
            const env = new StreamExecutionEnvironment({ parallelism });
            const sink = new CollectSink<string>();
            env.readTextFile(path, { splitSizeBytes, readChunkBytes: 16 }).sinkTo(sink);
            await env.execute('lines');
            expect(multiset(sink.values), `p=${parallelism}, splitSizeBytes=${splitSizeBytes}`).toEqual(
              expected,
            );
          }
        }),
        { numRuns: 30 },
      );
    });
  });

  it('reads a directory’s visible files and a list of files, each line once', async () => {
    await withTempDir(async (dir) => {
      const data = join(dir, 'data');
      await mkdir(data);
      const files: Record<string, string> = {
        'a.txt': 'alpha\nbeta\n',
        'b.txt': 'gamma\r\ndelta',
        'c.txt': '',
        '.in-progress': 'hidden\n',
        _SUCCESS: 'marker\n',
      };
      for (const [name, content] of Object.entries(files)) await writeFile(join(data, name), content);
      const extra = join(dir, 'extra.txt');
      await writeFile(extra, 'épsilon\n\nζήτα\n');
      for (const parallelism of PARALLELISMS) {
        const env = new StreamExecutionEnvironment({ parallelism });
        const sink = new CollectSink<string>();
        env.readTextFile([data, extra], { splitSizeBytes: 3 }).sinkTo(sink);
        await env.execute('directory');
        expect(multiset(sink.values), `p=${parallelism}`).toEqual(
          multiset(['alpha', 'beta', 'gamma', 'delta', 'épsilon', '', 'ζήτα']),
        );
      }
    });
  });
});
