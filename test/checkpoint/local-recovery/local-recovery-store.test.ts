/** LocalRecoveryStore on an in-memory file system: which local copies survive completions and aborts, and what a reader accepts. */
import { describe, expect, it } from 'vitest';
import { LocalRecoveryStore } from '../../../src/checkpoint/local-recovery/index.ts';
import type { CheckpointMetadata, StateFileHandle } from '../../../src/checkpoint/snapshot-handles.ts';
import type { StateFileSink } from '../../../src/checkpoint/storage/checkpoint-storage.ts';
import { FaultInjectingFileSystem } from '../../../src/checkpoint/storage/fault-injecting-file-system.ts';
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
  openFile: async (name: string): Promise<StateFileSink> => uploadInParts(name),
  openSharedFile: async (name: string): Promise<StateFileSink> => uploadInParts(`../shared/${name}`),
};

/** Uploads of files written in parts: their parts, by relative path, once closed. */
const uploadedInParts = new Map<string, Uint8Array>();

function uploadInParts(relativePath: string): StateFileSink {
  const parts: Uint8Array[] = [];
  return {
    write: async (chunk) => {
      parts.push(chunk.slice());
    },
    close: async () => {
      const bytes = new Uint8Array(Buffer.concat(parts));
      uploadedInParts.set(relativePath, bytes);
      return handle(relativePath, bytes);
    },
    abort: async () => {},
  };
}

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
  it('copies a file uploaded in parts; a failed local write never fails the upload, and an abort leaves no copy', async () => {
    const inner = new InMemoryFileSystem();
    const fs = new FaultInjectingFileSystem(inner);
    const warnings: string[] = [];
    const store = new LocalRecoveryStore({
      directory: ROOT,
      logger: { log: (level, message) => void (level === 'warn' && warnings.push(message)) },
      fileSystem: fs,
    });
    const parts = [0, 1, 2].map((i) => new Uint8Array(1_000).fill(i + 1));
    const writeInParts = async (writer: ReturnType<typeof store.tee>, name: string) => {
      const file = await writer.openSharedFile(name);
      for (const part of parts) await file.write(part);
      return file.close();
    };
    const copied = await writeInParts(store.tee(JOB, 1, upload), 'base-1');
    expect(copied).toEqual(handle('../shared/base-1', new Uint8Array(Buffer.concat(parts))));
    expect(await inner.readFile(`${ROOT}/${JOB}/shared/base-1`)).toEqual(
      new Uint8Array(Buffer.concat(parts)),
    );
    expect(warnings).toEqual([]);

    // The local disk fails in the middle of the file: the upload completes, the copy is removed.
    let writes = 0;
    fs.addRule((operation, path) =>
      operation === 'write' && path.includes('base-2') && ++writes === 2
        ? new Error('EIO: injected')
        : undefined,
    );
    const uploaded = await writeInParts(store.tee(JOB, 2, upload), 'base-2');
    expect(uploadedInParts.get('../shared/base-2')).toEqual(new Uint8Array(Buffer.concat(parts)));
    expect(uploaded.sizeBytes).toBe(3_000);
    expect(inner.filePaths()).not.toContain(`${ROOT}/${JOB}/shared/base-2`);
    expect(warnings).toEqual([
      expect.stringContaining(`could not write the local copy ${ROOT}/${JOB}/shared/base-2`),
    ]);

    const given = await store.tee(JOB, 3, upload).openFile('op-0.keyed');
    await given.write(parts[0]);
    await given.abort();
    expect(inner.filePaths().filter((path) => path.includes('chk-3'))).toEqual([]);
  });

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
