import { describe, expect, it } from 'vitest';
import type { KeyedBroadcastProcessFunction, RuntimeContext } from '../../../src/api/functions.ts';
import { BroadcastProcessOperator } from '../../../src/api/operators/broadcast-process-operator.ts';
import { KeyedBroadcastProcessOperator } from '../../../src/api/operators/keyed-broadcast-process-operator.ts';
import { OutputTag } from '../../../src/runtime/output.ts';
import type { MapStateDescriptor } from '../../../src/state/descriptors.ts';
import type { ValueState } from '../../../src/state/keyed-state.ts';
import { mapState, valueState } from '../../../src/state/state-descriptors-factory.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

interface Rule {
  readonly kind: string;
  readonly limit: number;
}
interface Event {
  readonly user: string;
  readonly kind: string;
  readonly amount: number;
}

const rules = mapState<string, number>('rules');
const other = mapState<string, number>('other');
const declared = [rules] as MapStateDescriptor<unknown, unknown>[];
const rejected = new OutputTag<string>('rejected');

describe('BroadcastProcessOperator', () => {
  function checker() {
    return new BroadcastProcessOperator<Event, Rule, string>(
      {
        processElement(e, ctx, out) {
          const limit = ctx.getBroadcastState(rules).get(e.kind);
          if (limit !== undefined && e.amount > limit) out.collect(`${e.user} over ${limit}`);
          else ctx.output(rejected, `${e.user} ok@${ctx.timestamp()}`);
        },
        processBroadcastElement(rule, ctx) {
          ctx.getBroadcastState(rules).put(rule.kind, rule.limit);
        },
      },
      declared,
    );
  }

  it('applies broadcast state written by the broadcast side to the elements', async () => {
    const h = new OperatorHarness(checker());
    await h.open();
    h.processElement1({ user: 'a', kind: 'buy', amount: 50 }, 1);
    h.processElement2({ kind: 'buy', limit: 10 }, 2);
    h.processElement1({ user: 'b', kind: 'buy', amount: 50 }, 3);
    h.processElement1({ user: 'c', kind: 'buy', amount: 5 }, 4);
    expect(h.records()).toEqual([{ value: 'b over 10', timestamp: 3 }]);
    expect(h.sideValues(rejected)).toEqual(['a ok@1', 'c ok@4']);
    // The state lives in the operator state store, where snapshots find it.
    expect([...h.operatorStateStore.getBroadcastState(rules).entries()]).toEqual([['buy', 10]]);
  });

  it('gives the element side a read-only view', async () => {
    let caught: unknown;
    const h = new OperatorHarness(
      new BroadcastProcessOperator<string, string, never>(
        {
          processElement(_s, ctx) {
            const view = ctx.getBroadcastState(rules) as unknown as { put?: unknown; clear?: unknown };
            caught = [typeof view.put, typeof view.clear, Object.isFrozen(view)];
          },
          processBroadcastElement() {},
        },
        declared,
      ),
    );
    await h.open();
    h.processElement1('x');
    expect(caught).toEqual(['undefined', 'undefined', true]);
  });

  it('refuses a descriptor that was not declared, on both sides', async () => {
    const h = new OperatorHarness(
      new BroadcastProcessOperator<string, string, never>(
        {
          processElement: (_s, ctx) => void ctx.getBroadcastState(other),
          processBroadcastElement: (_s, ctx) => void ctx.getBroadcastState(other),
        },
        declared,
      ),
      { operatorName: 'Rules' },
    );
    await h.open();
    expect(() => h.processElement1('x')).toThrow(
      /broadcast state 'other' was not declared.*'rules'.*'Rules'/,
    );
    expect(() => h.processElement2('x')).toThrow(/broadcast state 'other' was not declared/);
  });

  it('forwards the minimum watermark of both inputs', async () => {
    const h = new OperatorHarness(checker());
    await h.open();
    h.processWatermark1(100);
    h.processWatermark2(40);
    expect(h.watermarks()).toEqual([40]);
  });
});

