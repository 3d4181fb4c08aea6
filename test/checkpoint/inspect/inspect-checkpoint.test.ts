/** `weir inspect` core: the report of a checkpoint or savepoint, per-file verification, and the text form. */
import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatInspectReport,
  type InspectReport,
  inspectCheckpoint,
} from '../../../src/checkpoint/inspect/inspect-checkpoint.ts';
import { FileSystemCheckpointStorage } from '../../../src/checkpoint/storage/file-system-checkpoint-storage.ts';
import { InMemoryFileSystem } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import {
  commitSampleCheckpoint,
  damageFile,
  flipByte,
  truncateTo,
  writeSampleCheckpoint,
} from '../storage/checkpoint-fixtures.ts';

async function setup() {
  const fileSystem = new InMemoryFileSystem();
  const storage = new FileSystemCheckpointStorage('/ck', { fileSystem });
  const location = await storage.createCheckpointLocation('3f2a', 7);
  const metadata = await commitSampleCheckpoint(location, {
    jobId: '3f2a',
    checkpointId: 7,
    jobName: 'word count',
  });
  return { fileSystem, storage, location, metadata };
}

async function inspect(path: string, fileSystem: InMemoryFileSystem, verify = true): Promise<InspectReport> {
  const result = await inspectCheckpoint(path, { fileSystem, verify });
  if (result.status !== 'inspected') throw new Error(result.message);
  return result.report;
}

