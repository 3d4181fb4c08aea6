/** SharedStateRegistry: a model-based property test over random checkpoints, retains, aborts and subsumptions. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SharedStateRegistry,
  sharedStateKeys,
} from '../../../src/checkpoint/storage/shared-state-registry.ts';

/** One step of the model: the coordinator's view of incremental checkpoints. */
type Step =
  | { readonly kind: 'trigger'; readonly newFiles: number; readonly reuse: readonly number[] }
  | { readonly kind: 'complete'; readonly pick: number }
  | { readonly kind: 'abort'; readonly pick: number }
  | { readonly kind: 'shutdown'; readonly retain: boolean };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('trigger' as const),
    newFiles: fc.integer({ min: 0, max: 3 }),
    reuse: fc.array(fc.nat(), { maxLength: 6 }),
  }),
  fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('shutdown' as const), retain: fc.boolean() }),
);

describe('SharedStateRegistry', () => {
  it('never deletes a referenced file and keeps no unreferenced one (model-based)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(stepArbitrary, { minLength: 1, maxLength: 60 }),
        async (retainedMax, steps) => {
          const disk = new Set<string>();
          const deletedEver = new Set<string>();
          const registry = new SharedStateRegistry(async (key) => {
            expect(disk.has(key), `deleting ${key} twice or a file never written`).toBe(true);
            disk.delete(key);
            deletedEver.add(key);
          });
          const files = new Map<number, Set<string>>();
          const pending: number[] = [];
          const completed: number[] = [];
          let nextId = 1;
          let nextFile = 0;
          let ended = false;

          for (const step of steps) {
            if (ended) break;
            if (step.kind === 'trigger') {
              // A new incremental checkpoint reuses files of the latest completed one and adds new ones.
              const id = nextId++;
              const base = [...(files.get(completed.at(-1) ?? -1) ?? [])];
              const keys = new Set(
                step.reuse.filter(() => base.length > 0).map((i) => base[i % base.length]),
              );
              for (let i = 0; i < step.newFiles; i++) {
                const key = `shared/f${nextFile++}`;
                disk.add(key);
                keys.add(key);
              }
              files.set(id, keys);
              // Registered at acknowledgement, so a pending checkpoint's files are protected too.
              registry.register(id, keys);
              registry.register(id, keys); // a retried acknowledgement counts once
              pending.push(id);
            } else if (step.kind === 'complete' && pending.length > 0) {
              const id = pending.splice(step.pick % pending.length, 1)[0];
              // Completing n aborts older pending checkpoints (as the coordinator does).
              for (const older of pending.filter((p) => p < id)) {
                pending.splice(pending.indexOf(older), 1);
                await registry.release(older);
              }
              completed.push(id);
              while (completed.length > retainedMax) await registry.release(completed.shift()!);
            } else if (step.kind === 'abort' && pending.length > 0) {
              await registry.release(pending.splice(step.pick % pending.length, 1)[0]);
            } else if (step.kind === 'shutdown') {
              for (const id of pending.splice(0)) await registry.release(id);
              if (!step.retain) for (const id of completed.splice(0)) await registry.release(id);
              ended = true;
            }

            const live = new Set([...pending, ...completed].flatMap((id) => [...files.get(id)!]));
            // Nothing referenced was deleted...
            for (const key of live) expect(disk.has(key), `${key} is referenced but gone`).toBe(true);
            // ...and nothing unreferenced is kept.
            expect([...disk].sort()).toEqual([...live].sort());
            expect(registry.referencedKeys()).toEqual([...live].sort());
            for (const key of live) {
              const owners = [...pending, ...completed].filter((id) => files.get(id)!.has(key)).length;
              expect(registry.referenceCount(key)).toBe(owners);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses to register a file that was already deleted', async () => {
    const registry = new SharedStateRegistry(async () => {});
    registry.register(1, ['shared/a']);
    expect((await registry.release(1)).deleted).toEqual(['shared/a']);
    expect(() => registry.register(2, ['shared/a'])).toThrow(/already deleted/);
  });

  it('reports failed deletions as values and forgets the file', async () => {
    const registry = new SharedStateRegistry(async (key) => {
      if (key === 'shared/bad') throw new Error('EIO');
    });
    registry.register(1, ['shared/bad', 'shared/good']);
    const result = await registry.release(1);
    expect(result.deleted).toEqual(['shared/good']);
    expect(result.failures).toMatchObject([{ key: 'shared/bad' }]);
    expect(registry.referencedKeys()).toEqual([]);
    expect(await registry.release(1)).toEqual({ deleted: [], failures: [] });
  });

  it('maps handle paths to registry keys', () => {
    expect(sharedStateKeys(['../shared/abc', 'own.keyed', '../shared/d'])).toEqual([
      'shared/abc',
      'shared/d',
    ]);
  });
});
