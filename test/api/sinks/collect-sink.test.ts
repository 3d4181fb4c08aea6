/** Tests of CollectSink: one shared list in arrival order, plus each subtask's own. */
import { describe, expect, it } from 'vitest';
import { CollectSink } from '../../../src/api/sinks/collect-sink.ts';
import { sinkContext } from './sink-context.ts';

describe('CollectSink', () => {
  it('collects from every subtask into one list and per-subtask lists', () => {
    const sink = new CollectSink<string>();
    const first = sink.createWriter(
      sinkContext({ subtaskIndex: 0, parallelism: 2, operatorName: 'collect' }),
    );
    const second = sink.createWriter(
      sinkContext({ subtaskIndex: 1, parallelism: 2, operatorName: 'collect' }),
    );
    first.write('a', 1);
    second.write('b', undefined);
    first.write('c', 3);
    expect(sink.values).toEqual(['a', 'b', 'c']);
    expect(sink.valuesOf(0)).toEqual(['a', 'c']);
    expect(sink.valuesOf(1)).toEqual(['b']);
    expect(sink.valuesOf(5)).toEqual([]);
    expect(sink.records[1]).toEqual({ value: 'b', timestampMs: undefined, subtaskIndex: 1 });
  });

  it('keeps collecting through existing writers after clear', () => {
    const sink = new CollectSink<number>();
    const writer = sink.createWriter(
      sinkContext({ subtaskIndex: 0, parallelism: 1, operatorName: 'collect' }),
    );
    writer.write(1, undefined);
    sink.clear();
    expect(sink.values).toEqual([]);
    writer.write(2, undefined);
    expect(sink.values).toEqual([2]);
    expect(sink.valuesOf(0)).toEqual([2]);
  });
});
