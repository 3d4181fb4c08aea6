import { describe, expect, it } from 'vitest';
import type { RuntimeContext } from '../../../src/api/functions.ts';
import { FilterOperator } from '../../../src/api/operators/filter-operator.ts';
import { FlatMapOperator } from '../../../src/api/operators/flat-map-operator.ts';
import { MapOperator } from '../../../src/api/operators/map-operator.ts';
import { TaskFailure } from '../../../src/core/errors.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

/** A rich function that logs its lifecycle into `events`. */
function lifecycle(events: string[]) {
  return {
    open(ctx: RuntimeContext) {
      events.push(`open ${ctx.operatorName} ${ctx.subtaskIndex}/${ctx.parallelism}`);
    },
    close() {
      events.push('close');
    },
  };
}

describe('MapOperator', () => {
  it('maps plain functions and keeps timestamps', async () => {
    const h = new OperatorHarness(new MapOperator<number, string>((n) => `#${n}`));
    await h.open();
    h.processElement(1, 10);
    h.processElement(2);
    expect(h.output).toEqual([
      { kind: 'record', value: '#1', timestamp: 10 },
      { kind: 'record', value: '#2', timestamp: undefined },
    ]);
    await h.close();
  });

  it('opens a rich function once before records and closes it after', async () => {
    const events: string[] = [];
    const fn = {
      ...lifecycle(events),
      factor: 0,
      open(ctx: RuntimeContext) {
        events.push(`open ${ctx.operatorName}`);
        this.factor = 3;
      },
      map(n: number) {
        events.push(`map ${n}`);
        return n * this.factor;
      },
    };
    const h = new OperatorHarness(new MapOperator<number, number>(fn), { operatorName: 'Times' });
    await h.open();
    h.processElement(1);
    h.processElement(2);
    await h.finish();
    await h.close();
    expect(events).toEqual(['open Times', 'map 1', 'map 2', 'close']);
    expect(h.values()).toEqual([3, 6]);
  });

  it('awaits an async open', async () => {
    let ready = false;
    const fn = {
      async open() {
        await new Promise((r) => setTimeout(r, 1));
        ready = true;
      },
      map: (n: number) => (ready ? n : -1),
    };
    const h = new OperatorHarness(new MapOperator<number, number>(fn));
    await h.open();
    h.processElement(7);
    expect(h.values()).toEqual([7]);
  });

  it('forwards watermarks and idleness', async () => {
    const h = new OperatorHarness(new MapOperator<number, number>((n) => n));
    await h.open();
    h.processWatermark(5);
    h.processWatermark(3); // never goes back
    h.processWatermarkStatus(true);
    expect(h.output).toEqual([
      { kind: 'watermark', timestamp: 5 },
      { kind: 'status', idle: true },
    ]);
  });

  it('reports a throwing function as a TaskFailure naming the operator, with the cause', async () => {
    const boom = new Error('boom');
    const h = new OperatorHarness(
      new MapOperator<number, number>(() => {
        throw boom;
      }),
      { operatorName: 'Explode' },
    );
    await h.open();
    let caught: unknown;
    try {
      h.processElement(1);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TaskFailure);
    expect((caught as Error).message).toContain("operator 'Explode'");
    expect((caught as Error).cause).toBe(boom);
  });

  it('rejects an object without the method at construction', () => {
    expect(() => new MapOperator<number, number>({} as never)).toThrow(/map\(\) method/);
  });

  it('fails clearly when a non-keyed function asks for keyed state', async () => {
    const h = new OperatorHarness(
      new MapOperator<number, number>({
        open(ctx) {
          ctx.getState({ kind: 'value', name: 'x' });
        },
        map: (n) => n,
      }),
      { operatorName: 'NotKeyed' },
    );
    await expect(h.open()).rejects.toThrow(
      "keyed state is only available on a keyed stream (call keyBy first) — operator 'NotKeyed'",
    );
  });
});

describe('FlatMapOperator', () => {
  it('emits zero or more results per record, all with the record timestamp', async () => {
    const events: string[] = [];
    const fn = {
      ...lifecycle(events),
      flatMap(line: string, out: { collect(w: string): void }) {
        events.push(`flatMap ${line}`);
        for (const w of line.split(' ')) if (w) out.collect(w);
      },
    };
    const h = new OperatorHarness(new FlatMapOperator<string, string>(fn), { operatorName: 'Split' });
    await h.open();
    h.processElement('a b', 1);
    h.processElement('', 2);
    h.processElement('c', 3);
    await h.close();
    expect(h.records()).toEqual([
      { value: 'a', timestamp: 1 },
      { value: 'b', timestamp: 1 },
      { value: 'c', timestamp: 3 },
    ]);
    expect(events).toEqual(['open Split 0/1', 'flatMap a b', 'flatMap ', 'flatMap c', 'close']);
  });
});

describe('FilterOperator', () => {
  it('keeps the records the predicate accepts, unchanged', async () => {
    const events: string[] = [];
    const fn = { ...lifecycle(events), filter: (n: number) => n % 2 === 0 };
    const h = new OperatorHarness(new FilterOperator<number>(fn), { operatorName: 'Even' });
    await h.open();
    for (let i = 0; i < 5; i++) h.processElement(i, i * 10);
    await h.close();
    expect(h.records()).toEqual([
      { value: 0, timestamp: 0 },
      { value: 2, timestamp: 20 },
      { value: 4, timestamp: 40 },
    ]);
    expect(events).toEqual(['open Even 0/1', 'close']);
  });
});
