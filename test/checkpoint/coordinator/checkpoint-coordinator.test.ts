/** The checkpoint coordinator against a scripted gateway: which checkpoints complete, abort or are triggered, and when. */
import { describe, expect, it } from 'vitest';
import type { CheckpointConfig } from '../../../src/checkpoint/checkpoint-config.ts';
import { resolveCheckpointConfig } from '../../../src/checkpoint/checkpoint-config.ts';
import {
  CheckpointCoordinator,
  type CheckpointGateway,
  type CompletedCheckpoint,
  type CoordinatorStorage,
  type WritableCheckpointLocation,
} from '../../../src/checkpoint/checkpoint-coordinator.ts';
import type { SubtaskId } from '../../../src/checkpoint/checkpoint-messages.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import type { CheckpointBarrier } from '../../../src/runtime/elements.ts';

const SUBTASKS: readonly SubtaskId[] = [
  { vertexId: 0, subtaskIndex: 0 },
  { vertexId: 1, subtaskIndex: 0 },
];

function location(pointer: string): WritableCheckpointLocation {
  return {
    pointer,
    writeFile: async (name, bytes) => ({ relativePath: name, sizeBytes: bytes.length, crc32c: 0 }) as never,
    writeSharedFile: async (name, bytes) =>
      ({ relativePath: `../shared/${name}`, sizeBytes: bytes.length, crc32c: 0 }) as never,
    openFile: () => Promise.reject(new Error('the coordinator writes no state files')),
    openSharedFile: () => Promise.reject(new Error('the coordinator writes no state files')),
    commitMetadata: async () => {},
    discard: async () => {},
  };
}

/** A coordinator with in-memory storage and a gateway that records what reached the job. */
function setUp(config: Partial<CheckpointConfig> = {}) {
  const clock = new ManualClock(0);
  const storage: CoordinatorStorage = {
    createCheckpointLocation: async (_job, id) => location(`chk-${id}`),
    createSavepointLocation: async (_job, id) => location(`savepoint-${id}`),
  };
  const completed: CompletedCheckpoint[] = [];
  const triggered: CheckpointBarrier[] = [];
  const notifiedComplete: number[] = [];
  const notifiedAborted: number[] = [];
  const failures: string[] = [];
  const coordinator = new CheckpointCoordinator({
    config: resolveCheckpointConfig(config),
    clock,
    jobId: 'job',
    jobName: 'job',
    maxParallelism: 128,
    storage,
    store: {
      add: async (checkpoint) => {
        completed.push(checkpoint);
      },
      latest: () => completed.at(-1),
    },
    firstCheckpointId: 1,
    onFailJob: (reason) => failures.push(reason),
    log: () => {},
  });
  const gateway: CheckpointGateway = {
    subtasks: () => SUBTASKS,
    trigger: (barrier) => triggered.push(barrier),
    notifyComplete: (id) => notifiedComplete.push(id),
    notifyAborted: (id) => notifiedAborted.push(id),
  };
  coordinator.start(gateway);
  const acknowledgeAll = (checkpointId: number) => {
    for (const subtask of SUBTASKS) {
      coordinator.acknowledge({
        checkpointId,
        subtask,
        operators: [],
        stats: { alignmentDurationMs: 0, syncDurationMs: 0, asyncDurationMs: 0, stateSizeBytes: 0 },
      });
    }
  };
  return { clock, coordinator, triggered, notifiedComplete, notifiedAborted, failures, acknowledgeAll };
}

/** Lets the coordinator's promise chains (trigger, completion) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('checkpoint coordinator: savepoints and subsumption', () => {
  it('a completing savepoint does not abort an older checkpoint in flight', async () => {
    const { coordinator, notifiedAborted, acknowledgeAll } = setUp();
    const checkpoint = coordinator.trigger('checkpoint');
    const savepoint = coordinator.trigger('savepoint', 'savepoints');
    await settle();
    acknowledgeAll(2);
    expect(await savepoint).toMatchObject({ kind: 'completed' });
    expect(notifiedAborted, 'savepoints are not recovery points: they subsume nothing').toEqual([]);
    acknowledgeAll(1);
    expect(await checkpoint).toMatchObject({ kind: 'completed' });
  });

  it('a completing checkpoint still subsumes an older checkpoint in flight', async () => {
    const { coordinator, notifiedAborted, acknowledgeAll } = setUp({ maxConcurrent: 2 });
    const older = coordinator.trigger('checkpoint');
    const newer = coordinator.trigger('checkpoint');
    await settle();
    acknowledgeAll(2);
    expect(await newer).toMatchObject({ kind: 'completed' });
    expect(await older).toMatchObject({ kind: 'failed', reason: 'subsumed by checkpoint 2' });
    expect(notifiedAborted).toEqual([1]);
  });
});

describe('checkpoint coordinator: the final checkpoint once every source ended', () => {
  it('triggers a checkpoint at once, without waiting for the periodic interval', async () => {
    const { coordinator, triggered } = setUp({ intervalMs: 60_000 });
    coordinator.requestFinalCheckpoint();
    await settle();
    expect(triggered.map((b) => [b.checkpointId, b.snapshotKind])).toEqual([[1, 'checkpoint']]);
  });

  it('waits for the checkpoint in flight (max concurrent), then for the min pause', async () => {
    const { clock, coordinator, triggered, acknowledgeAll } = setUp({ intervalMs: 60_000, minPauseMs: 500 });
    const first = coordinator.trigger('checkpoint');
    await settle();
    coordinator.requestFinalCheckpoint();
    await settle();
    expect(
      triggered.map((b) => b.checkpointId),
      'max concurrent 1: checkpoint 1 is in flight',
    ).toEqual([1]);
    clock.advance(100);
    acknowledgeAll(1);
    expect(await first).toMatchObject({ kind: 'completed' });
    await settle();
    expect(
      triggered.map((b) => b.checkpointId),
      'the min pause runs from the completion',
    ).toEqual([1]);
    clock.advance(499);
    await settle();
    expect(triggered.map((b) => b.checkpointId)).toEqual([1]);
    clock.advance(1);
    await settle();
    expect(triggered.map((b) => b.checkpointId)).toEqual([1, 2]);
  });

  it('a savepoint in flight does not hold it back, and it is a checkpoint', async () => {
    const { coordinator, triggered } = setUp({ intervalMs: 60_000 });
    void coordinator.trigger('savepoint', 'savepoints');
    await settle();
    coordinator.requestFinalCheckpoint();
    await settle();
    expect(triggered.map((b) => [b.checkpointId, b.snapshotKind])).toEqual([
      [1, 'savepoint'],
      [2, 'checkpoint'],
    ]);
  });

  it('does nothing without periodic checkpointing, or once stopped', async () => {
    const off = setUp();
    off.coordinator.requestFinalCheckpoint();
    await settle();
    expect(off.triggered).toEqual([]);
    const stopped = setUp({ intervalMs: 60_000, minPauseMs: 500 });
    const first = stopped.coordinator.trigger('checkpoint');
    await settle();
    stopped.acknowledgeAll(1);
    await first;
    stopped.coordinator.requestFinalCheckpoint();
    stopped.coordinator.stop('the job attempt ended');
    stopped.clock.advance(1_000);
    await settle();
    expect(stopped.triggered.map((b) => b.checkpointId)).toEqual([1]);
  });
});
