/**
 * Word count: reads a text file, splits it into words (maximal runs of Unicode letters and
 * digits, lower-cased), and when the input ends writes `word<TAB>count` lines into part
 * files under the output directory.
 *
 *   weir run examples/wordcount.ts -- --input FILE --output DIR
 */
import { parseArgs } from 'node:util';
import {
  type Collector,
  FileSink,
  type KeyedContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  type StreamExecutionEnvironment,
  type ValueState,
  valueState,
} from 'weir';

const WORD = /[\p{L}\p{N}]+/gu;

/** Counts per word in keyed state; emits the final count once the input has ended. */
class CountUntilEnd implements KeyedProcessFunction<string, string, [string, number]> {
  #count!: ValueState<number>;

  open(context: RuntimeContext): void {
    this.#count = context.getState(valueState<number>('count'));
  }

  processElement(_word: string, ctx: KeyedContext<string>): void {
    const count = this.#count.value() ?? 0;
    if (count === 0) {
      // End of input brings the final watermark (+∞), which fires this timer exactly once.
      ctx.timerService().registerEventTimeTimer(Number.MAX_VALUE);
    }
    this.#count.update(count + 1);
  }

  onTimer(_ts: number, ctx: OnTimerContext<string>, out: Collector<[string, number]>): void {
    out.collect([ctx.getCurrentKey(), this.#count.value() ?? 0]);
  }
}

export default function wordCount(env: StreamExecutionEnvironment, args: string[]): void {
  const { values } = parseArgs({ args, options: { input: { type: 'string' }, output: { type: 'string' } } });
  if (values.input === undefined || values.output === undefined) {
    throw new Error('usage: weir run examples/wordcount.ts -- --input FILE --output DIR');
  }
  env
    .readTextFile(values.input)
    .flatMap((line: string, out: Collector<string>) => {
      for (const match of line.matchAll(WORD)) out.collect(match[0].toLowerCase());
    })
    .name('Tokenize')
    .keyBy((word) => word)
    .process(() => new CountUntilEnd())
    .name('Count')
    .uid('word-count')
    .sinkTo(
      new FileSink<[string, number]>(values.output, { format: ([word, count]) => `${word}\t${count}` }),
      'Sink: Files',
    );
}
