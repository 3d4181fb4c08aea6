/** Runs the storage conformance suite on JobManagerCheckpointStorage, plus its per-checkpoint size limit. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointSizeLimitError } from '../../../src/checkpoint/storage/checkpoint-errors.ts';
import { InMemoryFileSystem } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import {
  JOB_MANAGER_STATE_SIZE_BYTES_DEFAULT,
  JobManagerCheckpointStorage,
} from '../../../src/checkpoint/storage/job-manager-checkpoint-storage.ts';
import { ConfigurationError } from '../../../src/core/errors.ts';
import { bytesOf, commitSampleCheckpoint } from './checkpoint-fixtures.ts';
import { runCheckpointStorageConformance } from './checkpoint-storage-conformance.ts';

runCheckpointStorageConformance('JobManagerCheckpointStorage', async (wrap) => {
  const fileSystem = wrap(new InMemoryFileSystem());
  const savepointFileSystem = wrap(new InMemoryFileSystem());
  return {
    storage: new JobManagerCheckpointStorage({ fileSystem, savepointFileSystem }),
    fileSystem,
    savepointFileSystem,
    savepointParent: '/savepoints',
    copyTarget: '/elsewhere/moved-savepoint',
    join: (directory, name) =>
      directory.startsWith('memory://') ? `${directory}/${name}` : join(directory, name),
    cleanup: async () => {},
  };
});

describe('JobManagerCheckpointStorage', () => {
  it('names checkpoints memory://<job>/chk-<n>', async () => {
    const storage = new JobManagerCheckpointStorage();
    expect((await storage.createCheckpointLocation('job-1', 3)).pointer).toBe('memory://job-1/chk-3');
    expect(storage.maxStateSizeBytes).toBe(JOB_MANAGER_STATE_SIZE_BYTES_DEFAULT);
    expect(JOB_MANAGER_STATE_SIZE_BYTES_DEFAULT).toBe(5 * 1024 * 1024);
  });

  it('fails a checkpoint whose state files exceed the limit, with a clear error, before writing the excess', async () => {
    const fileSystem = new InMemoryFileSystem();
    const storage = new JobManagerCheckpointStorage({ maxStateSizeBytes: 1000, fileSystem });
    const location = await storage.createCheckpointLocation('job', 1);
    await location.writeFile('a', bytesOf(1, 600));
    await location.writeFile('b', bytesOf(2, 400));
    const error = await location.writeFile('c', bytesOf(3, 1)).catch((caught) => caught);
    expect(error).toBeInstanceOf(CheckpointSizeLimitError);
    expect(error).toMatchObject({ pointer: 'memory://job/chk-1', sizeBytes: 1001, limitBytes: 1000 });
    expect(error.message).toMatch(
      /memory:\/\/job\/chk-1 would hold 1001 bytes.*limit of 1000 bytes.*FileSystemCheckpointStorage/,
    );
    expect(fileSystem.filePaths()).toEqual(['memory://job/chk-1/a', 'memory://job/chk-1/b']);
  });

  it('checks the limit part by part for a file written in parts', async () => {
    const fileSystem = new InMemoryFileSystem();
    const storage = new JobManagerCheckpointStorage({ maxStateSizeBytes: 1000, fileSystem });
    const location = await storage.createCheckpointLocation('job', 1);
    const file = await location.openFile('a');
    await file.write(bytesOf(1, 600));
    await file.write(bytesOf(2, 400));
    await expect(file.write(bytesOf(3, 1))).rejects.toThrow(CheckpointSizeLimitError);
    expect(fileSystem.filePaths()).toEqual([]);
  });

  it('counts the limit per checkpoint, and forgets a checkpoint once committed or discarded', async () => {
    const storage = new JobManagerCheckpointStorage({ maxStateSizeBytes: 2000 });
    const first = await storage.createCheckpointLocation('job', 1);
    await commitSampleCheckpoint(first, { jobId: 'job', checkpointId: 1, fileBytes: 500 });
    const second = await storage.createCheckpointLocation('job', 2);
    await commitSampleCheckpoint(second, { jobId: 'job', checkpointId: 2, fileBytes: 500 });
    const third = await storage.createCheckpointLocation('job', 3);
    await second.discard();
    await expect(
      commitSampleCheckpoint(third, { jobId: 'job', checkpointId: 3, fileBytes: 1500 }),
    ).rejects.toThrow(CheckpointSizeLimitError);
    await third.discard();
    expect(await storage.listCompletedCheckpoints('job')).toEqual([1]);
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => new JobManagerCheckpointStorage({ maxStateSizeBytes: 0 })).toThrow(ConfigurationError);
    expect(() => new JobManagerCheckpointStorage({ maxStateSizeBytes: 1.5 })).toThrow(ConfigurationError);
  });

  it('writes savepoints to a file system, not to memory', async () => {
    const savepointFileSystem = new InMemoryFileSystem();
    const storage = new JobManagerCheckpointStorage({ savepointFileSystem });
    await expect(storage.createSavepointLocation('job', 1, 'memory://x')).rejects.toThrow(ConfigurationError);
    const location = await storage.createSavepointLocation('job', 1, '/sp');
    await commitSampleCheckpoint(location, { jobId: 'job', checkpointId: 1, kind: 'savepoint' });
    expect(savepointFileSystem.filePaths()).toContain('/sp/savepoint-job-1/_metadata');
  });
});
