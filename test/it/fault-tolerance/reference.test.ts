/**
 * The randomized runs compare their output with `expectedOutput`, a plain-JS model. This file
 * is what makes that comparison "equal to a failure-free run": failure-free runs of the same
 * job, with and without checkpointing, at parallelism 1–4, publish exactly the model's output.
 */
import { describe, expect, it } from 'vitest';
import { expectedOutput, type JobShape, runJob } from './job.ts';
import { FailurePlan, Probe } from './support.ts';

function shapeAt(p: number): JobShape {
  return {
    specA: { name: 'A', splits: p, keysPerSplit: 3, seqsPerKey: 300 },
    specB: { name: 'B', splits: 5 - p, keysPerSplit: 2, seqsPerKey: 90 },
    injectorAt: (['source', 'keyed', 'sink'] as const)[p % 3],
    injectorParallelism: p,
    checkerParallelism: p,
    windowParallelism: 5 - p,
    coParallelism: p,
    windowMs: 10,
    ratePerSecond: 20_000,
  };
}

describe('failure-free runs publish exactly the model output', () => {
  for (const p of [1, 2, 3, 4]) {
    for (const checkpoints of [true, false]) {
      it(`parallelism ${p}, checkpointing ${checkpoints ? 'every 3 ms' : 'off'}`, async () => {
        const shape = shapeAt(p);
        const probe = new Probe();
        const { published, result, client } = await runJob({
          shape,
          mode: 'exactly-once',
          probe,
          plan: FailurePlan.none(),
          seed: p,
          checkpointing: checkpoints ? { intervalMs: 3 } : {},
        });
        const what = `parallelism ${p} (seed ${p})`;
        expect(result.restarts, what).toBe(0);
        expect(probe.violations, what).toEqual([]);
        expect(published, what).toEqual(expectedOutput(shape));
        const completed = client.checkpointStatistics().filter((s) => s.status === 'COMPLETED').length;
        if (checkpoints) expect(completed, `${what}: checkpoints completed`).toBeGreaterThan(0);
        else expect(completed, what).toBe(0);
      });
    }
  }
});
