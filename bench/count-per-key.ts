/** The keyed work every keyed benchmark measures: a running count per key in ValueState, and its plain-JS twin. */
import {
  type Collector,
  type KeyedContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
  valueState,
} from '../src/index.ts';
import type { Checksum } from './harness.ts';

/** Per record: read the key's count, add one, write it back, emit it (a rolling count, as Flink's sum). */
export class CountPerKey<K, T> implements KeyedProcessFunction<K, T, number> {
  count!: ValueState<number>;

  open(context: RuntimeContext): void {
    this.count = context.getState(valueState<number>('count', { defaultValue: 0 }));
  }

  processElement(_value: T, _ctx: KeyedContext<K>, out: Collector<number>): void {
    const next = this.count.value()! + 1;
    this.count.update(next);
    out.collect(next);
  }
}

/** The hand-written loop: the same counting in one Map; checksum = records and the sum of emitted counts. */
export function countPerKeyLoop<T, K>(data: readonly T[], keyOf: (value: T) => K): Checksum {
  const counts = new Map<K, number>();
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const key = keyOf(data[i]);
    const next = (counts.get(key) ?? 0) + 1;
    counts.set(key, next);
    sum += next;
  }
  return { count: data.length, sum };
}
