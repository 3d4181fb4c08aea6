/** Bad input to a job, in process: each a clear error that names the operator (or option) and what to fix. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CollectSink,
  ConfigurationError,
  JobDefinitionError,
  JobExecutionError,
  type KeyedContext,
  type MapFunctionObject,
  type RuntimeContext,
  StreamExecutionEnvironment,
  TaskFailure,
  TumblingEventTimeWindows,
  UnhashableKeyError,
  valueState,
  WatermarkStrategy,
} from '../../src/index.ts';
import { withTempDir } from './support.ts';

/** The error and its causes, outermost first. */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && chain.length < 10; ) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

/** Runs the job and returns the error it failed with (the test fails if it succeeds). */
async function failureOf(env: StreamExecutionEnvironment): Promise<Error> {
  const outcome = await env.execute('bad job').then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, 'the job must fail').toBeInstanceOf(Error);
  return outcome as Error;
}

/** A keyed job at parallelism 2 whose key selector is `keyOf`; the keyed operator is named 'Enrich'. */
function keyedJob(keyOf: (n: number) => unknown): StreamExecutionEnvironment {
  const env = new StreamExecutionEnvironment({ parallelism: 2 });
  env
    .fromElements(1, 2, 3)
    .keyBy(keyOf)
    .map((n) => n + 1)
    .name('Enrich')
    .sinkTo(new CollectSink<number>());
  return env;
}

class Point {
  readonly x: number;
  constructor(x: number) {
    this.x = x;
  }
}

describe('key selectors', () => {
  it('returning undefined: names the keyBy, where it ran, and that every record needs a key', async () => {
    const error = await failureOf(keyedJob(() => undefined));
    expect(error).toBeInstanceOf(JobExecutionError);
    expect(error.message).toMatch(
      /keyBy\(\) into 'Enrich': the key selector returned undefined; every record needs a key \(operator 'Source: Collection', subtask 1\/1\)/,
    );
    expect(causeChain(error).some((e) => e instanceof TaskFailure)).toBe(true);
  });

  it.each([
    [
      'a function',
      () => () => 1,
      /key is a function; keys must be strings, numbers, bigints, booleans, arrays or plain objects of those/,
    ],
    [
      'a class instance',
      (n: number) => new Point(n),
      /key is a Point instance; keys must be strings, numbers/,
    ],
    ['NaN', () => Number.NaN, /key is NaN, which is not a usable key/],
    ['null', () => null, /key is null, which is not a usable key/],
    [
      'a Date inside a plain object',
      (n: number) => ({ at: [n, new Date(0)] }),
      /key\.at\[1\] is a Date instance/,
    ],
  ] as const)(
    'returning %s: names the keyBy and the offending part of the key',
    async (_what, keyOf, pattern) => {
      const error = await failureOf(keyedJob(keyOf));
      expect(error.message).toMatch(/keyBy\(\) into 'Enrich': /);
      expect(error.message).toMatch(pattern);
      expect(causeChain(error).some((e) => e instanceof UnhashableKeyError)).toBe(true);
    },
  );

  it('that throws: names the keyBy and keeps the user’s error with its stack as a cause', async () => {
    const error = await failureOf(
      keyedJob(() => {
        throw new RangeError('no key for you');
      }),
    );
    expect(error.message).toMatch(
      /keyBy\(\) into 'Enrich': no key for you \(operator 'Source: Collection', subtask 1\/1\)/,
    );
    const userError = causeChain(error).find((e) => e instanceof RangeError) as RangeError;
    expect(userError.stack).toContain('errors.test.ts');
  });
});

