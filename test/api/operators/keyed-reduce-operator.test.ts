import { describe, expect, it } from 'vitest';
import { KeyedReduceOperator } from '../../../src/api/operators/keyed-reduce-operator.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

interface Sale {
  readonly shop: string;
  readonly amount: number;
}

describe('KeyedReduceOperator', () => {
  it('emits the running value per key for every record, with the record timestamp', async () => {
    const h = new OperatorHarness(
      new KeyedReduceOperator<Sale>((a, b) => ({ shop: a.shop, amount: a.amount + b.amount })),
      { keySelector: (s: Sale) => s.shop },
    );
    await h.open();
    h.processElement({ shop: 'x', amount: 1 }, 10);
    h.processElement({ shop: 'y', amount: 5 }, 11);
    h.processElement({ shop: 'x', amount: 2 }, 12);
    h.processElement({ shop: 'x', amount: 3 });
    expect(h.records()).toEqual([
      { value: { shop: 'x', amount: 1 }, timestamp: 10 },
      { value: { shop: 'y', amount: 5 }, timestamp: 11 },
      { value: { shop: 'x', amount: 3 }, timestamp: 12 },
      { value: { shop: 'x', amount: 6 }, timestamp: undefined },
    ]);
    await h.close();
  });

  it('accepts a rich reduce function and opens/closes it', async () => {
    const events: string[] = [];
    const h = new OperatorHarness(
      new KeyedReduceOperator<number>({
        open: () => void events.push('open'),
        reduce: (a, b) => Math.max(a, b),
        close: () => void events.push('close'),
      }),
      { keySelector: (n: number) => n % 2 },
    );
    await h.open();
    for (const n of [3, 4, 1, 8, 5]) h.processElement(n);
    await h.close();
    expect(h.values()).toEqual([3, 4, 3, 8, 5]);
    expect(events).toEqual(['open', 'close']);
  });

  it('fails at open with a clear error when the input is not keyed', async () => {
    const h = new OperatorHarness(new KeyedReduceOperator<number>((a, b) => a + b), { operatorName: 'Sum' });
    await expect(h.open()).rejects.toThrow(/keyed stream.*'Sum'/);
  });
});
