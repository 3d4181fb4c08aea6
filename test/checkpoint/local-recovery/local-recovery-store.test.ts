/** LocalRecoveryStore on an in-memory file system: which local copies survive completions and aborts, and what a reader accepts. */
import { describe, expect, it } from 'vitest';
import { LocalRecoveryStore } from '../../../src/checkpoint/local-recovery/index.ts';
import type { CheckpointMetadata, StateFileHandle } from '../../../src/checkpoint/snapshot-handles.ts';
import { InMemoryFileSystem } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import { crc32c } from '../../../src/core/binary.ts';
import { SILENT_LOGGER } from '../../../src/core/logger.ts';

const JOB = 'f'.repeat(32);
const ROOT = '/local';

/** A checkpoint location that "uploads" by computing the handle, as the real ones return it. */
const upload = {
  writeFile: async (name: string, bytes: Uint8Array): Promise<StateFileHandle> => handle(name, bytes),
  writeSharedFile: async (name: string, bytes: Uint8Array): Promise<StateFileHandle> =>
    handle(`../shared/${name}`, bytes),
};

function handle(relativePath: string, bytes: Uint8Array): StateFileHandle {
  return { relativePath, sizeBytes: bytes.length, crc32c: crc32c(bytes) };
}

function metadata(
  checkpointId: number,
  chain: StateFileHandle[],
  operatorState: StateFileHandle,
): CheckpointMetadata {
  return {
    formatVersion: 2,
    jobId: JOB,
    jobName: 'test',
    checkpointId,
    kind: 'checkpoint',
    triggerTimestampMs: 0,
    completedTimestampMs: 0,
    maxParallelism: 8,
    operators: [
      {
        operatorId: 'op',
        operatorName: 'Op',
        parallelism: 1,
        subtasks: [
          {
            subtaskIndex: 0,
            keyed: { kind: 'incremental', keyGroupRange: { start: 0, end: 7 }, files: chain },
            operatorState,
            finished: false,
          },
        ],
      },
    ],
  };
}

async function names(fs: InMemoryFileSystem, path: string): Promise<string[]> {
  return (await fs.readdir(path).catch(() => [])).map((entry) => entry.name).sort();
}

describe('LocalRecoveryStore', () => {
  it('keeps exactly the latest completed chain, plus copies of checkpoints still in flight; an abort deletes its own', async () => {
    const fs = new InMemoryFileSystem();
    const store = new LocalRecoveryStore({ directory: ROOT, logger: SILENT_LOGGER, fileSystem: fs });
    const bytes = (text: string) => new TextEncoder().encode(text);
    const write = async (id: number, shared: string) => {
      const writer = store.tee(JOB, id, upload);
      return {
        chain: await writer.writeSharedFile(shared, bytes(`${shared} of ${id}`)),
        operator: await writer.writeFile('op-0.opstate', bytes(`operator state ${id}`)),
      };
    };
    const one = await write(1, 'base-1');
    await store.confirm(JOB, metadata(1, [one.chain], one.operator));
    const two = await write(2, 'delta-2');
    await write(3, 'delta-3'); // in flight while 2 completes
    await store.confirm(JOB, metadata(2, [one.chain, two.chain], two.operator));
    expect(await names(fs, `${ROOT}/${JOB}`)).toEqual(['chk-2', 'chk-3', 'shared']);
    expect(await names(fs, `${ROOT}/${JOB}/shared`)).toEqual(['base-1', 'delta-2', 'delta-3']);

    await store.abort(JOB, 3);
    expect(await names(fs, `${ROOT}/${JOB}`)).toEqual(['chk-2', 'shared']);
    expect(await names(fs, `${ROOT}/${JOB}/shared`)).toEqual(['base-1', 'delta-2']);

    const four = await write(4, 'base-4'); // a new base: the old chain is no longer needed
    await store.confirm(JOB, metadata(4, [four.chain], four.operator));
    expect(await names(fs, `${ROOT}/${JOB}`)).toEqual(['chk-4', 'shared']);
    expect(await names(fs, `${ROOT}/${JOB}/shared`)).toEqual(['base-4']);

    const reader = store.reader(metadata(4, [four.chain], four.operator))!;
    expect(new TextDecoder().decode(await reader.read(four.chain))).toBe('base-4 of 4');
    expect(await reader.read(two.chain)).toBeUndefined(); // pruned: missing
    await fs.writeFile(`${ROOT}/${JOB}/chk-4/op-0.opstate`, bytes('operator state 5')); // same size, other bytes
    expect(await reader.read(four.operator)).toBeUndefined();
    expect(reader.summary()).toMatch(
      /from the local copy for 1 files .* and from checkpoint storage for 2: local copies 1 missing \(.*delta-2\), 1 damaged \(.*op-0\.opstate: checksum mismatch/,
    );

    await store.discardJob(JOB);
    expect(await names(fs, ROOT)).toEqual([]);
  });
});
