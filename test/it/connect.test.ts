/** Two-input jobs: a KeyedCoProcessFunction joining orders and payments, and a non-keyed CoProcessFunction, at p = 1, 2, 4. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Collector,
  CollectSink,
  type CoProcessFunction,
  type KeyedContext,
  type KeyedCoProcessFunction,
  type OnTimerContext,
  type ProcessContext,
  type RuntimeContext,
  StreamExecutionEnvironment,
  type ValueState,
  valueState,
  WatermarkStrategy,
} from '../../src/index.ts';
import { GatedSource, multiset, PARALLELISMS, waitFor } from './support.ts';

interface Order {
  readonly id: number;
  readonly amount: number;
}

interface Payment {
  readonly orderId: number;
  readonly paid: number;
}

/** Far beyond any event time the job sees: only end of input (the final watermark) fires it. */
const AT_END_MS = 1e15;

/**
 * Joins each order with the payments for it, whichever arrives first: a payment that comes
 * before its order waits in state and is reported when the order arrives. At end of input, an
 * order not paid in full and payments for an unknown order are reported. So the output does not
 * depend on how the two inputs interleave.
 */
class OrderPaymentJoin implements KeyedCoProcessFunction<number, Order, Payment, string> {
  order!: ValueState<Order>;
  waiting!: ValueState<number[]>;
  paid!: ValueState<number>;

  open(context: RuntimeContext): void {
    this.order = context.getState(valueState<Order>('order'));
    this.waiting = context.getState(valueState<number[]>('waiting-payments'));
    this.paid = context.getState(valueState<number>('paid'));
  }

  processElement1(order: Order, ctx: KeyedContext<number>, out: Collector<string>): void {
    if (this.order.value() !== undefined) {
      out.collect(`order ${order.id} duplicate`);
      return;
    }
    this.order.update(order);
    ctx.timerService().registerEventTimeTimer(AT_END_MS);
    for (const paid of this.waiting.value() ?? []) out.collect(`order ${order.id} received ${paid}`);
    this.waiting.clear();
  }

  processElement2(payment: Payment, ctx: KeyedContext<number>, out: Collector<string>): void {
    this.paid.update((this.paid.value() ?? 0) + payment.paid);
    ctx.timerService().registerEventTimeTimer(AT_END_MS);
    const order = this.order.value();
    if (order !== undefined) out.collect(`order ${order.id} received ${payment.paid}`);
    else this.waiting.update([...(this.waiting.value() ?? []), payment.paid]);
  }

  onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<string>): void {
    const order = this.order.value();
    const paid = this.paid.value() ?? 0;
    if (order === undefined) out.collect(`payments for unknown order ${ctx.getCurrentKey()}: ${paid}`);
    else if (paid < order.amount) out.collect(`order ${order.id} unpaid: ${paid} of ${order.amount}`);
    else out.collect(`order ${order.id} settled`);
  }
}

/** The join as a plain loop over each side, using only which records exist (order of arrival differs). */
function referenceJoin(orders: readonly Order[], payments: readonly Payment[]): string[] {
  const out: string[] = [];
  const firstOrder = new Map<number, Order>();
  for (const o of orders) {
    if (firstOrder.has(o.id)) out.push(`order ${o.id} duplicate`);
    else firstOrder.set(o.id, o);
  }
  const ids = new Set([...firstOrder.keys(), ...payments.map((p) => p.orderId)]);
  for (const id of ids) {
    const order = firstOrder.get(id);
    const mine = payments.filter((p) => p.orderId === id);
    const paid = mine.reduce((s, p) => s + p.paid, 0);
    if (order === undefined) {
      out.push(`payments for unknown order ${id}: ${paid}`);
      continue;
    }
    for (const p of mine) out.push(`order ${id} received ${p.paid}`);
    out.push(paid < order.amount ? `order ${id} unpaid: ${paid} of ${order.amount}` : `order ${id} settled`);
  }
  return out;
}

const ordersArb = fc.array(
  fc.record({ id: fc.integer({ min: 1, max: 30 }), amount: fc.integer({ min: 1, max: 100 }) }),
  { maxLength: 40 },
);
const paymentsArb = fc.array(
  fc.record({ orderId: fc.integer({ min: 1, max: 30 }), paid: fc.integer({ min: 1, max: 60 }) }),
  { maxLength: 60 },
);

