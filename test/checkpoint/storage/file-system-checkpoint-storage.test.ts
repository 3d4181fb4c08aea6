/** Runs the storage conformance suite on FileSystemCheckpointStorage over a real temp directory, plus its on-disk layout. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeCheckpointFileSystem } from '../../../src/checkpoint/storage/checkpoint-file-system.ts';
import { FileSystemCheckpointStorage } from '../../../src/checkpoint/storage/file-system-checkpoint-storage.ts';
import { InMemoryFileSystem } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import { commitSampleCheckpoint, writeSampleCheckpoint } from './checkpoint-fixtures.ts';
import { runCheckpointStorageConformance } from './checkpoint-storage-conformance.ts';

runCheckpointStorageConformance('FileSystemCheckpointStorage (real directory)', async (wrap) => {
  const root = await mkdtemp(join(tmpdir(), 'weir-fs-storage-'));
  const fileSystem = wrap(new NodeCheckpointFileSystem());
  return {
    storage: new FileSystemCheckpointStorage(join(root, 'checkpoints'), { fileSystem }),
    fileSystem,
    savepointFileSystem: fileSystem,
    savepointParent: join(root, 'savepoints'),
    copyTarget: join(root, 'elsewhere', 'moved-savepoint'),
    join,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

runCheckpointStorageConformance('FileSystemCheckpointStorage (in-memory twin)', async (wrap) => {
  const fileSystem = wrap(new InMemoryFileSystem());
  return {
    storage: new FileSystemCheckpointStorage('/ck', { fileSystem }),
    fileSystem,
    savepointFileSystem: fileSystem,
    savepointParent: '/savepoints',
    copyTarget: '/elsewhere/moved-savepoint',
    join,
    cleanup: async () => {},
  };
});

describe('FileSystemCheckpointStorage layout', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'weir-fs-layout-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lays out DIR/<job-id>/chk-<n>/_metadata with the state files, plus shared/ and taskowned/', async () => {
    const storage = new FileSystemCheckpointStorage(root);
    const location = await storage.createCheckpointLocation('3f2a', 7);
    expect(location.pointer).toBe(join(root, '3f2a', 'chk-7'));
    await commitSampleCheckpoint(location, { jobId: '3f2a', checkpointId: 7 });
    expect((await readdir(join(root, '3f2a'))).sort()).toEqual(['chk-7', 'shared', 'taskowned']);
    expect((await readdir(location.pointer)).sort()).toEqual([
      '_metadata',
      'counts-0.keyed',
      'counts-0.opstate',
      'counts-1.keyed',
      'counts-1.opstate',
      'source%2F1-0.opstate',
    ]);
    const metadata = await readFile(join(location.pointer, '_metadata'));
    expect(metadata.subarray(0, 8).toString('latin1')).toBe('WEIRMETA');
    expect(metadata.readUInt16LE(8)).toBe(1);
    // The JSON body is readable as is (weir inspect, or a human with a hex dump).
    const body = JSON.parse(metadata.subarray(14, metadata.length - 4).toString('utf8'));
    expect(body).toMatchObject({ jobId: '3f2a', checkpointId: 7, kind: 'checkpoint' });
  });

  it('resolves a relative directory to an absolute pointer', async () => {
    const storage = new FileSystemCheckpointStorage(join(root, 'a', '..', 'b'));
    expect(storage.directory).toBe(join(root, 'b'));
    const location = await storage.createCheckpointLocation('job', 1);
    await writeSampleCheckpoint(location, { jobId: 'job', checkpointId: 1 });
    expect(location.pointer).toBe(join(root, 'b', 'job', 'chk-1'));
  });

  it('uses the default savepoint directory when none is given', async () => {
    const storage = new FileSystemCheckpointStorage(root, { defaultSavepointDirectory: join(root, 'sp') });
    const location = await storage.createSavepointLocation('abcdef123', 4, undefined);
    expect(location.pointer).toBe(join(root, 'sp', 'savepoint-abcdef-4'));
  });

  it('needs a directory', () => {
    expect(() => new FileSystemCheckpointStorage('')).toThrow(/checkpoint directory/);
  });
});
