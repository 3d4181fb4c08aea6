/** The conformance suite every CheckpointStorage passes: locations, atomic commit, verified reads, discard, savepoints, injected faults. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { referencedStateFiles, type StateFileHandle } from '../../../src/checkpoint/snapshot-handles.ts';
import {
  CheckpointIOError,
  CheckpointNotFoundError,
  CorruptCheckpointError,
} from '../../../src/checkpoint/storage/checkpoint-errors.ts';
import type { CheckpointFileSystem } from '../../../src/checkpoint/storage/checkpoint-file-system.ts';
import type { CheckpointStorage } from '../../../src/checkpoint/storage/checkpoint-storage.ts';
import { FaultInjectingFileSystem } from '../../../src/checkpoint/storage/fault-injecting-file-system.ts';
import { fileSystemError } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import {
  METADATA_FILE_NAME,
  METADATA_TEMP_FILE_NAME,
} from '../../../src/checkpoint/storage/state-file-names.ts';
import { crc32c } from '../../../src/core/binary.ts';
import { WeirError } from '../../../src/core/errors.ts';
import {
  bytesOf,
  commitSampleCheckpoint,
  copyDirectory,
  damageFile,
  flipByte,
  truncateTo,
  writeSampleCheckpoint,
} from './checkpoint-fixtures.ts';

/** One storage under test, with access to the bytes behind it. */
export interface CheckpointStorageHarness {
  readonly storage: CheckpointStorage;
  /** The file system behind checkpoint pointers, to damage files. */
  readonly fileSystem: CheckpointFileSystem;
  /** The file system savepoints are written to. */
  readonly savepointFileSystem: CheckpointFileSystem;
  /** A directory on `savepointFileSystem` for savepoints, and another to copy them to. */
  readonly savepointParent: string;
  readonly copyTarget: string;
  /** Joins a pointer and a name the way the storage does. */
  join(directory: string, name: string): string;
  cleanup(): Promise<void>;
}

/**
 * Builds a harness whose storage reaches every file system it uses through `wrap`, so the
 * suite can inject faults.
 */
export type CheckpointStorageHarnessFactory = (
  wrap: (fs: CheckpointFileSystem) => CheckpointFileSystem,
) => Promise<CheckpointStorageHarness>;

const JOB = 'job-a';

