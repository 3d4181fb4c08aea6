/** resolveRestorePoint: `latest` with verification and fallback, explicit paths, savepoints of other jobs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referencedStateFiles } from '../../../src/checkpoint/snapshot-handles.ts';
import { FileSystemCheckpointStorage } from '../../../src/checkpoint/storage/file-system-checkpoint-storage.ts';
import { InMemoryFileSystem } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import {
  type RestorePointResolution,
  resolveRestorePoint,
} from '../../../src/checkpoint/storage/resolve-restore-point.ts';
import {
  commitSampleCheckpoint,
  copyDirectory,
  damageFile,
  flipByte,
  truncateTo,
  writeSampleCheckpoint,
} from './checkpoint-fixtures.ts';

const DIR = '/ck';

async function setup(jobs: Record<string, number[]>) {
  const fileSystem = new InMemoryFileSystem();
  const storage = new FileSystemCheckpointStorage(DIR, { fileSystem });
  for (const [jobId, ids] of Object.entries(jobs)) {
    for (const checkpointId of ids) {
      const location = await storage.createCheckpointLocation(jobId, checkpointId);
      await commitSampleCheckpoint(location, {
        jobId,
        checkpointId,
        jobName: jobId.startsWith('other') ? 'other' : 'word count',
      });
    }
  }
  return { fileSystem, storage };
}

function resolved(resolution: RestorePointResolution) {
  if (resolution.status !== 'resolved')
    throw new Error(`expected resolved, got ${resolution.status}: ${resolution.message}`);
  return resolution;
}

describe('resolveRestorePoint: latest', () => {
  it('picks the newest completed checkpoint and verifies it', async () => {
    const { fileSystem } = await setup({ a: [1, 2, 3] });
    const result = resolved(
      await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem }),
    );
    expect(result.restorePoint.pointer).toBe('/ck/a/chk-3');
    expect(result.restorePoint.metadata.checkpointId).toBe(3);
    expect(result.warnings).toEqual([]);
    expect(result.highestCheckpointIdSeen).toBe(3);
    const [handle] = referencedStateFiles(result.restorePoint.metadata);
    expect(await result.restorePoint.storage.readFile(result.restorePoint.pointer, handle)).toHaveLength(
      handle.sizeBytes,
    );
  });

  it('falls back to the next older intact checkpoint when the newest has a flipped byte, and says so', async () => {
    const { fileSystem } = await setup({ a: [5, 6, 7] });
    await damageFile(fileSystem, '/ck/a/chk-7/counts-1.keyed', flipByte(3));
    const result = resolved(
      await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem }),
    );
    expect(result.restorePoint.metadata.checkpointId).toBe(6);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(
      /^checkpoint chk-7 is damaged \(\/ck\/a\/chk-7\/counts-1\.keyed: checksum mismatch \(expected 0x[0-9a-f]{8}, found 0x[0-9a-f]{8}\)\); restoring chk-6 instead$/,
    );
    expect(result.damaged).toEqual([
      { pointer: '/ck/a/chk-7', problems: [expect.stringContaining('counts-1.keyed')] },
    ]);
    expect(result.highestCheckpointIdSeen).toBe(7);
  });

  it('skips a truncated _metadata and a missing state file', async () => {
    const { fileSystem } = await setup({ a: [1, 2, 3] });
    await damageFile(fileSystem, '/ck/a/chk-3/_metadata', truncateTo(30));
    await fileSystem.remove('/ck/a/chk-2/counts-0.opstate');
    const result = resolved(
      await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem }),
    );
    expect(result.restorePoint.metadata.checkpointId).toBe(1);
    expect(result.warnings).toEqual([
      expect.stringMatching(
        /^checkpoint chk-3 is damaged \(\/ck\/a\/chk-3\/_metadata: truncated .*\); restoring chk-1 instead$/,
      ),
      'checkpoint chk-2 is damaged (/ck/a/chk-2/counts-0.opstate: file is missing); restoring chk-1 instead',
    ]);
  });

  it('ignores aborted checkpoints (no _metadata) but counts their ids', async () => {
    const { fileSystem, storage } = await setup({ a: [1] });
    await writeSampleCheckpoint(await storage.createCheckpointLocation('a', 2), {
      jobId: 'a',
      checkpointId: 2,
    });
    const result = resolved(
      await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem }),
    );
    expect(result.restorePoint.metadata.checkpointId).toBe(1);
    expect(result.warnings).toEqual([]);
    expect(result.highestCheckpointIdSeen).toBe(2);
  });

  it('reports when every checkpoint is damaged, naming each', async () => {
    const { fileSystem } = await setup({ a: [1, 2] });
    await damageFile(fileSystem, '/ck/a/chk-1/_metadata', flipByte(50));
    await damageFile(fileSystem, '/ck/a/chk-2/counts-0.keyed', truncateTo(3));
    const result = await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem });
    expect(result.status).toBe('damaged');
    if (result.status !== 'damaged') return;
    expect(result.message).toMatch(
      /^no intact checkpoint in \/ck: chk-2 \(.*counts-0\.keyed: truncated.*\), chk-1 \(.*_metadata: checksum mismatch.*\)$/,
    );
    expect(result.damaged.map((d) => d.pointer)).toEqual(['/ck/a/chk-2', '/ck/a/chk-1']);
  });

  it('reports an empty or missing directory as not found', async () => {
    const fileSystem = new InMemoryFileSystem();
    expect(await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem })).toEqual({
      status: 'not-found',
      message: 'no completed checkpoint in /ck',
    });
  });

  it('across several job directories, prefers the most recently written and falls back into older jobs', async () => {
    // Job "b" resumed from "a" (ids continue) and crashed; its only checkpoint is damaged.
    const { fileSystem } = await setup({ a: [1, 2], b: [3] });
    const first = resolved(
      await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem }),
    );
    expect(first.restorePoint.pointer).toBe('/ck/b/chk-3');
    await damageFile(fileSystem, '/ck/b/chk-3/counts-0.keyed', flipByte(0));
    const second = resolved(
      await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR }, { fileSystem }),
    );
    expect(second.restorePoint.pointer).toBe('/ck/a/chk-2');
    expect(second.warnings).toEqual([
      expect.stringMatching(
        /^checkpoint chk-3 of job b is damaged \(.*\); restoring chk-2 of job a instead$/,
      ),
    ]);
  });

  it('restricts the search to an explicit job id', async () => {
    const { fileSystem } = await setup({ a: [1, 2], b: [3] });
    const result = resolved(
      await resolveRestorePoint({ kind: 'latest', checkpointDirectory: DIR, jobId: 'a' }, { fileSystem }),
    );
    expect(result.restorePoint.pointer).toBe('/ck/a/chk-2');
    const none = await resolveRestorePoint(
      { kind: 'latest', checkpointDirectory: DIR, jobId: 'zz' },
      { fileSystem },
    );
    expect(none).toEqual({ status: 'not-found', message: 'no completed checkpoint in /ck/zz' });
  });

  it('skips checkpoints of jobs with another name when a job name is given', async () => {
    const { fileSystem } = await setup({ a: [1], 'other-job': [2] });
    const result = resolved(
      await resolveRestorePoint(
        { kind: 'latest', checkpointDirectory: DIR, jobName: 'word count' },
        { fileSystem },
      ),
    );
    expect(result.restorePoint.pointer).toBe('/ck/a/chk-1');
    const none = await resolveRestorePoint(
      { kind: 'latest', checkpointDirectory: DIR, jobName: 'fraud' },
      { fileSystem },
    );
    expect(none.status).toBe('not-found');
    expect(none.status === 'not-found' && none.message).toMatch(
      /skipped checkpoints of other jobs: 'other', 'word count'/,
    );
  });
});

describe('resolveRestorePoint: a path', () => {
  it('accepts the checkpoint directory or its _metadata file', async () => {
    const { fileSystem } = await setup({ a: [1, 2] });
    for (const path of ['/ck/a/chk-1', '/ck/a/chk-1/', '/ck/a/chk-1/_metadata']) {
      const result = resolved(await resolveRestorePoint({ kind: 'path', path }, { fileSystem }));
      expect(result.restorePoint.pointer).toBe('/ck/a/chk-1');
      expect(result.highestCheckpointIdSeen).toBe(1);
    }
  });

  it('refuses a damaged checkpoint without falling back, naming the file', async () => {
    const { fileSystem } = await setup({ a: [1, 2] });
    await damageFile(fileSystem, '/ck/a/chk-2/source%2F1-0.opstate', flipByte(1));
    const result = await resolveRestorePoint({ kind: 'path', path: '/ck/a/chk-2' }, { fileSystem });
    expect(result.status).toBe('damaged');
    expect(result.status === 'damaged' && result.message).toMatch(
      /^cannot restore \/ck\/a\/chk-2: \/ck\/a\/chk-2\/source%2F1-0\.opstate: checksum mismatch/,
    );
  });

  it('explains a directory that is not a completed checkpoint, or does not exist', async () => {
    const { fileSystem, storage } = await setup({ a: [1] });
    await writeSampleCheckpoint(await storage.createCheckpointLocation('a', 2), {
      jobId: 'a',
      checkpointId: 2,
    });
    const aborted = await resolveRestorePoint({ kind: 'path', path: '/ck/a/chk-2' }, { fileSystem });
    expect(aborted).toEqual({
      status: 'not-found',
      message:
        '/ck/a/chk-2 holds no _metadata: not a completed checkpoint or savepoint (an aborted checkpoint, or the wrong directory)',
    });
    const missing = await resolveRestorePoint({ kind: 'path', path: '/nowhere' }, { fileSystem });
    expect(missing).toEqual({ status: 'not-found', message: '/nowhere does not exist' });
  });

  it('restores a savepoint of another job, with a warning the caller can log', async () => {
    const fileSystem = new InMemoryFileSystem();
    const storage = new FileSystemCheckpointStorage(DIR, { fileSystem });
    const location = await storage.createSavepointLocation('other', 4, '/savepoints');
    await commitSampleCheckpoint(location, {
      jobId: 'other',
      checkpointId: 4,
      kind: 'savepoint',
      jobName: 'fraud',
    });
    const result = resolved(
      await resolveRestorePoint(
        { kind: 'path', path: location.pointer, jobName: 'word count' },
        { fileSystem },
      ),
    );
    expect(result.restorePoint.metadata).toMatchObject({
      kind: 'savepoint',
      jobId: 'other',
      jobName: 'fraud',
    });
    expect(result.warnings).toEqual([
      "restoring the savepoint of job 'fraud' (other) into job 'word count': state is matched by operator uid",
    ]);
  });

  it('restores a savepoint copied to another directory on a real file system', async () => {
    const root = await mkdtemp(join(tmpdir(), 'weir-resolve-'));
    try {
      const storage = new FileSystemCheckpointStorage(join(root, 'ck'));
      const location = await storage.createSavepointLocation('job', 3, join(root, 'sp'));
      const metadata = await commitSampleCheckpoint(location, {
        jobId: 'job',
        checkpointId: 3,
        kind: 'savepoint',
      });
      const { NodeCheckpointFileSystem } = await import(
        '../../../src/checkpoint/storage/checkpoint-file-system.ts'
      );
      const fs = new NodeCheckpointFileSystem();
      const moved = join(root, 'moved', 'sp');
      await copyDirectory(fs, location.pointer, fs, moved, join);
      await rm(location.pointer, { recursive: true });
      const result = resolved(await resolveRestorePoint({ kind: 'path', path: join(moved, '_metadata') }));
      expect(result.restorePoint.pointer).toBe(moved);
      expect(result.restorePoint.metadata).toEqual(metadata);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
