/**
 * Issue 4's bad conditions for the disk backend, in one running job each: a full disk while an
 * incremental checkpoint uploads (declined with the reason, the job keeps running, the next
 * checkpoint's delta carries the lost changes, no shared file leaks or goes missing), and
 * damaged or missing local-recovery copies at restore (the restore reads checkpoint storage
 * for those files and says so).
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FaultInjectingFileSystem,
  FileSystemCheckpointStorage,
  NodeCheckpointFileSystem,
  StreamExecutionEnvironment,
} from '../../../src/index.ts';
import { diskStateBackend } from '../../../src/state/backends/disk/index.ts';
import { CapturingLogger } from '../../it/fault-tolerance/support.ts';
import { expectedKeyedSum, type FailureSwitch, keyedSumJob } from './fixtures/keyed-sum-job.ts';
import { until } from './fixtures/until.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-bad-conditions-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const JOB_A = 'a'.repeat(32);
const JOB_B = 'b'.repeat(32);
const JOB_C = 'c'.repeat(32);
const SPEC = { count: 12_000, ratePerSecond: 6_000, keys: 500 };

const sorted = (names: Iterable<string>): string[] => [...names].sort();
const listOrEmpty = (path: string): string[] => (existsSync(path) ? readdirSync(path).sort() : []);

describe('disk backend under bad conditions', () => {
  it('a full disk during an incremental upload declines that checkpoint only; the next delta, the shared files and a failover from the local copy are exact', async () => {
    const dir = mkdtempSync(join(root, 'enospc-'));
    const fileSystem = new FaultInjectingFileSystem(new NodeCheckpointFileSystem());
    const storage = new FileSystemCheckpointStorage(join(dir, 'checkpoints'), { fileSystem });
    const localDirectory = join(dir, 'local');
    const logger = new CapturingLogger();
    const failures: FailureSwitch = { failNext: false, processed: 0 };
    const env = StreamExecutionEnvironment.create({
      parallelism: 2,
      maxParallelism: 16,
      stateBackend: diskStateBackend({ directory: join(dir, 'state') }),
      checkpointing: { intervalMs: 1e9, tolerableConsecutiveFailures: 5 },
      checkpointStorage: storage,
      restartStrategy: { kind: 'fixed-delay', attempts: 2, delayMs: 0 },
      localRecovery: { directory: localDirectory },
      jobId: JOB_A,
      logger,
    });
    const sink = keyedSumJob(env, SPEC, failures);
    const client = env.executeAsync('enospc');
    await until(() => failures.processed > 500, 'records flow');
    await client.triggerCheckpoint(); // 1: the bases

    await until(() => failures.processed > 1500, 'more records flow');
    fileSystem.failNext('writeFile', '/shared/', 'ENOSPC');
    const declined = await client.triggerCheckpoint().then(
      () => 'completed',
      (error: Error) => error.message,
    );
    expect(declined).toMatch(/checkpoint failed: .*ENOSPC.*\/shared\//);
    const failed = client.checkpointStatistics().find((s) => s.id === 2);
    expect(failed?.status).toBe('FAILED');
    expect(failed?.failureReason).toMatch(/writing the snapshot failed: .*ENOSPC/);
    expect(client.status()).toBe('RUNNING');

    await until(() => failures.processed > 2500, 'records flow after the failure');
    const third = await client.triggerCheckpoint();
    const metadata = await storage.loadMetadata(third);
    const count = metadata.operators.find((op) => op.operatorId === 'count')!;
    const referenced = new Set<string>();
    for (const subtask of count.subtasks) {
      const keyed = subtask.keyed!;
      expect(keyed.kind).toBe('incremental');
      if (keyed.kind !== 'incremental') continue;
      // Base of checkpoint 1, then one delta holding the changes of failed checkpoint 2 too.
      expect(keyed.files.map((f) => f.relativePath)).toHaveLength(2);
      for (const file of keyed.files) referenced.add(file.relativePath.replace('../shared/', ''));
    }
    // The registry kept both bases and deltas, and nothing of the declined checkpoint leaked.
    expect(listOrEmpty(join(dir, 'checkpoints', JOB_A, 'shared'))).toEqual(sorted(referenced));
    // Local copies: exactly what checkpoint 3 needs (the chain, the operator state files).
    await until(
      () => listOrEmpty(join(localDirectory, JOB_A)).join() === 'chk-3,shared',
      'older local copies are pruned',
    );
    expect(listOrEmpty(join(localDirectory, JOB_A, 'shared'))).toEqual(sorted(referenced));

    failures.failNext = true; // a failover restores checkpoint 3 from the local copies
    const result = await client.result();
    expect(result.restarts).toBe(1);
    expect(logger.text()).toMatch(
      /info local recovery: restored checkpoint 3 from the local copy \(\d+ files, \d+ bytes; checkpoint storage not read\)/,
    );
    expect([...sink.values].sort()).toEqual(expectedKeyedSum(SPEC));
    // The job finished: its checkpoints and its local copies are gone.
    expect(existsSync(join(localDirectory, JOB_A))).toBe(false);
  });

  it('damaged and missing local copies at restore: those files come from checkpoint storage, and the log says which and why', async () => {
    const dir = mkdtempSync(join(root, 'damaged-'));
    const checkpointDirectory = join(dir, 'checkpoints');
    const localDirectory = join(dir, 'local');
    const base = {
      parallelism: 2,
      maxParallelism: 16,
      stateBackend: diskStateBackend({ directory: join(dir, 'state') }),
      checkpointStorage: checkpointDirectory,
      localRecovery: { directory: localDirectory },
    };
    const failures: FailureSwitch = { failNext: false, processed: 0 };
    const first = StreamExecutionEnvironment.create({
      ...base,
      checkpointing: { intervalMs: 1e9 },
      jobId: JOB_B,
      logger: new CapturingLogger(),
    });
    keyedSumJob(first, SPEC, failures);
    const client = first.executeAsync('damaged local copy');
    await until(() => failures.processed > 500, 'records flow');
    await client.triggerCheckpoint();
    await until(() => failures.processed > 1500, 'more records flow');
    await client.triggerCheckpoint(); // 2: a delta on 1's bases
    await client.cancel(); // keeps checkpoint 2 and its local copies

    const shared = join(localDirectory, JOB_B, 'shared');
    const [flipped, truncated, deleted] = listOrEmpty(shared);
    const bytes = readFileSync(join(shared, flipped));
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(join(shared, flipped), bytes);
    truncateSync(join(shared, truncated), 10);
    rmSync(join(shared, deleted));

    const logger = new CapturingLogger();
    const resumed = StreamExecutionEnvironment.create({
      ...base,
      restore: { kind: 'latest', checkpointDirectory },
      jobId: JOB_C,
      logger,
    });
    const sink = keyedSumJob(resumed, SPEC);
    await resumed.execute('resumed');
    const line = logger.lines.find((l) => l.message.startsWith('local recovery:'));
    expect(line?.level).toBe('warn');
    expect(line?.message).toMatch(
      /^local recovery: restored checkpoint 2 from the local copy for \d+ files \(\d+ bytes\) and from checkpoint storage for 3: local copies 1 missing \(.*\), 2 damaged \(.*/,
    );
    expect(line?.message).toContain(`${join(shared, deleted)}`);
    expect(line?.message).toMatch(
      new RegExp(`${flipped}: checksum mismatch: expected 0x[0-9a-f]{8}, computed`),
    );
    expect(line?.message).toMatch(new RegExp(`${truncated}: 10 bytes, expected \\d+`));
    expect([...sink.values].sort()).toEqual(expectedKeyedSum(SPEC));
  });

  it('an unwritable local-recovery directory: checkpoints still complete, the warning names the path, a failover reads checkpoint storage', async () => {
    const dir = mkdtempSync(join(root, 'unwritable-'));
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const logger = new CapturingLogger();
    const failures: FailureSwitch = { failNext: false, processed: 0 };
    const env = StreamExecutionEnvironment.create({
      parallelism: 1,
      maxParallelism: 16,
      stateBackend: 'hashmap',
      checkpointing: { intervalMs: 1e9 },
      checkpointStorage: join(dir, 'checkpoints'),
      restartStrategy: { kind: 'fixed-delay', attempts: 2, delayMs: 0 },
      localRecovery: { directory: join(blocker, 'local') },
      logger,
    });
    const spec = { count: 4_000, ratePerSecond: 8_000, keys: 50 };
    const sink = keyedSumJob(env, spec, failures);
    const client = env.executeAsync('unwritable local directory');
    await until(() => failures.processed > 500, 'records flow');
    await client.triggerCheckpoint();
    failures.failNext = true;
    await client.result();
    expect(logger.text()).toMatch(
      /warn local recovery: could not write the local copy .*a-file\/local\/.*ENOTDIR.*; a restore from checkpoint 1 reads checkpoint storage instead/,
    );
    expect(logger.text()).toMatch(
      /info local recovery: restored checkpoint 1 from checkpoint storage: local copies \d+ missing/,
    );
    expect([...sink.values].sort()).toEqual(expectedKeyedSum(spec));
  });
});
