import { describe, expect, it } from 'vitest';
import type { KeyedCoProcessFunction, RuntimeContext } from '../../../src/api/functions.ts';
import { CoProcessOperator } from '../../../src/api/operators/co-process-operator.ts';
import { KeyedCoProcessOperator } from '../../../src/api/operators/keyed-co-process-operator.ts';
import type { ValueState } from '../../../src/state/keyed-state.ts';
import { valueState } from '../../../src/state/state-descriptors-factory.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

interface Order {
  readonly id: string;
  readonly item: string;
}
interface Payment {
  readonly orderId: string;
  readonly amount: number;
}

describe('CoProcessOperator', () => {
  it('routes each input to its method with its own timestamps', async () => {
    const h = new OperatorHarness(
      new CoProcessOperator<number, string, string>({
        processElement1: (n, ctx, out) => out.collect(`1:${n}@${ctx.timestamp()}`),
        processElement2: (s, ctx, out) => out.collect(`2:${s}@${ctx.timestamp()}`),
      }),
    );
    await h.open();
    h.processElement1(1, 10);
    h.processElement2('a', 20);
    h.processElement1(2);
    expect(h.records()).toEqual([
      { value: '1:1@10', timestamp: 10 },
      { value: '2:a@20', timestamp: 20 },
      { value: '1:2@undefined', timestamp: undefined },
    ]);
  });

  it('forwards the minimum of the two input watermarks, ignoring an idle input', async () => {
    const h = new OperatorHarness(
      new CoProcessOperator<number, number, number>({
        processElement1: (_n, ctx, out) => out.collect(ctx.timerService().currentWatermark()),
        processElement2: () => {},
      }),
    );
    await h.open();
    h.processWatermark1(10);
    expect(h.watermarks()).toEqual([]);
    h.processWatermark2(5);
    h.processWatermark2(30);
    h.processWatermark1(20);
    expect(h.watermarks()).toEqual([5, 10, 20]);
    h.processElement1(0);
    expect(h.values()).toEqual([20]);
    h.clearOutput();
    h.processWatermarkStatus1(true); // input 1 idle: input 2 alone decides
    expect(h.output).toEqual([{ kind: 'watermark', timestamp: 30 }]);
    h.processWatermarkStatus2(true);
    expect(h.output.at(-1)).toEqual({ kind: 'status', idle: true });
  });
});

describe('KeyedCoProcessOperator', () => {
  const pending = valueState<Order>('pending-order');

  function matcher(): KeyedCoProcessFunction<string, Order, Payment, string> & { order?: ValueState<Order> } {
    return {
      open(ctx: RuntimeContext) {
        this.order = ctx.getState(pending);
      },
      processElement1(order, ctx, out) {
        this.order!.update(order);
        ctx.timerService().registerEventTimeTimer(ctx.timestamp()! + 100);
        out.collect(`order ${ctx.getCurrentKey()}`);
      },
      processElement2(payment, _ctx, out) {
        const order = this.order!.value();
        out.collect(
          order === undefined ? `unmatched ${payment.orderId}` : `paid ${order.item} ${payment.amount}`,
        );
        if (order !== undefined) this.order!.clear();
      },
      onTimer(ts, ctx, out) {
        if (this.order!.value() !== undefined)
          out.collect(`expired ${ctx.getCurrentKey()}@${ts} ${ctx.timeDomain()}`);
      },
    };
  }

  it('shares state across both inputs for the same key', async () => {
    const h = new OperatorHarness(new KeyedCoProcessOperator<string, Order, Payment, string>(matcher()), {
      keySelector: (o: Order) => o.id,
      keySelector2: (p: Payment) => p.orderId,
    });
    await h.open();
    h.processElement1({ id: 'o1', item: 'book' }, 0);
    h.processElement1({ id: 'o2', item: 'pen' }, 10);
    h.processElement2({ orderId: 'o1', amount: 12 }, 50);
    h.processElement2({ orderId: 'o3', amount: 1 }, 60);
    h.processWatermark1(500);
    h.processWatermark2(200);
    expect(h.output).toEqual([
      { kind: 'record', value: 'order o1', timestamp: 0 },
      { kind: 'record', value: 'order o2', timestamp: 10 },
      { kind: 'record', value: 'paid book 12', timestamp: 50 },
      { kind: 'record', value: 'unmatched o3', timestamp: 60 },
      // the watermark is min(500, 200): o1's timer at 100 finds no order, o2's at 110 fires
      { kind: 'record', value: 'expired o2@110 event-time', timestamp: 110 },
      { kind: 'watermark', timestamp: 200 },
    ]);
    await h.close();
  });

  it('prefetches with the selector of the input the batch came from', async () => {
    const op = new KeyedCoProcessOperator<string, Order, Payment, string>(matcher());
    const h = new OperatorHarness(op, {
      keySelector: (o: Order) => o.id,
      keySelector2: (p: Payment) => p.orderId,
    });
    await h.open();
    expect(op.prepareBatch1([{ id: 'a', item: 'x' }])).toBeUndefined();
    expect(op.prepareBatch2([{ orderId: 'a', amount: 1 }])).toBeUndefined();
  });

  it('fires processing-time timers without a timestamp', async () => {
    const h = new OperatorHarness(
      new KeyedCoProcessOperator<string, string, string, string>({
        processElement1: (_s, ctx) => ctx.timerService().registerProcessingTimeTimer(5),
        processElement2: () => {},
        onTimer: (ts, ctx, out) => out.collect(`${ctx.getCurrentKey()}@${ts} ${ctx.timeDomain()}`),
      }),
      { keySelector: (s: string) => s, keySelector2: (s: string) => s },
    );
    await h.open();
    h.processElement1('k', 1);
    h.advanceProcessingTime(5);
    expect(h.records()).toEqual([{ value: 'k@5 processing-time', timestamp: undefined }]);
  });
});
