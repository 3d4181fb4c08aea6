/**
 * Broadcast state at p = 1, 2, 4: rules broadcast to a keyed stream of events, and to a non-keyed one.
 *
 * Rules and events come from two sources, so how they interleave at each subtask is up to the
 * runtime. The job makes its output independent of that, as Flink's documentation advises: each
 * key buffers its events in keyed state until the rule stream's end marker has arrived; the
 * marker's arrival replays every buffered event (applyToKeyedState), and later events are judged
 * at once. So every event is judged against the complete, final rule set, in its key's order.
 * The test holds the second half of the events back until every subtask has seen the marker, so
 * both paths run whatever the scheduling.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BroadcastProcessFunction,
  type Collector,
  CollectSink,
  type KeyedBroadcastContext,
  type KeyedBroadcastProcessFunction,
  type KeyedReadOnlyBroadcastContext,
  mapState,
  type RuntimeContext,
  StreamExecutionEnvironment,
  type ValueState,
  valueState,
} from '../../src/index.ts';
import { GatedSource, multiset, PARALLELISMS, waitFor } from './support.ts';

type Rule = { readonly kind: string; readonly threshold: number } | { readonly done: true };

interface Event {
  readonly user: string;
  readonly kind: string;
  readonly amount: number;
}

const RULES = mapState<string, number>('thresholds');
const COMPLETE = '$complete';

/** Per-user state: how many events were judged, and the events waiting for the complete rule set. */
class RuleEvaluator implements KeyedBroadcastProcessFunction<string, Event, Rule, string> {
  judged!: ValueState<number>;
  buffered = valueState<Event[]>('buffered');
  waiting!: ValueState<Event[]>;

  open(context: RuntimeContext): void {
    this.judged = context.getState(valueState<number>('judged'));
    this.waiting = context.getState(this.buffered);
  }

  processElement(event: Event, ctx: KeyedReadOnlyBroadcastContext<string>, out: Collector<string>): void {
    const rules = ctx.getBroadcastState(RULES);
    if (!rules.contains(COMPLETE)) {
      this.waiting.update([...(this.waiting.value() ?? []), event]);
      return;
    }
    this.#judge(event, (kind) => rules.get(kind), out);
  }

  processBroadcastElement(rule: Rule, ctx: KeyedBroadcastContext, out: Collector<string>): void {
    const rules = ctx.getBroadcastState(RULES);
    if (!('done' in rule)) {
      rules.put(rule.kind, rule.threshold);
      return;
    }
    rules.put(COMPLETE, 0);
    out.collect(COMPLETE);
    ctx.applyToKeyedState(this.buffered, (_user, state) => {
      for (const event of state.value() ?? []) this.#judge(event, (kind) => rules.get(kind), out);
      state.clear();
    });
  }

  /** Keyed state read here belongs to the event's user: applyToKeyedState sets the key as it visits. */
  #judge(event: Event, thresholdOf: (kind: string) => number | undefined, out: Collector<string>): void {
    const n = (this.judged.value() ?? 0) + 1;
    this.judged.update(n);
    const threshold = thresholdOf(event.kind);
    if (threshold !== undefined && event.amount > threshold) {
      out.collect(`${event.user}#${n} ${event.kind} ${event.amount} > ${threshold}`);
    }
  }
}

function referenceAlerts(rules: readonly Rule[], events: readonly Event[]): string[] {
  const thresholds = new Map<string, number>();
  for (const rule of rules) if (!('done' in rule)) thresholds.set(rule.kind, rule.threshold);
  const judged = new Map<string, number>();
  const alerts: string[] = [];
  for (const event of events) {
    const n = (judged.get(event.user) ?? 0) + 1;
    judged.set(event.user, n);
    const threshold = thresholds.get(event.kind);
    if (threshold !== undefined && event.amount > threshold) {
      alerts.push(`${event.user}#${n} ${event.kind} ${event.amount} > ${threshold}`);
    }
  }
  return alerts;
}

const KINDS = ['card', 'wire', 'cash', 'crypto'];
const rulesArb = fc.array(
  fc.record({ kind: fc.constantFrom(...KINDS), threshold: fc.integer({ min: 0, max: 100 }) }),
  { maxLength: 8 },
);
const eventsArb = fc.array(
  fc.record({
    user: fc.constantFrom('u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'),
    kind: fc.constantFrom(...KINDS),
    amount: fc.integer({ min: 0, max: 120 }),
  }),
  { maxLength: 80 },
);

describe('broadcast state with a keyed stream', () => {
  it('judges every event against the final rules, in each key’s order, like the reference', async () => {
    await fc.assert(
      fc.asyncProperty(rulesArb, eventsArb, async (ruleUpdates, events) => {
        const rules: Rule[] = [...ruleUpdates, { done: true }];
        const expected = multiset(referenceAlerts(rules, events));
        const half = Math.floor(events.length / 2);
        for (const parallelism of PARALLELISMS) {
          const env = new StreamExecutionEnvironment({ parallelism });
          const sink = new CollectSink<string>();
          const eventSource = new GatedSource(events.slice(0, half), events.slice(half));
          env
            .fromSource(eventSource, undefined, 'Source: Events')
            .keyBy((e) => e.user)
            .connect(env.fromCollection(rules).broadcast(RULES))
            .process(() => new RuleEvaluator())
            .sinkTo(sink);
          const client = env.executeAsync('rules');
          const completed = () => sink.values.filter((v) => v === COMPLETE).length;
          await waitFor(() => completed() === parallelism, 'every subtask to see the complete rule set');
          eventSource.release();
          await client.result();
          const alerts = sink.values.filter((v) => v !== COMPLETE);
          expect(multiset(alerts), `p=${parallelism}`).toEqual(expected);
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('broadcast state with a non-keyed stream', () => {
  it('every subtask receives every rule once, in order, and holds the same final state', async () => {
    const rules: Rule[] = Array.from({ length: 40 }, (_, i) => ({ kind: KINDS[i % 4], threshold: i }));
    const finalThresholds = new Map<string, number>();
    for (const rule of rules) if (!('done' in rule)) finalThresholds.set(rule.kind, rule.threshold);
    for (const parallelism of PARALLELISMS) {
      const env = new StreamExecutionEnvironment({ parallelism });
      const sink = new CollectSink<string>();
      const fn: BroadcastProcessFunction<number, Rule, string> = {
        processElement() {},
        processBroadcastElement(rule, ctx, out) {
          if ('done' in rule) return;
          const state = ctx.getBroadcastState(RULES);
          state.put(rule.kind, rule.threshold);
          out.collect(`${rule.kind}=${rule.threshold} now ${[...state.entries()].sort().join(';')}`);
        },
      };
      env
        .fromCollection([1, 2, 3])
        .rebalance()
        .connect(env.fromCollection(rules).broadcast(RULES))
        .process(fn)
        .sinkTo(sink);
      await env.execute('broadcast rules');
      const expectedSequence: string[] = [];
      const state = new Map<string, number>();
      for (const rule of rules) {
        if ('done' in rule) continue;
        state.set(rule.kind, rule.threshold);
        expectedSequence.push(`${rule.kind}=${rule.threshold} now ${[...state.entries()].sort().join(';')}`);
      }
      for (let subtask = 0; subtask < parallelism; subtask++) {
        expect(sink.valuesOf(subtask), `p=${parallelism}, subtask ${subtask}`).toEqual(expectedSequence);
      }
    }
  });
});
