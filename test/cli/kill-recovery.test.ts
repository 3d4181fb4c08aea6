/**
 * Process crash: `kill -9` of a `weir run` child after two completed checkpoints, then
 * `weir run … --from-checkpoint latest` finishes with exactly the output of a failure-free run;
 * with the disk backend, from an incremental checkpoint (a base and deltas) through local recovery.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileSystemCheckpointStorage } from '../../src/checkpoint/storage/file-system-checkpoint-storage.ts';
import { FIXTURES, requireBuild, show, startWeir, weir } from './support.ts';

const RECORDS = 6000;
const RATE_PER_SECOND = 2000;
const KEYS = 37;

beforeAll(requireBuild);

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

/** Every line of the files a reader would see (not the hidden in-progress parts), sorted. */
async function visibleLines(directory: string): Promise<string[]> {
  const names = (await readdir(directory).catch(() => [] as string[])).filter(
    (name) => !name.startsWith('.'),
  );
  const lines: string[] = [];
  for (const name of names) {
    lines.push(...(await readFile(join(directory, name), 'utf8')).split('\n').filter((line) => line !== ''));
  }
  return lines.sort();
}

/** What the fixture must write: `key<TAB>count<TAB>sum` per key, computed in plain JS. */
function expectedLines(records = RECORDS, keys = KEYS): string[] {
  const perKey = new Map<string, { count: number; sum: number }>();
  for (let index = 0; index < records; index++) {
    const key = `key-${(index * 7919) % keys}`;
    const entry = perKey.get(key) ?? { count: 0, sum: 0 };
    entry.count++;
    entry.sum += index;
    perKey.set(key, entry);
  }
  return [...perKey].map(([key, { count, sum }]) => `${key}\t${count}\t${sum}`).sort();
}

/** Completed checkpoint ids of one job directory (those with `_metadata`). */
async function completedOnDisk(checkpointDir: string): Promise<number[]> {
  const ids: number[] = [];
  for (const job of await readdir(checkpointDir).catch(() => [] as string[])) {
    for (const name of await readdir(join(checkpointDir, job)).catch(() => [] as string[])) {
      const match = /^chk-(\d+)$/.exec(name);
      if (match === null) continue;
      const files = await readdir(join(checkpointDir, job, name)).catch(() => [] as string[]);
      if (files.includes('_metadata')) ids.push(Number(match[1]));
    }
  }
  return ids;
}