describe('user functions that throw', () => {
  it('name the operator and the subtask k/p, with the user’s error (and stack) as the cause', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    // Only the third subtask fails, so the subtask in the message is known.
    const exploder: MapFunctionObject<number, number> & { subtask: number } = {
      subtask: -1,
      open(context: RuntimeContext) {
        this.subtask = context.subtaskIndex;
      },
      map(n: number) {
        if (this.subtask === 2) throw new Error(`cannot handle ${n}`);
        return n;
      },
    };
    env
      .fromCollection(Array.from({ length: 30 }, (_, i) => i))
      .rebalance()
      .map(exploder)
      .name('Exploder')
      .sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(/cannot handle \d+ \(operator 'Exploder', subtask 3\/3\)/);
    const failure = causeChain(error).find((e) => e instanceof TaskFailure) as TaskFailure;
    expect(failure.location).toEqual({ operatorName: 'Exploder', subtaskIndex: 2, parallelism: 3 });
    const userError = causeChain(error).at(-1) as Error;
    expect(userError.message).toMatch(/^cannot handle \d+$/);
    expect(userError.stack).toContain('errors.test.ts');
  });

  it.each([
    [
      'open()',
      (env: StreamExecutionEnvironment) =>
        env
          .fromElements(1)
          .map({
            open() {
              throw new Error('cannot connect to the database');
            },
            map: (n: number) => n,
          })
          .name('Lookup'),
      /cannot connect to the database \(operator 'Lookup', subtask 1\/1\)/,
    ],
    [
      'a keyed onTimer',
      (env: StreamExecutionEnvironment) =>
        env
          .fromElements(1, 2)
          .keyBy((n) => n)
          .process({
            processElement(_n: number, ctx: KeyedContext<number>) {
              ctx.timerService().registerEventTimeTimer(10);
            },
            onTimer() {
              throw new Error('timer went off badly');
            },
          })
          .name('Timeouts'),
      /timer went off badly \(operator 'Timeouts', subtask 1\/1\)/,
    ],
    [
      'a window function',
      (env: StreamExecutionEnvironment) =>
        env
          .fromElements(1, 2)
          .keyBy(() => 'k')
          .countWindow(2)
          .process<number>(() => {
            throw new Error('window function failed');
          })
          .name('Pairs'),
      /window function failed \(operator 'Pairs', subtask 1\/1\)/,
    ],
    [
      'a sink writer',
      (env: StreamExecutionEnvironment) =>
        env.fromElements(1).sinkTo(
          {
            createWriter: () => ({
              write() {
                throw new Error('disk full');
              },
              flush() {},
              close() {},
            }),
          },
          'Sink: Archive',
        ),
      /disk full \(operator 'Sink: Archive', subtask 1\/1\)/,
    ],
    [
      'a thrown string',
      (env: StreamExecutionEnvironment) =>
        env
          .fromElements(1)
          .map((): number => {
            throw 'plain string';
          })
          .name('Stringly'),
      /plain string \(operator 'Stringly', subtask 1\/1\)/,
    ],
  ] as const)('%s: names the operator', async (_where, build, pattern) => {
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    const stream = build(env);
    if ('sinkTo' in stream) stream.sinkTo(new CollectSink<unknown>());
    const error = await failureOf(env);
    expect(error.message).toMatch(pattern);
  });

  it('a timestamp assigner returning a non-number names the operator and the value', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env
      .fromElements({ at: '2026-01-01' })
      .assignTimestampsAndWatermarks(
        WatermarkStrategy.forMonotonousTimestamps<{ at: string }>().withTimestampAssigner(
          (e) => e.at as never,
        ),
      )
      .name('Timestamps')
      .sinkTo(new CollectSink<{ at: string }>());
    const error = await failureOf(env);
    expect(error.message).toMatch(
      /the timestamp assigner returned 2026-01-01; it must return a number \(milliseconds\) \(operator 'Timestamps', subtask 1\/1\)/,
    );
  });
});