/** Runs the shared suite against one storage implementation. */
export function runCheckpointStorageConformance(
  name: string,
  factory: CheckpointStorageHarnessFactory,
): void {
  describe(`CheckpointStorage conformance: ${name}`, () => {
    let harness: CheckpointStorageHarness;
    let storage: CheckpointStorage;
    let faults: FaultInjectingFileSystem[];

    beforeEach(async () => {
      faults = [];
      harness = await factory((fs) => {
        const faulty = new FaultInjectingFileSystem(fs);
        faults.push(faulty);
        return faulty;
      });
      storage = harness.storage;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    const failNext = (
      operation: Parameters<FaultInjectingFileSystem['failNext']>[0],
      path: string,
      code: string,
    ) => {
      for (const faulty of faults) faulty.failNext(operation, path, code);
    };

    describe('locations and handles', () => {
      it('gives a checkpoint location its pointer and returns handles with size and CRC-32C', async () => {
        const location = await storage.createCheckpointLocation(JOB, 3);
        expect(location.pointer).toBe(storage.checkpointPointer(JOB, 3));
        expect(location.pointer.endsWith(`${JOB}/chk-3`)).toBe(true);
        expect(location.kind).toBe('checkpoint');
        const bytes = bytesOf(1, 1000);
        const handle = await location.writeFile('counts-0.keyed', bytes);
        expect(handle).toEqual({ relativePath: 'counts-0.keyed', sizeBytes: 1000, crc32c: crc32c(bytes) });
        const empty = await location.writeFile('empty.opstate', new Uint8Array(0));
        expect(empty).toEqual({ relativePath: 'empty.opstate', sizeBytes: 0, crc32c: 0 });
      });

      it('rejects unsafe, reserved and repeated state file names', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const bad = [
          '',
          '.',
          '..',
          '../x',
          'a/b',
          'a\\b',
          '/etc/passwd',
          'a..b',
          '_metadata',
          'nul\u0000',
          'x'.repeat(201),
        ];
        for (const badName of bad) {
          await expect(
            location.writeFile(badName, new Uint8Array(1)),
            JSON.stringify(badName),
          ).rejects.toThrow(RangeError);
        }
        await location.writeFile('ok', new Uint8Array(1));
        await expect(location.writeFile('ok', new Uint8Array(1))).rejects.toThrow(/already written/);
      });

      it('rejects job ids and checkpoint ids that cannot name a directory', async () => {
        await expect(storage.createCheckpointLocation('../escape', 1)).rejects.toThrow(RangeError);
        await expect(storage.createCheckpointLocation(JOB, -1)).rejects.toThrow(RangeError);
        await expect(storage.createCheckpointLocation(JOB, 1.5)).rejects.toThrow(RangeError);
        expect(() => storage.checkpointPointer('a/b', 1)).toThrow(RangeError);
      });
    });

    describe('files written in parts', () => {
      const parts = [bytesOf(1, 700), bytesOf(2, 0), bytesOf(3, 1_300), bytesOf(4, 1)];
      const whole = () => {
        const bytes = new Uint8Array(2_001);
        let at = 0;
        for (const part of parts) {
          bytes.set(part, at);
          at += part.length;
        }
        return bytes;
      };

      it('gives the handle of the whole file and reads back the same bytes', async () => {
        const location = await storage.createCheckpointLocation(JOB, 4);
        const file = await location.openFile('counts-0.keyed');
        for (const part of parts) await file.write(part);
        const handle = await file.close();
        expect(handle).toEqual({ relativePath: 'counts-0.keyed', sizeBytes: 2_001, crc32c: crc32c(whole()) });
        const shared = await location.openSharedFile('counts-0-4-abc');
        for (const part of parts) await shared.write(part);
        expect(await shared.close()).toEqual({ ...handle, relativePath: '../shared/counts-0-4-abc' });
        expect(await storage.readFile(location.pointer, handle)).toEqual(whole());
        await location.discard();
      });

      it('follows the name rules of whole files, and a savepoint cannot open a shared file', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        await location.writeFile('a.keyed', bytesOf(1, 10));
        await expect(location.openFile('a.keyed')).rejects.toThrow(/already written/);
        await expect(location.openFile('../escape')).rejects.toThrow(RangeError);
        const savepoint = await storage.createSavepointLocation(JOB, 1, harness.savepointParent);
        await expect(savepoint.openSharedFile('x')).rejects.toThrow(/self-contained/);
        await savepoint.discard();
      });

      it('an abort, or a failure in the middle of the file, leaves no partial file', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const given = await location.openFile('given-up.keyed');
        await given.write(parts[0]);
        await given.abort();
        expect(
          await harness.fileSystem.stat(harness.join(location.pointer, 'given-up.keyed')),
        ).toBeUndefined();

        const file = await location.openFile('counts-0.keyed');
        await file.write(parts[0]);
        failNext('write', 'counts-0.keyed', 'ENOSPC');
        const error = await file.write(parts[2]).catch((caught) => caught);
        expect(error).toBeInstanceOf(CheckpointIOError);
        const path = harness.join(location.pointer, 'counts-0.keyed');
        expect(error.message).toContain(path);
        expect(error.message).toContain('ENOSPC');
        expect(await harness.fileSystem.stat(path)).toBeUndefined();
        await file.abort();
        await location.discard();
      });

      it('a discard waits for a file being written, whose next part then fails', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const file = await location.openFile('slow.keyed');
        await file.write(parts[0]);
        let discarded = false;
        const discarding = location.discard().then(() => {
          discarded = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(discarded).toBe(false);
        await expect(file.write(parts[2])).rejects.toThrow(/discarded/);
        await discarding;
        expect(await harness.fileSystem.stat(harness.join(location.pointer, 'slow.keyed'))).toBeUndefined();
      });
    });

    describe('commit and load', () => {
      it('loads committed metadata back equal to what was committed, by pointer or by _metadata path', async () => {
        const location = await storage.createCheckpointLocation(JOB, 7);
        const metadata = await commitSampleCheckpoint(location, { jobId: JOB, checkpointId: 7 });
        expect(await storage.loadMetadata(location.pointer)).toEqual(metadata);
        expect(await storage.loadMetadata(harness.join(location.pointer, METADATA_FILE_NAME))).toEqual(
          metadata,
        );
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([7]);
        for (const handle of referencedStateFiles(metadata)) {
          expect((await storage.verifyFile(location.pointer, handle)).status).toBe('ok');
        }
      });

      it('lists only checkpoints with a committed _metadata, ascending by id, per job', async () => {
        for (const id of [10, 2, 3]) {
          await commitSampleCheckpoint(await storage.createCheckpointLocation(JOB, id), {
            jobId: JOB,
            checkpointId: id,
          });
        }
        const uncommitted = await storage.createCheckpointLocation(JOB, 11);
        await writeSampleCheckpoint(uncommitted, { jobId: JOB, checkpointId: 11 });
        await commitSampleCheckpoint(await storage.createCheckpointLocation('job-b', 1), {
          jobId: 'job-b',
          checkpointId: 1,
        });
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([2, 3, 10]);
        expect(await storage.listCompletedCheckpoints('job-b')).toEqual([1]);
        expect(await storage.listCompletedCheckpoints('job-none')).toEqual([]);
        expect(await storage.listJobIds()).toEqual([JOB, 'job-b']);
        await expect(storage.loadMetadata(uncommitted.pointer)).rejects.toThrow(CheckpointNotFoundError);
      });

      it('refuses to reuse the id of a completed checkpoint', async () => {
        await commitSampleCheckpoint(await storage.createCheckpointLocation(JOB, 4), {
          jobId: JOB,
          checkpointId: 4,
        });
        await expect(storage.createCheckpointLocation(JOB, 4)).rejects.toThrow(/ids must increase/);
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([4]);
      });

      it('refuses metadata of another checkpoint, of another kind, or referencing files it does not hold', async () => {
        const location = await storage.createCheckpointLocation(JOB, 5);
        const metadata = await writeSampleCheckpoint(location, { jobId: JOB, checkpointId: 5 });
        await expect(location.commitMetadata({ ...metadata, checkpointId: 6 })).rejects.toThrow(WeirError);
        await expect(location.commitMetadata({ ...metadata, jobId: 'job-b' })).rejects.toThrow(WeirError);
        await expect(location.commitMetadata({ ...metadata, kind: 'savepoint' })).rejects.toThrow(WeirError);
        const [first, ...rest] = metadata.operators;
        const ghost = { relativePath: 'ghost.opstate', sizeBytes: 3, crc32c: 1 };
        const withGhost = {
          ...metadata,
          operators: [{ ...first, subtasks: [{ ...first.subtasks[0], operatorState: ghost }] }, ...rest],
        };
        await expect(location.commitMetadata(withGhost)).rejects.toThrow(/ghost\.opstate/);
        const wrongSize = { ...first.subtasks[0].operatorState!, sizeBytes: 999 };
        const withWrongSize = {
          ...metadata,
          operators: [{ ...first, subtasks: [{ ...first.subtasks[0], operatorState: wrongSize }] }, ...rest],
        };
        await expect(location.commitMetadata(withWrongSize)).rejects.toThrow(/999 bytes/);
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([]);
        await location.commitMetadata(metadata);
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([5]);
      });

      it('refuses malformed metadata before writing anything', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const metadata = await writeSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        const broken = { ...metadata, maxParallelism: 0 };
        await expect(location.commitMetadata(broken)).rejects.toThrow(/maxParallelism/);
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([]);
      });

      it('waits for writes in flight before committing, and rejects writes after the commit', async () => {
        const location = await storage.createCheckpointLocation(JOB, 2);
        const writes = Array.from({ length: 8 }, (_, i) =>
          location.writeFile(`part-${i}`, bytesOf(i, 100 + i)),
        );
        const handles = await Promise.all(writes);
        const metadata = {
          formatVersion: 1 as const,
          jobId: JOB,
          jobName: 'parallel',
          checkpointId: 2,
          kind: 'checkpoint' as const,
          triggerTimestampMs: 1,
          completedTimestampMs: 2,
          maxParallelism: 128,
          operators: [
            {
              operatorId: 'op',
              operatorName: 'op',
              parallelism: 8,
              subtasks: handles.map((operatorState, subtaskIndex) => ({
                subtaskIndex,
                keyed: undefined,
                operatorState,
                finished: false,
              })),
            },
          ],
        };
        await location.commitMetadata(metadata);
        await expect(location.writeFile('late', new Uint8Array(1))).rejects.toThrow(/committed/);
        await expect(location.commitMetadata(metadata)).rejects.toThrow(/committed/);
        expect(await storage.loadMetadata(location.pointer)).toEqual(metadata);
      });
    });

    describe('damage is detected and named by path', () => {
      it('readFile returns verified bytes and rejects a flipped byte, a truncated file and a missing file', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const metadata = await commitSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        const [a, b, c] = referencedStateFiles(metadata);
        const pathOf = (relativePath: string) => harness.join(location.pointer, relativePath);
        expect((await storage.readFile(location.pointer, a)).length).toBe(a.sizeBytes);

        await damageFile(harness.fileSystem, pathOf(a.relativePath), flipByte(17));
        const flipped = await storage.readFile(location.pointer, a).catch((error) => error);
        expect(flipped).toBeInstanceOf(CorruptCheckpointError);
        expect(flipped.path).toBe(pathOf(a.relativePath));
        expect(flipped.message).toContain(pathOf(a.relativePath));
        expect(flipped.message).toMatch(/checksum mismatch \(expected 0x[0-9a-f]{8}, found 0x[0-9a-f]{8}\)/);
        expect(await storage.verifyFile(location.pointer, a)).toMatchObject({
          status: 'checksum-mismatch',
          path: pathOf(a.relativePath),
          expectedCrc32c: a.crc32c,
        });

        await damageFile(harness.fileSystem, pathOf(b.relativePath), truncateTo(b.sizeBytes - 5));
        const truncated = await storage.readFile(location.pointer, b).catch((error) => error);
        expect(truncated).toBeInstanceOf(CorruptCheckpointError);
        expect(truncated.message).toContain(
          `truncated (expected ${b.sizeBytes} bytes, found ${b.sizeBytes - 5} bytes)`,
        );
        expect(await storage.verifyFile(location.pointer, b)).toMatchObject({
          status: 'size-mismatch',
          actualSizeBytes: b.sizeBytes - 5,
        });

        await harness.fileSystem.remove(pathOf(c.relativePath));
        const missing = await storage.readFile(location.pointer, c).catch((error) => error);
        expect(missing).toBeInstanceOf(CorruptCheckpointError);
        expect(missing.message).toContain(`${pathOf(c.relativePath)}: file is missing`);
        expect(await storage.verifyFile(location.pointer, c)).toEqual({
          status: 'missing',
          path: pathOf(c.relativePath),
        });
      });

      it('readFileChunks streams the verified bytes and rejects a flipped byte, a truncated, a longer and a missing file at the end', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const metadata = await commitSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        const [a, b, c] = referencedStateFiles(metadata);
        const pathOf = (relativePath: string) => harness.join(location.pointer, relativePath);
        const streamed = async (handle: StateFileHandle): Promise<Uint8Array> => {
          const chunks: Uint8Array[] = [];
          for await (const chunk of storage.readFileChunks(location.pointer, handle))
            chunks.push(chunk.slice());
          return new Uint8Array(Buffer.concat(chunks));
        };
        const whole = await storage.readFile(location.pointer, a);
        expect(await streamed(a)).toEqual(whole);
        const ranged: Uint8Array[] = [];
        for await (const chunk of storage.readFileChunks(location.pointer, a, {
          start: 3,
          end: a.sizeBytes - 2,
        })) {
          ranged.push(chunk.slice());
        }
        expect(new Uint8Array(Buffer.concat(ranged))).toEqual(whole.subarray(3, a.sizeBytes - 2));
        const outside = storage.readFileChunks(location.pointer, a, { start: 0, end: a.sizeBytes + 1 });
        await expect(outside[Symbol.asyncIterator]().next()).rejects.toThrow(/lie outside its/);

        await damageFile(harness.fileSystem, pathOf(a.relativePath), flipByte(17));
        const flipped = await streamed(a).catch((error) => error);
        expect(flipped).toBeInstanceOf(CorruptCheckpointError);
        expect(flipped.message).toMatch(/checksum mismatch \(expected 0x[0-9a-f]{8}, found 0x[0-9a-f]{8}\)/);
        expect(flipped.message).toContain(pathOf(a.relativePath));

        await damageFile(harness.fileSystem, pathOf(b.relativePath), truncateTo(b.sizeBytes - 5));
        await expect(streamed(b)).rejects.toThrow(
          `truncated (expected ${b.sizeBytes} bytes, found ${b.sizeBytes - 5} bytes)`,
        );
        await expect(streamed({ ...c, sizeBytes: c.sizeBytes - 1 })).rejects.toThrow(/size mismatch/);

        await harness.fileSystem.remove(pathOf(c.relativePath));
        await expect(streamed(c)).rejects.toThrow(`${pathOf(c.relativePath)}: file is missing`);
      });

      it('loadMetadata rejects a truncated, a flipped and an emptied _metadata, naming its path', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        await commitSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        const metadataPath = harness.join(location.pointer, METADATA_FILE_NAME);
        const original = await harness.fileSystem.readFile(metadataPath);
        const damages = [
          truncateTo(original.length - 1),
          truncateTo(20),
          flipByte(40),
          flipByte(0),
          truncateTo(0),
        ];
        for (const damage of damages) {
          await harness.fileSystem.writeFile(metadataPath, damage(original));
          const error = await storage.loadMetadata(location.pointer).catch((caught) => caught);
          expect(error).toBeInstanceOf(CorruptCheckpointError);
          expect(error.path).toBe(metadataPath);
          expect(error.message).toContain(metadataPath);
        }
        await harness.fileSystem.writeFile(metadataPath, original);
        expect((await storage.loadMetadata(location.pointer)).checkpointId).toBe(1);
      });

      it('refuses a handle whose relative path leaves the checkpoint', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        await commitSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        const evil = { relativePath: '../../other/secret', sizeBytes: 1, crc32c: 0 };
        await expect(storage.readFile(location.pointer, evil)).rejects.toThrow(/unsafe state file path/);
        expect((await storage.verifyFile(location.pointer, evil)).status).toBe('unreadable');
      });
    });

    describe('discard and cleanup', () => {
      it("discarding one checkpoint never touches another retained checkpoint's files", async () => {
        const keep = await storage.createCheckpointLocation(JOB, 1);
        const kept = await commitSampleCheckpoint(keep, { jobId: JOB, checkpointId: 1 });
        const drop = await storage.createCheckpointLocation(JOB, 2);
        await commitSampleCheckpoint(drop, { jobId: JOB, checkpointId: 2 });
        const aborted = await storage.createCheckpointLocation(JOB, 3);
        await writeSampleCheckpoint(aborted, { jobId: JOB, checkpointId: 3 });
        await drop.discard();
        await aborted.discard();
        await drop.discard(); // idempotent
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([1]);
        expect(await harness.fileSystem.stat(drop.pointer)).toBeUndefined();
        expect(await harness.fileSystem.stat(aborted.pointer)).toBeUndefined();
        for (const handle of referencedStateFiles(kept)) {
          expect((await storage.verifyFile(keep.pointer, handle)).status).toBe('ok');
        }
        await expect(drop.writeFile('late', new Uint8Array(1))).rejects.toThrow(/discarded/);
      });

      it('discard waits for writes in flight and leaves nothing behind', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const writes = Array.from({ length: 5 }, (_, i) =>
          location.writeFile(`part-${i}`, bytesOf(i, 5000)).catch(() => undefined),
        );
        await location.discard();
        await Promise.all(writes);
        expect(await harness.fileSystem.stat(location.pointer)).toBeUndefined();
      });

      it('discardCheckpoint deletes by pointer and refuses anything but its own chk-<n> directories', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        await commitSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        await expect(storage.discardCheckpoint(harness.savepointParent)).rejects.toThrow(
          /refusing to delete/,
        );
        await expect(storage.discardCheckpoint(harness.join(location.pointer, '..'))).rejects.toThrow(
          /refusing to delete/,
        );
        await storage.discardCheckpoint(location.pointer);
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([]);
      });

      it('discardAbortedCheckpoints removes directories without _metadata below the given id', async () => {
        await commitSampleCheckpoint(await storage.createCheckpointLocation(JOB, 1), {
          jobId: JOB,
          checkpointId: 1,
        });
        for (const id of [2, 4]) {
          await writeSampleCheckpoint(await storage.createCheckpointLocation(JOB, id), {
            jobId: JOB,
            checkpointId: id,
          });
        }
        await commitSampleCheckpoint(await storage.createCheckpointLocation(JOB, 3), {
          jobId: JOB,
          checkpointId: 3,
        });
        expect(await storage.discardAbortedCheckpoints(JOB, 3)).toEqual([2]);
        expect(await harness.fileSystem.stat(storage.checkpointPointer(JOB, 4))).toBeDefined();
        expect(await storage.discardAbortedCheckpoints(JOB)).toEqual([4]);
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([1, 3]);
      });

      it('cleanupJob removes the job directory only once no completed checkpoint is left', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        await commitSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        await storage.cleanupJob(JOB);
        expect(await storage.listJobIds()).toEqual([JOB]);
        await storage.discardCheckpoint(location.pointer);
        await storage.cleanupJob(JOB);
        expect(await storage.listJobIds()).toEqual([]);
      });
    });

    describe('savepoints', () => {
      it('writes a self-contained savepoint that still loads and verifies after being copied elsewhere', async () => {
        const location = await storage.createSavepointLocation(JOB, 9, harness.savepointParent);
        expect(location.kind).toBe('savepoint');
        expect(location.pointer).toBe(harness.join(harness.savepointParent, 'savepoint-job-a-9'));
        const metadata = await commitSampleCheckpoint(location, {
          jobId: JOB,
          checkpointId: 9,
          kind: 'savepoint',
        });
        const fs = harness.savepointFileSystem;
        await copyDirectory(fs, location.pointer, fs, harness.copyTarget, harness.join);
        await fs.remove(location.pointer);
        expect(await storage.loadMetadata(harness.copyTarget)).toEqual(metadata);
        for (const handle of referencedStateFiles(metadata)) {
          expect(await storage.readFile(harness.copyTarget, handle)).toHaveLength(handle.sizeBytes);
        }
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([]);
      });

      it('never reuses the directory of an existing savepoint', async () => {
        const first = await storage.createSavepointLocation(JOB, 9, harness.savepointParent);
        await commitSampleCheckpoint(first, { jobId: JOB, checkpointId: 9, kind: 'savepoint' });
        const second = await storage.createSavepointLocation(JOB, 9, harness.savepointParent);
        expect(second.pointer).toBe(harness.join(harness.savepointParent, 'savepoint-job-a-9-2'));
      });

      it('a discarded savepoint removes only its own files', async () => {
        const fs = harness.savepointFileSystem;
        const location = await storage.createSavepointLocation(JOB, 3, harness.savepointParent);
        await writeSampleCheckpoint(location, { jobId: JOB, checkpointId: 3, kind: 'savepoint' });
        const bystander = harness.join(location.pointer, 'notes.txt');
        await fs.writeFile(bystander, new Uint8Array([1, 2, 3]));
        await location.discard();
        expect((await fs.readdir(location.pointer)).map((entry) => entry.name)).toEqual(['notes.txt']);
      });

      it('needs a target directory when no default is configured', async () => {
        await expect(storage.createSavepointLocation(JOB, 1, undefined)).rejects.toThrow(
          /no savepoint directory/,
        );
      });

      it('refuses savepoint metadata that references shared files', async () => {
        const location = await storage.createSavepointLocation(JOB, 2, harness.savepointParent);
        const metadata = await writeSampleCheckpoint(location, {
          jobId: JOB,
          checkpointId: 2,
          kind: 'savepoint',
        });
        const [first, ...rest] = metadata.operators;
        const shared = { relativePath: '../shared/abc', sizeBytes: 1, crc32c: 0 };
        const withShared = {
          ...metadata,
          operators: [{ ...first, subtasks: [{ ...first.subtasks[0], operatorState: shared }] }, ...rest],
        };
        await expect(location.commitMetadata(withShared)).rejects.toThrow(/self-contained/);
      });
    });

    describe('injected faults', () => {
      it('ENOSPC while writing a state file rejects with the path and leaves no partial file', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        failNext('writeFile', 'counts-0.keyed', 'ENOSPC');
        const error = await location.writeFile('counts-0.keyed', bytesOf(1, 100)).catch((caught) => caught);
        expect(error).toBeInstanceOf(CheckpointIOError);
        const path = harness.join(location.pointer, 'counts-0.keyed');
        expect(error.path).toBe(path);
        expect(error.message).toContain(path);
        expect(error.message).toContain('ENOSPC');
        expect(error.cause).toMatchObject({ code: 'ENOSPC' });
        expect(await harness.fileSystem.stat(path)).toBeUndefined();
        await location.discard();
      });

      it('EIO on fsync of a state file rejects the write', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        failNext('fsync', 'x.keyed', 'EIO');
        await expect(location.writeFile('x.keyed', bytesOf(1, 10))).rejects.toThrow(/EIO/);
      });

      it('EIO on fsync of the temp metadata fails the commit: the checkpoint does not exist', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const metadata = await writeSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        failNext('fsync', METADATA_TEMP_FILE_NAME, 'EIO');
        const error = await location.commitMetadata(metadata).catch((caught) => caught);
        expect(error).toBeInstanceOf(CheckpointIOError);
        expect(error.message).toContain(METADATA_TEMP_FILE_NAME);
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([]);
        await expect(storage.loadMetadata(location.pointer)).rejects.toThrow(CheckpointNotFoundError);
        await location.discard();
        expect(await harness.fileSystem.stat(location.pointer)).toBeUndefined();
      });

      it('a crash between writing the temp metadata and the rename leaves no checkpoint; the leftover is ignored and cleaned', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const metadata = await writeSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        let crashed = false;
        for (const faulty of faults) {
          faulty.addRule((operation, path) => {
            if (operation === 'rename' && path.endsWith(METADATA_TEMP_FILE_NAME)) crashed = true;
            return crashed ? fileSystemError('EIO', operation, path, 'process crashed') : undefined;
          });
        }
        await expect(location.commitMetadata(metadata)).rejects.toThrow();
        // "Restart": the file system works again; nothing of the old process survives but its files.
        for (const faulty of faults) faulty.clearFaults();
        const tempPath = harness.join(location.pointer, METADATA_TEMP_FILE_NAME);
        expect(await harness.fileSystem.stat(tempPath)).toBeDefined();
        expect(
          await harness.fileSystem.stat(harness.join(location.pointer, METADATA_FILE_NAME)),
        ).toBeUndefined();
        expect(await storage.listCompletedCheckpoints(JOB)).toEqual([]);
        await expect(storage.loadMetadata(location.pointer)).rejects.toThrow(CheckpointNotFoundError);
        expect(await storage.discardAbortedCheckpoints(JOB)).toEqual([1]);
        expect(await harness.fileSystem.stat(location.pointer)).toBeUndefined();
      });

      it('commits in the durable order: write temp, fsync temp, rename, fsync directory', async () => {
        const location = await storage.createCheckpointLocation(JOB, 1);
        const metadata = await writeSampleCheckpoint(location, { jobId: JOB, checkpointId: 1 });
        const calls = faults.flatMap((faulty) => faulty.calls);
        for (const faulty of faults) faulty.calls.length = 0;
        await location.commitMetadata(metadata);
        const temp = harness.join(location.pointer, METADATA_TEMP_FILE_NAME);
        const commitCalls = faults
          .flatMap((faulty) => faulty.calls)
          .filter((call) => !call.startsWith('stat '));
        expect(commitCalls).toEqual([
          `writeFile ${temp}`,
          `fsync ${temp}`,
          `rename ${temp}`,
          `fsync ${location.pointer}`,
        ]);
        expect(calls.length).toBeGreaterThan(0);
      });

      it('a failure creating the checkpoint directory rejects createCheckpointLocation with the path', async () => {
        failNext('mkdir', 'chk-1', 'EACCES');
        const error = await storage.createCheckpointLocation(JOB, 1).catch((caught) => caught);
        expect(error).toBeInstanceOf(CheckpointIOError);
        expect(error.message).toContain(storage.checkpointPointer(JOB, 1));
      });
    });
  });
}