describe('process crash', () => {
  it('kill -9 after two completed checkpoints, then --from-checkpoint latest: output equals a failure-free run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weir-kill-'));
    directories.push(dir);
    const checkpointDir = join(dir, 'checkpoints');
    const output = join(dir, 'out');
    const job = ['run', `${FIXTURES}/keyed-count-job.ts`, '-p', '2'];
    const jobArgs = ['--count', String(RECORDS), '--rate', String(RATE_PER_SECOND), '--keys', String(KEYS)];
    const checkpointing = ['--checkpoint-dir', checkpointDir, '--checkpoint-interval', '100'];

    const reference = weir(...job, '--', '--output', join(dir, 'reference'), ...jobArgs);
    const crashed = startWeir(...job, ...checkpointing, '--', '--output', output, ...jobArgs);
    const completions = await crashed.waitForStderrCount(/completed checkpoint (\d+) /g, 2);
    const secondId = Number(completions[1][1]);
    expect(Math.max(...(await completedOnDisk(checkpointDir)))).toBeGreaterThanOrEqual(secondId);
    crashed.child.kill('SIGKILL');
    expect((await crashed.exit).signal).toBe('SIGKILL');
    // The result is written only at end of input: the crash left nothing visible.
    expect(await visibleLines(output)).toEqual([]);

    const { resumed, restoredId, restoredPath } = await resumeLatest(job, checkpointing, output, jobArgs);
    expect(restoredId).toBeGreaterThanOrEqual(secondId);
    expect(restoredPath).toMatch(new RegExp(`/chk-${restoredId}$`));
    const idsAfter = [...resumed.stderr.matchAll(/completed checkpoint (\d+) /g)].map((match) =>
      Number(match[1]),
    );
    expect(idsAfter.length, show(resumed)).toBeGreaterThan(0);
    expect(Math.min(...idsAfter)).toBeGreaterThan(restoredId);

    const failureFree = await reference;
    expect(failureFree.code, show(failureFree)).toBe(0);
    const expected = expectedLines();
    expect(await visibleLines(join(dir, 'reference'))).toEqual(expected);
    expect(await visibleLines(output)).toEqual(expected);
  });

  it('disk backend, incremental checkpoints and local recovery: kill -9 with deltas in the chain, then --from-checkpoint latest restores from the local copy, exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weir-kill-disk-'));
    directories.push(dir);
    const checkpointDir = join(dir, 'checkpoints');
    const output = join(dir, 'out');
    const keys = 500;
    const job = ['run', `${FIXTURES}/keyed-count-job.ts`, '-p', '2', '--state-backend', 'disk'];
    const jobArgs = ['--count', String(RECORDS), '--rate', String(RATE_PER_SECOND), '--keys', String(keys)];
    const options = [
      '--checkpoint-dir',
      checkpointDir,
      '--checkpoint-interval',
      '100',
      '--local-recovery-dir',
      join(dir, 'local'),
    ];
    const storage = new FileSystemCheckpointStorage(checkpointDir);
    /** Length of the shortest incremental chain of the keyed operator in a checkpoint. */
    const shortestChain = async (pointer: string): Promise<number> => {
      const metadata = await storage.loadMetadata(pointer);
      const count = metadata.operators.find((op) => op.operatorId === 'count')!;
      return Math.min(
        ...count.subtasks.map((s) => (s.keyed?.kind === 'incremental' ? s.keyed.files.length : 0)),
      );
    };

    const reference = weir(
      'run',
      `${FIXTURES}/keyed-count-job.ts`,
      '-p',
      '2',
      '--',
      '--output',
      join(dir, 'reference'),
      ...jobArgs,
    );
    const crashed = startWeir(...job, ...options, '--', '--output', output, ...jobArgs);
    // Freeze the process (no checkpoint completes meanwhile) once the newest completed
    // checkpoint is a base plus deltas in every subtask; then kill it.
    for (let completions = 2; ; completions++) {
      await crashed.waitForStderrCount(/completed checkpoint (\d+) /g, completions);
      crashed.child.kill('SIGSTOP');
      const latest = [...crashed.stderr().matchAll(/completed checkpoint \d+ .* at (\S+)/g)].at(-1)![1];
      if ((await shortestChain(latest)) >= 2) break;
      crashed.child.kill('SIGCONT');
    }
    crashed.child.kill('SIGKILL');
    expect((await crashed.exit).signal).toBe('SIGKILL');

    const { resumed, restoredId, restoredPath } = await resumeLatest(job, options, output, jobArgs);
    expect(await shortestChain(restoredPath)).toBeGreaterThanOrEqual(2);
    expect(resumed.stderr, show(resumed)).toMatch(
      new RegExp(
        `local recovery: restored checkpoint ${restoredId} from the local copy \\(\\d+ files, \\d+ bytes; checkpoint storage not read\\)`,
      ),
    );

    const failureFree = await reference;
    expect(failureFree.code, show(failureFree)).toBe(0);
    const expected = expectedLines(RECORDS, keys);
    expect(await visibleLines(join(dir, 'reference'))).toEqual(expected);
    expect(await visibleLines(output)).toEqual(expected);
  });

  it('--state-backend disk gives the same result', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weir-disk-'));
    directories.push(dir);
    const output = join(dir, 'out');
    const jobArgs = ['--output', output, '--count', '1000', '--rate', '1000000', '--keys', '11'];
    const result = await weir(
      'run',
      `${FIXTURES}/keyed-count-job.ts`,
      '-p',
      '2',
      '--state-backend',
      'disk',
      '--',
      ...jobArgs,
    );
    expect(result.code, show(result)).toBe(0);
    expect(await visibleLines(output)).toEqual(expectedLines(1000, 11));
  });
});

/** `weir run … --from-checkpoint latest` to the end; the checkpoint it says it restored. */
async function resumeLatest(
  job: readonly string[],
  options: readonly string[],
  output: string,
  jobArgs: readonly string[],
) {
  const resumed = await weir(
    ...job,
    ...options,
    '--from-checkpoint',
    'latest',
    '--',
    '--output',
    output,
    ...jobArgs,
  );
  expect(resumed.code, show(resumed)).toBe(0);
  const restored = /restoring from checkpoint (\d+) .*path=(\S+)/.exec(resumed.stderr);
  expect(restored, show(resumed)).not.toBeNull();
  return { resumed, restoredId: Number(restored![1]), restoredPath: restored![2] };
}