describe('functions used where they cannot work', () => {
  it('keyed state without keyBy names the operator and says to call keyBy', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    env
      .fromElements(1, 2)
      .process<number>({
        open(context) {
          context.getState(valueState<number>('count'));
        },
        processElement() {},
      })
      .name('Counter')
      .sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(
      /keyed state is only available on a keyed stream \(call keyBy first\).*'Counter'/,
    );
  });

  it('timers without keyBy name the operator and say to call keyBy', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env
      .fromElements(1)
      .process<number>({
        processElement(_n, ctx) {
          (
            ctx.timerService() as unknown as { registerEventTimeTimer(t: number): void }
          ).registerEventTimeTimer(5);
        },
      })
      .name('Scheduler')
      .sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(
      /timers are only available on a keyed stream \(call keyBy first\).*'Scheduler'/,
    );
  });

  it('a function object with #private fields, given as an instance, gets the hint to pass a factory', async () => {
    class Numberer implements MapFunctionObject<number, number> {
      #next = 0;
      map(n: number): number {
        return n + this.#next++;
      }
    }
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    env.fromElements(1, 2).map(new Numberer()).name('Numberer').sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(/pass a factory instead.*\(operator 'Numberer', subtask \d\/2\)/);
  });
});

describe('input files', () => {
  it('a missing input file is named in the error', async () => {
    await withTempDir(async (dir) => {
      const missing = join(dir, 'no-such-file.txt');
      const env = new StreamExecutionEnvironment({ parallelism: 2 });
      env.readTextFile(missing).sinkTo(new CollectSink<string>());
      const error = await failureOf(env);
      expect(error.message).toContain(`input file does not exist: ${missing}`);
      expect(error.message).toContain("'Source: Text File'");
    });
  });

  it('a path through a regular file (not a directory) is named with the reason', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'plain.txt');
      await writeFile(file, 'x\n');
      const env = new StreamExecutionEnvironment({ parallelism: 1 });
      env.readTextFile(join(file, 'inside.txt')).sinkTo(new CollectSink<string>());
      const error = await failureOf(env);
      expect(error.message).toContain(`cannot read input file ${join(file, 'inside.txt')}: ENOTDIR`);
    });
  });

  // Root reads files whatever their mode, so this case only exists for other users.
  it.skipIf(process.getuid?.() === 0)(
    'an unreadable input file is named with the reason (skipped as root: root can read a chmod 000 file)',
    async () => {
      await withTempDir(async (dir) => {
        const secret = join(dir, 'secret.txt');
        await writeFile(secret, 'x\n');
        await chmod(secret, 0o000);
        const env = new StreamExecutionEnvironment({ parallelism: 1 });
        env.readTextFile(secret).sinkTo(new CollectSink<string>());
        const error = await failureOf(env);
        expect(error.message).toContain(`cannot read input file ${secret}: EACCES`);
      });
    },
  );

  it('an unreadable file inside an input directory is named', async () => {
    await withTempDir(async (dir) => {
      const data = join(dir, 'data');
      await mkdir(data);
      await writeFile(join(data, 'a.txt'), 'a\n');
      const env = new StreamExecutionEnvironment({ parallelism: 1 });
      env.readTextFile([data, join(data, 'b.txt')]).sinkTo(new CollectSink<string>());
      const error = await failureOf(env);
      expect(error.message).toContain(`input file does not exist: ${join(data, 'b.txt')}`);
    });
  });
});

