/** CompletedCheckpointStore: retention of the latest N, subsumption, cleanup of aborted directories, and the policy at job end. */
import { describe, expect, it } from 'vitest';
import { referencedStateFiles } from '../../../src/checkpoint/snapshot-handles.ts';
import type { CheckpointStorage } from '../../../src/checkpoint/storage/checkpoint-storage.ts';
import {
  type CheckpointRetention,
  type CompletedCheckpoint,
  CompletedCheckpointStore,
  type TerminalJobStatus,
} from '../../../src/checkpoint/storage/completed-checkpoint-store.ts';
import { FaultInjectingFileSystem } from '../../../src/checkpoint/storage/fault-injecting-file-system.ts';
import { InMemoryFileSystem } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import { JobManagerCheckpointStorage } from '../../../src/checkpoint/storage/job-manager-checkpoint-storage.ts';
import { SharedStateRegistry } from '../../../src/checkpoint/storage/shared-state-registry.ts';
import { ConfigurationError } from '../../../src/core/errors.ts';
import { commitSampleCheckpoint, writeSampleCheckpoint } from './checkpoint-fixtures.ts';

const JOB = 'job-1';

async function complete(
  storage: CheckpointStorage,
  checkpointId: number,
  jobId = JOB,
): Promise<CompletedCheckpoint> {
  const location = await storage.createCheckpointLocation(jobId, checkpointId);
  const metadata = await commitSampleCheckpoint(location, { jobId, checkpointId });
  return { metadata, location };
}

function setup(retainedCheckpoints = 1, retention?: CheckpointRetention) {
  const fileSystem = new FaultInjectingFileSystem(new InMemoryFileSystem());
  const storage = new JobManagerCheckpointStorage({ fileSystem });
  const store = new CompletedCheckpointStore({ storage, jobId: JOB, retainedCheckpoints, retention });
  return { fileSystem, storage, store };
}