describe('KeyedBroadcastProcessOperator', () => {
  const total = valueState<number>('total', { defaultValue: 0 });

  function fn(): KeyedBroadcastProcessFunction<string, Event, Rule, string> & { total?: ValueState<number> } {
    return {
      open(ctx: RuntimeContext) {
        this.total = ctx.getState(total);
      },
      processElement(e, ctx, out) {
        this.total!.update(this.total!.value()! + e.amount);
        const limit = ctx.getBroadcastState(rules).get(e.kind) ?? Number.POSITIVE_INFINITY;
        if (this.total!.value()! > limit) out.collect(`${ctx.getCurrentKey()} total ${this.total!.value()}`);
        ctx.timerService().registerEventTimeTimer(ctx.timestamp()! + 10);
      },
      processBroadcastElement(rule, ctx, out) {
        ctx.getBroadcastState(rules).put(rule.kind, rule.limit);
        if (rule.limit === 0) {
          // A reset rule: clear every user's total and report who had one.
          ctx.applyToKeyedState(total, (key, state) => {
            out.collect(`reset ${String(key)} from ${state.value()}`);
            state.clear();
          });
        }
      },
      onTimer(ts, ctx, out) {
        out.collect(
          `timer ${ctx.getCurrentKey()}@${ts} rules=${[...ctx.getBroadcastState(rules).entries()].length} ${ctx.timeDomain()}`,
        );
      },
    };
  }

  function harness() {
    return new OperatorHarness(
      new KeyedBroadcastProcessOperator<string, Event, Rule, string>(fn(), declared),
      {
        keySelector: (e: Event) => e.user,
        operatorName: 'Limits',
      },
    );
  }

  it('keys the element side and reads broadcast state there', async () => {
    const h = harness();
    await h.open();
    h.processElement2({ kind: 'buy', limit: 10 }, 0);
    h.processElement1({ user: 'a', kind: 'buy', amount: 6 }, 1);
    h.processElement1({ user: 'b', kind: 'buy', amount: 6 }, 2);
    h.processElement1({ user: 'a', kind: 'buy', amount: 6 }, 3);
    expect(h.records()).toEqual([{ value: 'a total 12', timestamp: 3 }]);
  });

  it('visits every key with state from the broadcast side via applyToKeyedState', async () => {
    const h = harness();
    await h.open();
    h.processElement1({ user: 'a', kind: 'buy', amount: 1 }, 1);
    h.processElement1({ user: 'b', kind: 'buy', amount: 2 }, 1);
    h.processElement1({ user: 'a', kind: 'buy', amount: 3 }, 1);
    h.processElement2({ kind: 'buy', limit: 0 }, 5);
    expect(h.values().sort()).toEqual(['reset a from 4', 'reset b from 2']);
    expect(h.records().every((r) => r.timestamp === 5)).toBe(true);
    // State was cleared for every key: nothing left to visit.
    h.clearOutput();
    h.processElement2({ kind: 'buy', limit: 0 }, 6);
    expect(h.values()).toEqual([]);
    // The element side continues with fresh totals, on its own key.
    h.processElement2({ kind: 'buy', limit: 1 }, 7);
    h.processElement1({ user: 'b', kind: 'buy', amount: 2 }, 8);
    expect(h.values()).toEqual(['b total 2']);
  });

  it('fires timers per key with the broadcast state readable', async () => {
    const h = harness();
    await h.open();
    h.processElement1({ user: 'a', kind: 'buy', amount: 1 }, 1);
    h.processElement2({ kind: 'buy', limit: 100 }, 2);
    h.processElement1({ user: 'b', kind: 'buy', amount: 1 }, 5);
    h.processWatermark2(1000); // the broadcast input alone does not move the watermark
    expect(h.watermarks()).toEqual([]);
    h.processWatermark1(12);
    expect(h.output).toEqual([
      { kind: 'record', value: 'timer a@11 rules=1 event-time', timestamp: 11 },
      { kind: 'watermark', timestamp: 12 },
    ]);
  });

  it('fails at open when the element side is not keyed', async () => {
    const h = new OperatorHarness(
      new KeyedBroadcastProcessOperator<string, Event, Rule, string>(fn(), declared),
      {
        operatorName: 'Unkeyed',
      },
    );
    await expect(h.open()).rejects.toThrow(/keyed stream.*'Unkeyed'/);
  });
});