describe('invalid configuration', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 'x'])('environment parallelism %s', (value) => {
    expect(() => new StreamExecutionEnvironment({ parallelism: value as number })).toThrow(
      new RegExp(`parallelism must be a positive integer, got ${String(value)}`),
    );
    expect(() => new StreamExecutionEnvironment().setParallelism(value as number)).toThrow(
      JobDefinitionError,
    );
  });

  it.each([0, -1, 1.5, 'x'])('operator parallelism %s names the operator', (value) => {
    const env = new StreamExecutionEnvironment();
    const mapped = env
      .fromElements(1)
      .map((n) => n)
      .name('Scale');
    expect(() => mapped.setParallelism(value as number)).toThrow(
      new RegExp(`parallelism of 'Scale' must be a positive integer, got ${String(value)}`),
    );
  });

  it.each([0, -1, 1.5, 32_769, 'x'])('maxParallelism %s states the accepted range', (value) => {
    expect(() => new StreamExecutionEnvironment({ maxParallelism: value as number })).toThrow(
      ConfigurationError,
    );
    expect(() => new StreamExecutionEnvironment({ maxParallelism: value as number })).toThrow(
      /maxParallelism must be an integer from 1 to 32768/,
    );
  });

  it('parallelism above maxParallelism names the operator and both fixes', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2, maxParallelism: 4 });
    env
      .fromElements(1)
      .keyBy((n) => n)
      .map((n) => n)
      .name('Wide')
      .setParallelism(8)
      .sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(
      /operator 'Wide' has parallelism 8, above the max parallelism 4 .*raise maxParallelism or lower the parallelism/,
    );
  });

  it('a non-parallel source asked to run in parallel names the source and its limit', async () => {
    const env = new StreamExecutionEnvironment();
    env.fromElements(1).setParallelism(3).sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(
      /operator 'Source: Collection' cannot run with parallelism 3: it supports at most 1/,
    );
  });

  it('duplicate uids name both operators', async () => {
    const env = new StreamExecutionEnvironment();
    const s = env
      .fromElements(1)
      .map((n) => n)
      .name('First')
      .uid('stage');
    s.map((n) => n)
      .name('Second')
      .uid('stage')
      .sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(/uid 'stage' is used by both 'First' and 'Second'; uids must be unique/);
  });

  it('an empty uid is refused', () => {
    const env = new StreamExecutionEnvironment();
    expect(() =>
      env
        .fromElements(1)
        .map((n) => n)
        .uid(''),
    ).toThrow(/uid must be a non-empty string/);
  });

  it('forward() between different parallelisms names both operators and the fix', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    env
      .fromElements(1)
      .forward()
      .map((n) => n)
      .name('Doubler')
      .sinkTo(new CollectSink<number>());
    const error = await failureOf(env);
    expect(error.message).toMatch(
      /forward\(\) from 'Source: Collection' \(parallelism 1\) to 'Doubler' \(parallelism 2\) needs equal parallelism; use rebalance\(\) or rescale\(\)/,
    );
  });

  it('a job without operators says to add a source and a sink', async () => {
    const error = await failureOf(new StreamExecutionEnvironment());
    expect(error.message).toMatch(/the job defines no operators: add a source and a sink/);
  });

  it.each([
    [
      'autoWatermarkIntervalMs -1',
      () => new StreamExecutionEnvironment({ autoWatermarkIntervalMs: -1 }),
      /autoWatermarkIntervalMs must be a finite number >= 0, got -1/,
    ],
    [
      'out-of-orderness -5',
      () => WatermarkStrategy.forBoundedOutOfOrderness(-5),
      /maxOutOfOrdernessMs must be a finite number >= 0, got -5/,
    ],
    [
      'idleness 0',
      () => WatermarkStrategy.forMonotonousTimestamps().withIdleness(0),
      /idleTimeoutMs must be a finite number > 0, got 0/,
    ],
    [
      'window size 0',
      () => TumblingEventTimeWindows.of(0),
      /TumblingEventTimeWindows size must be a positive integer number of milliseconds, got 0/,
    ],
    [
      'generator count -1',
      () => new StreamExecutionEnvironment().fromGenerator({ count: -1, generate: (i) => i }),
      /count must be a non-negative integer, got -1/,
    ],
    [
      'split size 0',
      () => new StreamExecutionEnvironment().readTextFile('x.txt', { splitSizeBytes: 0 }),
      /splitSizeBytes must be a positive integer, got 0/,
    ],
    [
      'state backend "rocks"',
      () => new StreamExecutionEnvironment({ stateBackend: 'rocks' as never }),
      /unknown state backend "rocks"; use 'hashmap'/,
    ],
  ] as const)('%s', (_what, make, pattern) => {
    expect(make).toThrow(pattern);
  });

  it('negative allowed lateness is refused when the window function is set', () => {
    const keyed = new StreamExecutionEnvironment().fromElements(1).keyBy((n) => n);
    const windowed = keyed.window(TumblingEventTimeWindows.of(10)).allowedLateness(-1);
    expect(() => windowed.reduce((a, b) => a + b)).toThrow(/allowedLateness must be .*got -1/);
  });
});