describe('CompletedCheckpointStore', () => {
  it('keeps the latest N and deletes the ones it subsumes', async () => {
    const { storage, store } = setup(2);
    const ids: number[][] = [];
    for (const id of [1, 2, 3, 4]) {
      const result = await store.add(await complete(storage, id));
      ids.push(result.subsumed.map((c) => c.metadata.checkpointId));
      expect(result.discardFailures).toEqual([]);
    }
    expect(ids).toEqual([[], [], [1], [2]]);
    expect(store.checkpoints().map((c) => c.metadata.checkpointId)).toEqual([3, 4]);
    expect(store.latest()?.metadata.checkpointId).toBe(4);
    expect(await storage.listCompletedCheckpoints(JOB)).toEqual([3, 4]);
    for (const retained of store.checkpoints()) {
      for (const handle of referencedStateFiles(retained.metadata)) {
        expect((await storage.verifyFile(retained.location.pointer, handle)).status).toBe('ok');
      }
    }
  });

  it('retains 1 by default', async () => {
    const { storage, store } = setup();
    await store.add(await complete(storage, 1));
    await store.add(await complete(storage, 2));
    expect(await storage.listCompletedCheckpoints(JOB)).toEqual([2]);
  });

  it('deletes aborted checkpoint directories below the one added, but not newer ones in flight', async () => {
    const { storage, store } = setup();
    const aborted = await storage.createCheckpointLocation(JOB, 1);
    await writeSampleCheckpoint(aborted, { jobId: JOB, checkpointId: 1 });
    const inFlight = await storage.createCheckpointLocation(JOB, 3);
    await writeSampleCheckpoint(inFlight, { jobId: JOB, checkpointId: 3 });
    const result = await store.add(await complete(storage, 2));
    expect(result.abortedRemoved).toEqual([1]);
    expect(await storage.discardAbortedCheckpoints(JOB)).toEqual([3]);
  });

  it('insists that checkpoint ids increase', async () => {
    const { storage, store } = setup();
    await store.add(await complete(storage, 5));
    const older = await complete(storage, 4);
    await expect(store.add(older)).rejects.toThrow(/ids must increase: adding 4 after 5/);
  });

  it('never deletes a savepoint or another job’s checkpoint it was restored from', async () => {
    const { storage, store } = setup();
    const foreign = await complete(storage, 7, 'old-job');
    await store.add(foreign);
    await store.add(await complete(storage, 8));
    expect(store.checkpoints().map((c) => c.metadata.checkpointId)).toEqual([8]);
    expect(await storage.listCompletedCheckpoints('old-job')).toEqual([7]);
    await store.shutdown('FINISHED');
    expect(await storage.listCompletedCheckpoints('old-job')).toEqual([7]);
  });

  const policy: [TerminalJobStatus, CheckpointRetention, boolean][] = [
    ['FINISHED', 'RETAIN_ON_CANCELLATION', false],
    ['FINISHED', 'DELETE_ON_CANCELLATION', false],
    ['CANCELED', 'RETAIN_ON_CANCELLATION', true],
    ['CANCELED', 'DELETE_ON_CANCELLATION', false],
    ['FAILED', 'RETAIN_ON_CANCELLATION', true],
    ['FAILED', 'DELETE_ON_CANCELLATION', true],
    ['SUSPENDED', 'DELETE_ON_CANCELLATION', true],
  ];
  for (const [status, retention, kept] of policy) {
    it(`on ${status} with ${retention} ${kept ? 'keeps' : 'deletes'} the retained checkpoints`, async () => {
      const { storage, store } = setup(2, retention);
      await store.add(await complete(storage, 1));
      await store.add(await complete(storage, 2));
      const aborted = await storage.createCheckpointLocation(JOB, 3);
      await writeSampleCheckpoint(aborted, { jobId: JOB, checkpointId: 3 });
      const result = await store.shutdown(status);
      expect(result.discardFailures).toEqual([]);
      expect(await storage.listCompletedCheckpoints(JOB)).toEqual(kept ? [1, 2] : []);
      expect(result.retained.map((c) => c.metadata.checkpointId)).toEqual(kept ? [1, 2] : []);
      expect(result.discarded.map((c) => c.metadata.checkpointId)).toEqual(kept ? [] : [1, 2]);
      // Aborted directories never survive the job; nothing survives a deleting shutdown.
      expect(await storage.discardAbortedCheckpoints(JOB)).toEqual([]);
      expect(await storage.listJobIds()).toEqual(kept ? [JOB] : []);
    });
  }

  it('is closed after shutdown', async () => {
    const { storage, store } = setup();
    await store.shutdown('CANCELED');
    await expect(store.add(await complete(storage, 1))).rejects.toThrow(/shut down/);
    expect((await store.shutdown('FINISHED')).discarded).toEqual([]);
  });

  it('reports a failed deletion as a value and drops the checkpoint anyway', async () => {
    const { fileSystem, storage, store } = setup();
    await store.add(await complete(storage, 1));
    fileSystem.failNext('remove', 'chk-1', 'EIO');
    const result = await store.add(await complete(storage, 2));
    expect(result.subsumed.map((c) => c.metadata.checkpointId)).toEqual([1]);
    expect(result.discardFailures).toMatchObject([{ checkpointId: 1, pointer: 'memory://job-1/chk-1' }]);
    expect(store.checkpoints().map((c) => c.metadata.checkpointId)).toEqual([2]);
  });

  it('releases the shared files of subsumed checkpoints', async () => {
    const { storage } = setup();
    const released: string[] = [];
    const registry = new SharedStateRegistry(async (key) => {
      released.push(key);
    });
    const store = new CompletedCheckpointStore({ storage, jobId: JOB, sharedStateRegistry: registry });
    const first = await complete(storage, 1);
    registry.register(1, ['shared/a', 'shared/b']);
    await store.add(first);
    registry.register(2, ['shared/b']);
    await store.add(await complete(storage, 2));
    expect(released).toEqual(['shared/a']);
    expect(registry.referencedKeys()).toEqual(['shared/b']);
  });

  it('validates its configuration', () => {
    const storage = new JobManagerCheckpointStorage();
    for (const retainedCheckpoints of [0, 1.5, 1001]) {
      expect(() => new CompletedCheckpointStore({ storage, jobId: JOB, retainedCheckpoints })).toThrow(
        ConfigurationError,
      );
    }
    const retention = 'KEEP' as CheckpointRetention;
    expect(() => new CompletedCheckpointStore({ storage, jobId: JOB, retention })).toThrow(
      ConfigurationError,
    );
  });
});
