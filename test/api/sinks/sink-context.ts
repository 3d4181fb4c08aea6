/** A SinkWriterContext for tests that create writers directly. */
import type { SinkWriterContext } from '../../../src/api/sink.ts';

export function sinkContext(overrides: Partial<SinkWriterContext> = {}): SinkWriterContext {
  return {
    jobName: 'test-job',
    operatorName: 'sink',
    operatorId: 'sink-uid',
    subtaskIndex: 0,
    parallelism: 1,
    restoredCheckpointId: undefined,
    restoredParallelism: undefined,
    lineageId: '0123abcd',
    ...overrides,
  };
}