describe('inspectCheckpoint', () => {
  it('describes operators, uids, parallelism, key-group ranges, sizes and verifies every file', async () => {
    const { fileSystem, metadata } = await setup();
    const report = await inspect('/ck/3f2a/chk-7', fileSystem);
    expect(report).toMatchObject({
      pointer: '/ck/3f2a/chk-7',
      metadataPath: '/ck/3f2a/chk-7/_metadata',
      kind: 'checkpoint',
      jobId: '3f2a',
      jobName: 'word count',
      checkpointId: 7,
      maxParallelism: 128,
      fileCount: 5,
      filesVerified: 5,
      filesFailed: 0,
      ok: true,
    });
    const [source, counts] = report.operators;
    expect(source).toMatchObject({ operatorId: 'source/1', uid: undefined, parallelism: 1, sizeBytes: 24 });
    expect(source.subtasks[0]).toMatchObject({ finished: true, keyGroupRange: undefined });
    expect(counts).toMatchObject({ operatorId: 'counts', uid: 'counts', parallelism: 2 });
    expect(counts.subtasks.map((s) => s.keyGroupRange)).toEqual([
      { start: 0, end: 63 },
      { start: 64, end: 127 },
    ]);
    expect(counts.subtasks[1].keyed).toMatchObject({
      relativePath: 'counts-1.keyed',
      path: '/ck/3f2a/chk-7/counts-1.keyed',
      sizeBytes: 301,
      verification: { status: 'ok' },
    });
    const stateBytes = metadata.operators.flatMap((o) => o.subtasks).length; // non-zero sanity
    expect(stateBytes).toBeGreaterThan(0);
    expect(report.totalSizeBytes).toBe(24 + 300 + 40 + 301 + 40 + report.metadataSizeBytes);
  });

  it('reports each damaged file as FAILED with the reason, and the rest as OK', async () => {
    const { fileSystem } = await setup();
    await damageFile(fileSystem, '/ck/3f2a/chk-7/counts-0.keyed', flipByte(9));
    await damageFile(fileSystem, '/ck/3f2a/chk-7/counts-1.opstate', truncateTo(10));
    await fileSystem.remove('/ck/3f2a/chk-7/source%2F1-0.opstate');
    const report = await inspect('/ck/3f2a/chk-7/_metadata', fileSystem);
    expect(report).toMatchObject({ filesVerified: 5, filesFailed: 3, ok: false });
    const text = formatInspectReport(report);
    expect(text).toMatch(
      /counts-0\.keyed\s+300 B\s+FAILED: checksum mismatch \(expected 0x[0-9a-f]{8}, found 0x[0-9a-f]{8}\)/,
    );
    expect(text).toMatch(/counts-1\.opstate\s+40 B\s+FAILED: truncated \(expected 40 bytes, found 10\)/);
    expect(text).toMatch(/source%2F1-0\.opstate\s+24 B\s+FAILED: file is missing/);
    expect(text).toMatch(/counts-1\.keyed\s+301 B\s+OK/);
    expect(text).toContain('verification     2 OK, 3 FAILED');
  });

  it('formats a readable report', async () => {
    const { fileSystem } = await setup();
    const text = formatInspectReport(await inspect('/ck/3f2a/chk-7', fileSystem));
    const lines = text.split('\n');
    expect(lines[0]).toBe("checkpoint 7 of job 'word count' (3f2a)");
    expect(text).toContain('  path             /ck/3f2a/chk-7');
    expect(text).toContain('  triggered        2023-11-14T22:13:27.000Z, completed after 42 ms');
    expect(text).toContain('  max parallelism  128');
    expect(text).toMatch(/ {2}size {13}\d+\.\d KiB in 6 files \(2 operators; _metadata \d+(\.\d)? (B|KiB)\)/);
    expect(text).toContain("operator 'Source: numbers'  id source/1  parallelism 1  24 B");
    expect(text).toContain("operator 'Keyed Reduce'  uid 'counts'  parallelism 2  681 B");
    expect(text).toContain('  subtask       key groups  file                  size  check');
    expect(text).toContain('  0 (finished)  -           source%2F1-0.opstate  24 B  OK');
    expect(text).toContain('  subtask  key groups  file              size   check');
    expect(text).toContain('  0        0-63        counts-0.keyed    300 B  OK');
    expect(text).toContain('                       counts-0.opstate  40 B   OK');
    expect(text).toContain('  1        64-127      counts-1.keyed    301 B  OK');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('can skip verification', async () => {
    const { fileSystem } = await setup();
    const report = await inspect('/ck/3f2a/chk-7', fileSystem, false);
    expect(report).toMatchObject({ filesVerified: 0, filesFailed: 0, ok: true });
    expect(formatInspectReport(report)).toContain('verification     skipped');
    expect(formatInspectReport(report)).toContain('not checked');
  });

  it('inspects a savepoint', async () => {
    const fileSystem = new InMemoryFileSystem();
    const storage = new FileSystemCheckpointStorage('/ck', { fileSystem });
    const location = await storage.createSavepointLocation('abc', 12, '/sp');
    await commitSampleCheckpoint(location, {
      jobId: 'abc',
      checkpointId: 12,
      kind: 'savepoint',
      jobName: 'fraud',
    });
    const report = await inspect(location.pointer, fileSystem);
    expect(formatInspectReport(report).split('\n')[0]).toBe("savepoint 12 of job 'fraud' (abc)");
  });

  it('explains why there is no report: no _metadata, or a damaged one', async () => {
    const { fileSystem, storage } = await setup();
    await writeSampleCheckpoint(await storage.createCheckpointLocation('3f2a', 8), {
      jobId: '3f2a',
      checkpointId: 8,
    });
    const aborted = await inspectCheckpoint('/ck/3f2a/chk-8', { fileSystem });
    expect(aborted).toMatchObject({ status: 'not-found', path: '/ck/3f2a/chk-8' });
    expect(aborted.status !== 'inspected' && aborted.message).toContain(
      '/ck/3f2a/chk-8/_metadata does not exist',
    );
    await damageFile(fileSystem, '/ck/3f2a/chk-7/_metadata', truncateTo(100));
    const damaged = await inspectCheckpoint('/ck/3f2a/chk-7', { fileSystem });
    expect(damaged).toMatchObject({ status: 'unreadable', path: '/ck/3f2a/chk-7' });
    expect(damaged.status !== 'inspected' && damaged.message).toMatch(
      /^cannot read _metadata: \/ck\/3f2a\/chk-7\/_metadata: truncated/,
    );
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
