/** The fraud-detection example's FraudDetector at p = 1, 2, 4 vs a plain-JS reference, and the example through `weir run`. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type Alert,
  FraudDetector,
  generateTransaction,
  type Transaction,
} from '../../examples/fraud-detection.ts';
import { CollectSink, StreamExecutionEnvironment, WatermarkStrategy } from '../../src/index.ts';
import { multiset, PARALLELISMS } from './support.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ONE_MINUTE_MS = 60_000;

/**
 * The detector's rule over transactions in event-time order: a small one (< 1.00) arms the
 * account for a minute; a large one (> 500.00) while armed is an alert; any transaction while
 * armed disarms it. The minute ends when the watermark (latest timestamp − 1, after each
 * transaction) reaches small.timestamp + 1 minute.
 */
function referenceAlerts(transactions: readonly Transaction[]): Alert[] {
  const armed = new Map<number, { amount: number; untilMs: number }>();
  const alerts: Alert[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  for (const tx of transactions) {
    const small = armed.get(tx.accountId);
    if (small !== undefined && small.untilMs <= watermark) armed.delete(tx.accountId);
    const current = armed.get(tx.accountId);
    if (current !== undefined) {
      if (tx.amount > 500) {
        alerts.push({
          accountId: tx.accountId,
          smallAmount: current.amount,
          largeAmount: tx.amount,
          timestampMs: tx.timestampMs,
        });
      }
      armed.delete(tx.accountId);
    }
    if (tx.amount < 1)
      armed.set(tx.accountId, { amount: tx.amount, untilMs: tx.timestampMs + ONE_MINUTE_MS });
    watermark = Math.max(watermark, tx.timestampMs - 1);
  }
  return alerts;
}

async function generatedTransactions(count: number, accounts: number, seed: number): Promise<Transaction[]> {
  const env = new StreamExecutionEnvironment({ parallelism: 1 });
  const sink = new CollectSink<Transaction>();
  env
    .fromGenerator({ count, seed, generate: (i, random) => generateTransaction(i, random, accounts) })
    .sinkTo(sink);
  await env.execute('transactions');
  return [...sink.values].sort((a, b) => a.timestampMs - b.timestampMs);
}

describe('fraud detection', () => {
  // Few accounts: a transaction every second per account. Many: a minute often passes between
  // an account's transactions, so the timer decides alerts (8 small-then-large pairs, 5 alerts).
  it.each([
    [10_000, 10],
    [30_000, 600],
  ])(
    'alerts on %i transactions over %i accounts match the reference at p = 1, 2, 4',
    async (count, accounts) => {
      const transactions = await generatedTransactions(count, accounts, 42);
      const expected = referenceAlerts(transactions);
      expect(expected.length, 'the data has alerts to find').toBeGreaterThan(0);
      for (const parallelism of PARALLELISMS) {
        // One source subtask and a watermark after every event make the timers' firing deterministic.
        const env = new StreamExecutionEnvironment({ parallelism, autoWatermarkIntervalMs: 0 });
        const sink = new CollectSink<Alert>();
        env
          .fromGenerator<Transaction>({
            count,
            seed: 42,
            generate: (i, random) => generateTransaction(i, random, accounts),
          })
          .setParallelism(1)
          .assignTimestampsAndWatermarks(
            WatermarkStrategy.forMonotonousTimestamps<Transaction>()
              .withTimestampAssigner((tx) => tx.timestampMs)
              .withEmitOnEvent(),
          )
          .setParallelism(1)
          .keyBy((tx) => tx.accountId)
          .process(() => new FraudDetector())
          .sinkTo(sink);
        await env.execute('fraud detection');
        expect(multiset(sink.values), `p=${parallelism}`).toEqual(multiset(expected));
      }
    },
  );
});

describe('weir run examples/fraud-detection.ts', () => {
  it('exits 0 and every printed alert is a small transaction followed by a large one on that account', async () => {
    const count = 5_000;
    const accounts = 40;
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [
            join(REPO_ROOT, 'bin/weir.js'),
            'run',
            'examples/fraud-detection.ts',
            '--',
            '--transactions',
            String(count),
            '--accounts',
            String(accounts),
          ],
          { cwd: REPO_ROOT },
          (error, out, err) =>
            resolve({ code: error === null ? 0 : Number(error.code), stdout: out, stderr: err }),
        );
      },
    );
    expect(code, stderr).toBe(0);
    const transactions = await generatedTransactions(count, accounts, 42);
    const lines = stdout.split('\n').filter((line) => line.includes('ALERT'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const match = /ALERT account (\d+): (\d+\.\d\d) then (\d+\.\d\d) at t=(\d+)ms/.exec(line);
      expect(match, line).not.toBeNull();
      const [, account, small, large, at] = match!;
      const largeTx = transactions.find((tx) => tx.timestampMs === Number(at))!;
      expect(largeTx.accountId, line).toBe(Number(account));
      expect(largeTx.amount.toFixed(2), line).toBe(large);
      const before = transactions.filter(
        (tx) => tx.accountId === Number(account) && tx.timestampMs < Number(at),
      );
      expect(
        before.at(-1)?.amount.toFixed(2),
        `${line}: the account's previous transaction is the small one`,
      ).toBe(small);
    }
  });
});
