/**
 * Property: over random sequences of incremental checkpoints (new shared files plus reuse of
 * the latest completed checkpoint's), completions, aborts, retention counts and job ends, no
 * file a retained checkpoint references is ever deleted, and once the registry settles no
 * shared file is kept that no retained checkpoint references.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CheckpointMetadata, StateFileHandle } from '../../../src/checkpoint/snapshot-handles.ts';
import { CompletedCheckpointStore } from '../../../src/checkpoint/storage/completed-checkpoint-store.ts';
import { InMemoryFileSystem } from '../../../src/checkpoint/storage/in-memory-file-system.ts';
import { JobManagerCheckpointStorage } from '../../../src/checkpoint/storage/job-manager-checkpoint-storage.ts';
import { SharedStateRegistry } from '../../../src/checkpoint/storage/shared-state-registry.ts';

const JOB = 'job';

interface Step {
  readonly newFiles: number;
  readonly reuseMask: number;
  readonly completes: boolean;
}

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  newFiles: fc.integer({ min: 1, max: 3 }),
  reuseMask: fc.integer({ min: 0, max: 255 }),
  completes: fc.boolean(),
});

function metadataOf(checkpointId: number, files: readonly StateFileHandle[]): CheckpointMetadata {
  return {
    formatVersion: 2,
    jobId: JOB,
    jobName: 'property',
    checkpointId,
    kind: 'checkpoint',
    triggerTimestampMs: checkpointId,
    completedTimestampMs: checkpointId,
    maxParallelism: 128,
    operators: [
      {
        operatorId: 'op',
        operatorName: 'op',
        parallelism: 1,
        subtasks: [
          {
            subtaskIndex: 0,
            finished: false,
            keyed: { kind: 'incremental', keyGroupRange: { start: 0, end: 127 }, files },
            operatorState: undefined,
          },
        ],
      },
    ],
    coordinators: [],
  };
}

async function sharedFilesOnDisk(fs: InMemoryFileSystem): Promise<string[]> {
  const entries = await fs.readdir(`memory://${JOB}/shared`).catch(() => []);
  return entries.map((entry) => `../shared/${entry.name}`).sort();
}

describe('SharedStateRegistry with the completed-checkpoint store', () => {
  it('never deletes a referenced file and keeps no unreferenced one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom('FINISHED' as const, 'CANCELED' as const, 'FAILED' as const),
        async (steps, retained, endStatus) => {
          const fs = new InMemoryFileSystem();
          const storage = new JobManagerCheckpointStorage({ fileSystem: fs });
          const registry = new SharedStateRegistry((key) => storage.discardSharedFile(JOB, key));
          const store = new CompletedCheckpointStore({
            storage,
            jobId: JOB,
            retainedCheckpoints: retained,
            sharedStateRegistry: registry,
          });
          let latestFiles: StateFileHandle[] = [];
          const releases: Promise<unknown>[] = [];
          for (const [index, step] of steps.entries()) {
            const checkpointId = index + 1;
            const location = await storage.createCheckpointLocation(JOB, checkpointId);
            const reused = latestFiles.filter((_, i) => (step.reuseMask >> i) & 1);
            const written: StateFileHandle[] = [];
            for (let n = 0; n < step.newFiles; n++) {
              written.push(
                await location.writeSharedFile(`f-${checkpointId}-${n}`, new Uint8Array([checkpointId, n])),
              );
            }
            const files = [...reused, ...written];
            // As the coordinator does on acknowledgement.
            registry.register(
              checkpointId,
              files.map((file) => file.relativePath.slice(3)),
            );
            if (step.completes) {
              const metadata = metadataOf(checkpointId, files);
              await location.commitMetadata(metadata);
              await store.add({ metadata, location });
              latestFiles = files;
            } else {
              releases.push(registry.release(checkpointId));
              await location.discard();
            }
            await Promise.all(releases);
            const referenced = new Set(
              store.checkpoints().flatMap((checkpoint) => {
                const keyed = checkpoint.metadata.operators[0].subtasks[0].keyed!;
                return keyed.kind === 'incremental' ? keyed.files.map((file) => file.relativePath) : [];
              }),
            );
            // Exactly the referenced files exist: none deleted early, none left behind.
            expect(await sharedFilesOnDisk(fs)).toEqual([...referenced].sort());
            for (const checkpoint of store.checkpoints()) {
              const keyed = checkpoint.metadata.operators[0].subtasks[0].keyed!;
              for (const file of keyed.kind === 'incremental' ? keyed.files : []) {
                expect((await storage.verifyFile(checkpoint.location.pointer, file)).status).toBe('ok');
              }
            }
          }
          const kept = store.checkpoints();
          await store.shutdown(endStatus);
          const onDisk = await sharedFilesOnDisk(fs);
          if (endStatus === 'FINISHED') {
            expect(onDisk).toEqual([]);
          } else {
            // Retained (externalized) checkpoints keep every file they reference.
            for (const checkpoint of kept) {
              const keyed = checkpoint.metadata.operators[0].subtasks[0].keyed!;
              for (const file of keyed.kind === 'incremental' ? keyed.files : []) {
                expect(onDisk).toContain(file.relativePath);
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
