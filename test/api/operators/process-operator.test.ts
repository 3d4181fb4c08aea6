import { describe, expect, it } from 'vitest';
import { ProcessOperator } from '../../../src/api/operators/process-operator.ts';
import { OutputTag } from '../../../src/runtime/output.ts';
import { OperatorHarness } from '../../harness/operator-harness.ts';

const negatives = new OutputTag<number>('negatives');

describe('ProcessOperator', () => {
  it('emits main and side outputs with the record timestamp', async () => {
    const h = new OperatorHarness(
      new ProcessOperator<number, string>({
        processElement(n, ctx, out) {
          if (n < 0) ctx.output(negatives, n);
          else out.collect(`+${n}@${ctx.timestamp()}`);
        },
      }),
    );
    await h.open();
    h.processElement(1, 100);
    h.processElement(-2, 200);
    h.processElement(3);
    expect(h.output).toEqual([
      { kind: 'record', value: '+1@100', timestamp: 100 },
      { kind: 'side', tag: 'negatives', value: -2, timestamp: 200 },
      { kind: 'record', value: '+3@undefined', timestamp: undefined },
    ]);
    expect(h.sideValues(negatives)).toEqual([-2]);
    expect(h.values()).toEqual(['+1@100', '+3@undefined']);
  });

  it('reads the current watermark and processing time', async () => {
    const h = new OperatorHarness(
      new ProcessOperator<string, string>({
        processElement(s, ctx, out) {
          const t = ctx.timerService();
          out.collect(`${s} wm=${t.currentWatermark()} now=${t.currentProcessingTime()}`);
        },
      }),
    );
    await h.open();
    h.processElement('a');
    h.processWatermark(42);
    h.advanceProcessingTime(7);
    h.processElement('b');
    expect(h.values()).toEqual(['a wm=-Infinity now=0', 'b wm=42 now=7']);
  });

  it('refuses timers on a non-keyed stream, naming the operator', async () => {
    const h = new OperatorHarness(
      new ProcessOperator<string, string>({
        processElement(_s, ctx) {
          (
            ctx.timerService() as unknown as { registerEventTimeTimer(t: number): void }
          ).registerEventTimeTimer(1);
        },
      }),
      { operatorName: 'Plain' },
    );
    await h.open();
    expect(() => h.processElement('a')).toThrow(/timers are only available on a keyed stream.*'Plain'/);
  });

  it('opens and closes the function', async () => {
    const events: string[] = [];
    const h = new OperatorHarness(
      new ProcessOperator<number, number>({
        open: () => void events.push('open'),
        processElement: (n, _ctx, out) => {
          events.push(`el ${n}`);
          out.collect(n);
        },
        close: () => void events.push('close'),
      }),
    );
    await h.open();
    h.processElement(1);
    await h.finish();
    await h.close();
    expect(events).toEqual(['open', 'el 1', 'close']);
  });
});
