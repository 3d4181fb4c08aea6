/** Word count at parallelism 1, 2 and 4, in process and through `weir run examples/wordcount.ts`, against a plain-JS count. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Collector,
  CollectSink,
  type KeyedContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  StreamExecutionEnvironment,
  type ValueState,
  valueState,
} from '../../src/index.ts';
import { groupInOrder, PARALLELISMS, seeded, sortedEntries, testSeed, withTempDir } from './support.ts';
import { randomText, referenceCounts, referenceWords, textArb } from './text.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORD = /[\p{L}\p{N}]+/gu;

const tokenize = (line: string, out: Collector<string>): void => {
  for (const match of line.matchAll(WORD)) out.collect(match[0].toLowerCase());
};

/** Counts per word and emits the final count when end of input brings the last watermark. */
class CountUntilEnd implements KeyedProcessFunction<string, string, [string, number]> {
  count!: ValueState<number>;
  open(context: RuntimeContext): void {
    this.count = context.getState(valueState<number>('count', { defaultValue: 0 }));
  }
  processElement(_word: string, ctx: KeyedContext<string>): void {
    if (this.count.value() === 0) ctx.timerService().registerEventTimeTimer(Number.MAX_VALUE);
    this.count.update((this.count.value() ?? 0) + 1);
  }
  onTimer(_ts: number, ctx: OnTimerContext<string>, out: Collector<[string, number]>): void {
    out.collect([ctx.getCurrentKey(), this.count.value() ?? 0]);
  }
}

describe('word count in process', () => {
  it('final counts from a text file split into small byte ranges match the reference', async () => {
    await withTempDir(async (dir) => {
      await fc.assert(
        fc.asyncProperty(textArb, fc.integer({ min: 1, max: 40 }), async (text, splitSizeBytes) => {
          const input = join(dir, 'input.txt');
          await writeFile(input, text);
          const expected = sortedEntries(referenceCounts(text));
          for (const parallelism of PARALLELISMS) {
            const env = new StreamExecutionEnvironment({ parallelism });
            const sink = new CollectSink<[string, number]>();
            env
              .readTextFile(input, { splitSizeBytes })
              .flatMap(tokenize)
              .keyBy((word) => word)
              .process(() => new CountUntilEnd())
              .sinkTo(sink);
            await env.execute('word count');
            const counts = new Map(sink.values);
            expect(counts.size, `every word is emitted once (p=${parallelism})`).toBe(sink.values.length);
            expect(sortedEntries(counts), `p=${parallelism}, splitSizeBytes=${splitSizeBytes}`).toEqual(
              expected,
            );
          }
        }),
        { numRuns: 25 },
      );
    });
  });

  it('running counts per word from a collection are 1, 2, …, n in order', async () => {
    await fc.assert(
      fc.asyncProperty(textArb, async (text) => {
        const lines = text.split('\n');
        const expected = sortedEntries(
          new Map(
            [...referenceCounts(text)].map(([w, n]) => [w, Array.from({ length: n }, (_, i) => i + 1)]),
          ),
        );
        for (const parallelism of PARALLELISMS) {
          const env = new StreamExecutionEnvironment({ parallelism });
          const sink = new CollectSink<[string, number]>();
          env
            .fromCollection(lines)
            .flatMap(tokenize)
            .map((word): [string, number] => [word, 1])
            .keyBy(([word]) => word)
            .sum('1')
            .sinkTo(sink);
          await env.execute('running word count');
          const running = groupInOrder(sink.values, ([word]) => word);
          const actual = sortedEntries(
            new Map([...running].map(([w, pairs]) => [w, pairs.map(([, n]) => n)])),
          );
          expect(actual, `p=${parallelism}`).toEqual(expected);
        }
      }),
      { numRuns: 25 },
    );
  });
});

/** Runs the CLI; resolves with the exit code and output instead of rejecting on failure. */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'bin/weir.js'), ...args],
      { cwd: REPO_ROOT },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('weir run examples/wordcount.ts', () => {
  beforeAll(() => {
    if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) {
      throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (npm test builds first)');
    }
  });

  it.each(PARALLELISMS)(
    'writes the reference counts as word<TAB>count lines at -p %i',
    async (parallelism) => {
      const seed = testSeed();
      const text = randomText(seeded(seed), 3_000);
      await withTempDir(async (dir) => {
        const input = join(dir, 'input.txt');
        const output = join(dir, 'out');
        await writeFile(input, text);
        const result = await runCli([
          'run',
          'examples/wordcount.ts',
          '-p',
          String(parallelism),
          '--',
          '--input',
          input,
          '--output',
          output,
        ]);
        expect(result.code, `seed ${seed}; stderr: ${result.stderr}`).toBe(0);
        const names = await readdir(output);
        expect(
          names.filter((name) => name.startsWith('.')),
          'no hidden in-progress file remains',
        ).toEqual([]);
        const lines: string[] = [];
        for (const name of names) {
          const content = await readFile(join(output, name), 'utf8');
          lines.push(...content.split('\n').filter((line) => line !== ''));
        }
        const expected = [...referenceCounts(text)].map(([word, count]) => `${word}\t${count}`);
        expect(lines.sort(), `seed ${seed}`).toEqual(expected.sort());
        expect(referenceWords(text).length, `seed ${seed}: the text has words`).toBeGreaterThan(100);
      });
    },
  );
});
