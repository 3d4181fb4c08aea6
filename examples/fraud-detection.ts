/**
 * Fraud detection, after Flink's walkthrough: flag an account when a small transaction
 * (under 1.00) is followed by a large one (over 500.00) within one minute. Per-account
 * state (a flag) and an event-time timer that clears the flag after the minute.
 *
 * Runs on built-in, deterministic generated transactions; prints every alert and a summary.
 *
 *   weir run examples/fraud-detection.ts [-- --transactions N --accounts N]
 */
import { parseArgs } from 'node:util';
import {
  type Collector,
  type KeyedContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RandomSource,
  type RuntimeContext,
  type StreamExecutionEnvironment,
  type ValueState,
  valueState,
  WatermarkStrategy,
} from 'weir';

export interface Transaction {
  readonly accountId: number;
  readonly amount: number;
  readonly timestampMs: number;
}

export interface Alert {
  readonly accountId: number;
  readonly smallAmount: number;
  readonly largeAmount: number;
  readonly timestampMs: number;
}

const SMALL_AMOUNT = 1.0;
const LARGE_AMOUNT = 500.0;
const ONE_MINUTE_MS = 60_000;

/** One transaction every 100 ms of event time; mostly ordinary amounts, a few tiny and a few huge. */
export function generateTransaction(index: number, random: RandomSource, accounts: number): Transaction {
  const roll = random.next();
  const amount =
    roll < 0.02
      ? Math.round(random.next() * 99) / 100
      : roll > 0.985
        ? 500 + Math.round(random.next() * 100_000) / 100
        : 1 + Math.round(random.next() * 20_000) / 100;
  return { accountId: 1 + random.nextInt(accounts), amount, timestampMs: index * 100 };
}

/** Keeps, per account, the small transaction that may precede a large one, for one minute. */
export class FraudDetector implements KeyedProcessFunction<number, Transaction, Alert> {
  #smallAmount!: ValueState<number>;
  #timer!: ValueState<number>;

  open(context: RuntimeContext): void {
    this.#smallAmount = context.getState(valueState<number>('small-amount'));
    this.#timer = context.getState(valueState<number>('timer'));
  }

  processElement(tx: Transaction, ctx: KeyedContext<number>, out: Collector<Alert>): void {
    const small = this.#smallAmount.value();
    // The minute is measured in event time, so the result does not depend on when the
    // cleanup timer happens to fire relative to this record (watermarks are periodic).
    const timer = this.#timer.value();
    if (small !== undefined) {
      if (tx.amount > LARGE_AMOUNT && timer !== undefined && tx.timestampMs < timer) {
        out.collect({
          accountId: tx.accountId,
          smallAmount: small,
          largeAmount: tx.amount,
          timestampMs: tx.timestampMs,
        });
      }
      this.#clear(ctx);
    }
    if (tx.amount < SMALL_AMOUNT) {
      this.#smallAmount.update(tx.amount);
      const timer = tx.timestampMs + ONE_MINUTE_MS;
      ctx.timerService().registerEventTimeTimer(timer);
      this.#timer.update(timer);
    }
  }

  onTimer(_timestampMs: number, _ctx: OnTimerContext<number>): void {
    this.#smallAmount.clear();
    this.#timer.clear();
  }

  #clear(ctx: KeyedContext<number>): void {
    const timer = this.#timer.value();
    if (timer !== undefined) ctx.timerService().deleteEventTimeTimer(timer);
    this.#smallAmount.clear();
    this.#timer.clear();
  }
}

export default function fraudDetection(env: StreamExecutionEnvironment, args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      transactions: { type: 'string', default: '200000' },
      accounts: { type: 'string', default: '500' },
    },
  });
  const count = Number(values.transactions);
  const accounts = Number(values.accounts);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(accounts) || accounts < 1) {
    throw new Error('--transactions and --accounts must be positive integers');
  }
  env
    .fromGenerator<Transaction>({
      count,
      seed: 42,
      generate: (i, random) => generateTransaction(i, random, accounts),
    })
    .name('Source: Transactions')
    // One reader, one watermark assigner: each account's transactions stay in event-time order.
    .setParallelism(1)
    .assignTimestampsAndWatermarks(
      WatermarkStrategy.forMonotonousTimestamps<Transaction>().withTimestampAssigner((tx) => tx.timestampMs),
    )
    .setParallelism(1)
    .keyBy((tx) => tx.accountId)
    .process(() => new FraudDetector())
    .name('Fraud Detector')
    .uid('fraud-detector')
    .map(
      (alert) =>
        `ALERT account ${alert.accountId}: ${alert.smallAmount.toFixed(2)} then ${alert.largeAmount.toFixed(2)} at t=${alert.timestampMs}ms`,
    )
    .print();
}
