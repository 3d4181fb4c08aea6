/** User functions in running jobs: side outputs, and the rich-function lifecycle (open, records, close) per subtask. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Collector,
  CollectSink,
  type KeyedProcessFunction,
  type MapFunctionObject,
  OutputTag,
  type ProcessFunction,
  type RuntimeContext,
  StreamExecutionEnvironment,
} from '../../src/index.ts';
import { multiset, PARALLELISMS } from './support.ts';

describe('side outputs', () => {
  const negatives = new OutputTag<number>('negatives');
  const odds = new OutputTag<string>('odds');

  it('a ProcessFunction routes each record to main or one of two typed side outputs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }),
        async (numbers) => {
          for (const parallelism of PARALLELISMS) {
            const env = new StreamExecutionEnvironment({ parallelism });
            const main = new CollectSink<number>();
            const negativeSink = new CollectSink<number>();
            const oddSink = new CollectSink<string>();
            const router: ProcessFunction<number, number> = {
              processElement(n, ctx, out) {
                if (n < 0) ctx.output(negatives, n);
                else if (n % 2 === 1) ctx.output(odds, `odd ${n}`);
                else out.collect(n / 2);
              },
            };
            const routed = env.fromCollection(numbers).rebalance().process(router);
            routed.sinkTo(main);
            routed
              .getSideOutput(negatives)
              .map((n) => -n)
              .sinkTo(negativeSink);
            routed.getSideOutput(odds).sinkTo(oddSink);
            await env.execute('side outputs');
            const context = `p=${parallelism}`;
            expect(multiset(main.values), context).toEqual(
              multiset(numbers.filter((n) => n >= 0 && n % 2 === 0).map((n) => n / 2)),
            );
            expect(multiset(negativeSink.values), context).toEqual(
              multiset(numbers.filter((n) => n < 0).map((n) => -n)),
            );
            expect(multiset(oddSink.values), context).toEqual(
              multiset(numbers.filter((n) => n >= 0 && n % 2 === 1).map((n) => `odd ${n}`)),
            );
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it.each(PARALLELISMS)(
    'a KeyedProcessFunction emits to a side output from processElement and onTimer (p=%i)',
    async (parallelism) => {
      const firsts = new OutputTag<string>('first-of-key');
      const env = new StreamExecutionEnvironment({ parallelism });
      const main = new CollectSink<string>();
      const side = new CollectSink<string>();
      const fn: KeyedProcessFunction<number, number, string> = {
        processElement(n, ctx, out) {
          ctx.timerService().registerEventTimeTimer(1_000);
          out.collect(`value ${n}`);
        },
        onTimer(ts, ctx) {
          ctx.output(firsts, `key ${ctx.getCurrentKey()} done at ${ts}`);
        },
      };
      const values = Array.from({ length: 300 }, (_, i) => i);
      const processed = env
        .fromCollection(values)
        .keyBy((n) => n % 10)
        .process(fn);
      processed.sinkTo(main);
      processed.getSideOutput(firsts).sinkTo(side);
      await env.execute('keyed side outputs');
      expect(multiset(main.values)).toEqual(multiset(values.map((n) => `value ${n}`)));
      expect(multiset(side.values)).toEqual(
        multiset(Array.from({ length: 10 }, (_, k) => `key ${k} done at 1000`)),
      );
    },
  );

  it('a side output nobody reads is dropped without affecting the main output', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    const main = new CollectSink<number>();
    env
      .fromCollection([1, 2, 3, 4])
      .process<number>({
        processElement(n, ctx, out) {
          ctx.output(negatives, -n);
          out.collect(n);
        },
      })
      .sinkTo(main);
    await env.execute('unread side output');
    expect(multiset(main.values)).toEqual(multiset([1, 2, 3, 4]));
  });
});

type LogEntry = { subtask: number; event: 'open' | 'record' | 'close'; detail?: string };

/** Logs its lifecycle into a shared array; its per-subtask fields prove each subtask has its own copy. */
class LifecycleMap implements MapFunctionObject<number, number> {
  readonly log: LogEntry[];
  subtask = -1;
  seen = 0;
  ready = false;

  constructor(log: LogEntry[]) {
    this.log = log;
  }