describe('connect with a KeyedCoProcessFunction', () => {
  it('joins orders and payments by id like the reference', async () => {
    await fc.assert(
      fc.asyncProperty(ordersArb, paymentsArb, async (orders, payments) => {
        for (const parallelism of PARALLELISMS) {
          const env = new StreamExecutionEnvironment({ parallelism });
          const sink = new CollectSink<string>();
          const orderStream = env.fromCollection(orders).keyBy((o) => o.id);
          const paymentStream = env.fromCollection(payments).keyBy((p) => p.orderId);
          orderStream
            .connect(paymentStream)
            .process(() => new OrderPaymentJoin())
            .name('Join')
            .sinkTo(sink);
          await env.execute('order/payment join');
          expect(multiset(sink.values), `p=${parallelism}`).toEqual(
            multiset(referenceJoin(orders, payments)),
          );
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe('connect with a CoProcessFunction (not keyed)', () => {
  it('processes every record of each input once, with its own function', async () => {
    const numbers = Array.from({ length: 500 }, (_, i) => i - 100);
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`);
    for (const parallelism of PARALLELISMS) {
      const env = new StreamExecutionEnvironment({ parallelism });
      const sink = new CollectSink<string>();
      const subtasks = new Set<number>();
      const fn: CoProcessFunction<number, string, string> = {
        open(context: RuntimeContext) {
          subtasks.add(context.subtaskIndex);
        },
        processElement1(n: number, _ctx: ProcessContext, out: Collector<string>) {
          out.collect(`n ${n * 2}`);
        },
        processElement2(w: string, _ctx: ProcessContext, out: Collector<string>) {
          out.collect(`s ${w.toUpperCase()}`);
        },
      };
      env
        .fromCollection(numbers)
        .rebalance()
        .connect(env.fromCollection(words).rebalance())
        .process(fn)
        .sinkTo(sink);
      await env.execute('co-process');
      expect(multiset(sink.values), `p=${parallelism}`).toEqual(
        multiset([...numbers.map((n) => `n ${n * 2}`), ...words.map((w) => `s ${w.toUpperCase()}`)]),
      );
      expect(subtasks.size, 'every subtask opened its own function').toBe(parallelism);
      for (let s = 0; s < parallelism; s++) {
        expect(sink.valuesOf(s).length, `rebalance gives subtask ${s} a share`).toBeGreaterThan(0);
      }
    }
  });
});

describe('watermarks of a two-input operator', () => {
  it.each(PARALLELISMS)(
    'follow the slower input: no event-time timer fires while one input holds back (p=%i)',
    async (parallelism) => {
      const readings = Array.from({ length: 100 }, (_, i) => ({ sensor: `s${i % 5}`, ts: i * 10 }));
      const control = new GatedSource<{ sensor: string }>([]);
      const env = new StreamExecutionEnvironment({ parallelism, autoWatermarkIntervalMs: 0 });
      const sink = new CollectSink<string>();
      const timed = env
        .fromCollection(readings)
        .assignTimestampsAndWatermarks(
          WatermarkStrategy.forMonotonousTimestamps<{ sensor: string; ts: number }>()
            .withTimestampAssigner((r) => r.ts)
            .withEmitOnEvent(),
        )
        .setParallelism(1)
        .keyBy((r) => r.sensor);
      const fn: KeyedCoProcessFunction<string, { sensor: string; ts: number }, { sensor: string }, string> = {
        processElement1(r, ctx, out) {
          ctx.timerService().registerEventTimeTimer(r.ts + 1);
          out.collect(`reading ${r.sensor} ${r.ts} wm=${ctx.timerService().currentWatermark()}`);
        },
        processElement2() {},
        onTimer(ts, ctx, out) {
          out.collect(`timer ${ctx.getCurrentKey()} ${ts} wm=${ctx.timerService().currentWatermark()}`);
        },
      };
      timed
        .connect(env.fromSource(control, undefined, 'Source: Control').keyBy((c) => c.sensor))
        .process(fn)
        .sinkTo(sink);
      const client = env.executeAsync('two-input watermarks');
      await waitFor(() => sink.values.length === readings.length, 'every reading to be processed');
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(sink.values.length, 'the held-back input keeps the watermark at its start').toBe(
        readings.length,
      );
      expect(sink.values.every((v) => v.endsWith('wm=-Infinity'))).toBe(true);
      control.release();
      await client.result();
      expect(multiset(sink.values.filter((v) => v.startsWith('timer')))).toEqual(
        multiset(readings.map((r) => `timer ${r.sensor} ${r.ts + 1} wm=Infinity`)),
      );
    },
  );
});