  async open(context: RuntimeContext): Promise<void> {
    this.subtask = context.subtaskIndex;
    this.log.push({
      subtask: context.subtaskIndex,
      event: 'open',
      detail: `${context.operatorName} ${context.subtaskIndex}/${context.parallelism} max ${context.maxParallelism} cfg ${String(context.jobConfiguration.greeting)}`,
    });
    // An asynchronous open (connecting, loading a model) must finish before the first record.
    await new Promise((resolve) => setTimeout(resolve, 2));
    this.ready = true;
  }

  map(n: number): number {
    if (!this.ready) throw new Error('record before open() finished');
    this.seen++;
    this.log.push({ subtask: this.subtask, event: 'record' });
    return n;
  }

  close(): void {
    this.log.push({ subtask: this.subtask, event: 'close', detail: String(this.seen) });
  }
}

describe('rich function lifecycle', () => {
  it.each(PARALLELISMS)(
    'open once per subtask before its records, close once after them (p=%i)',
    async (parallelism) => {
      const log: LogEntry[] = [];
      const env = new StreamExecutionEnvironment({ parallelism, configuration: { greeting: 'hi' } });
      const sink = new CollectSink<number>();
      const values = Array.from({ length: 1_000 }, (_, i) => i);
      env.fromCollection(values).rebalance().map(new LifecycleMap(log)).name('Lifecycle').sinkTo(sink);
      await env.execute('lifecycle');

      expect(multiset(sink.values)).toEqual(multiset(values));
      let total = 0;
      for (let subtask = 0; subtask < parallelism; subtask++) {
        const mine = log.filter((e) => e.subtask === subtask);
        const events = mine.map((e) => e.event);
        expect(events[0], `subtask ${subtask}`).toBe('open');
        expect(events.at(-1), `subtask ${subtask}`).toBe('close');
        expect(events.filter((e) => e === 'open').length).toBe(1);
        expect(events.filter((e) => e === 'close').length).toBe(1);
        expect(mine[0].detail).toBe(`Lifecycle ${subtask}/${parallelism} max 128 cfg hi`);
        const records = events.filter((e) => e === 'record').length;
        expect(mine.at(-1)!.detail, 'the per-subtask counter saw only this subtask’s records').toBe(
          String(records),
        );
        total += records;
      }
      expect(total).toBe(values.length);
      expect(log.every((e) => e.subtask >= 0 && e.subtask < parallelism)).toBe(true);
    },
  );

  it.each(PARALLELISMS)('close runs on every subtask after a failure too (p=%i)', async (parallelism) => {
    const log: LogEntry[] = [];
    const env = new StreamExecutionEnvironment({ parallelism });
    env
      .fromCollection(Array.from({ length: 100 }, (_, i) => i))
      .rebalance()
      .map(new LifecycleMap(log))
      .map((n) => {
        if (n === 50) throw new Error('record 50 is bad');
        return n;
      })
      .sinkTo(new CollectSink<number>());
    await expect(env.execute('failing')).rejects.toThrow(/record 50 is bad/);
    const opened = log.filter((e) => e.event === 'open').map((e) => e.subtask);
    const closed = log.filter((e) => e.event === 'close').map((e) => e.subtask);
    expect(closed.sort()).toEqual(opened.sort());
  });

  it.each(PARALLELISMS)(
    'a factory gives each subtask its own instance, so #private fields work (p=%i)',
    async (parallelism) => {
      const counts: [number, number][] = [];
      class Counter implements ProcessFunction<number, number> {
        #count = 0;
        #subtask = -1;
        open(context: RuntimeContext): void {
          this.#subtask = context.subtaskIndex;
        }
        processElement(n: number, _ctx: unknown, out: Collector<number>): void {
          this.#count++;
          out.collect(n);
        }
        close(): void {
          counts.push([this.#subtask, this.#count]);
        }
      }
      const env = new StreamExecutionEnvironment({ parallelism });
      const sink = new CollectSink<number>();
      env
        .fromCollection(Array.from({ length: 100 }, (_, i) => i))
        .rebalance()
        .process(() => new Counter())
        .sinkTo(sink);
      await env.execute('factory');
      expect(counts.map(([subtask]) => subtask).sort()).toEqual(
        Array.from({ length: parallelism }, (_, i) => i),
      );
      for (const [subtask, count] of counts)
        expect(count, `subtask ${subtask}`).toBe(sink.valuesOf(subtask).length);
      expect(sink.values.length).toBe(100);
    },
  );
});
