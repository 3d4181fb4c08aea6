/**
 * Test support: a small job (generator → failure injector → PostgreSQL sink) run in this
 * process, and a sink wrapper whose committer fails before committing (a crash after a
 * checkpoint completed and before the sink committed).
 */

import { type PostgresSinkOptions, postgresSink } from '../../../src/connectors/postgres/index.ts';
import {
  type Committer,
  type CommittingSinkWriter,
  type LingeringContext,
  type SinkWriterContext,
  StreamExecutionEnvironment,
  type TwoPhaseCommittingSink,
} from '../../../src/index.ts';
import { FailureInjector, type FailurePlan, Probe } from '../../it/fault-tolerance/support.ts';

/** A generated record: `id` is unique, `key` repeats every `keys` records, `v` changes with `id`. */
export interface Item {
  readonly id: number;
  readonly key: number;
  readonly v: string;
}

export const item = (id: number, keys: number): Item => ({ id, key: id % keys, v: `value-${id}` });

export interface SinkJob {
  readonly name: string;
  readonly count: number;
  readonly keys: number;
  readonly ratePerSecond?: number;
  readonly sink: TwoPhaseCommittingSink<Item, string>;
  readonly plan: FailurePlan;
  readonly checkpointIntervalMs?: number;
  readonly restartAttempts?: number;
  readonly seed?: number;
  /** keyBy(key) before the sink, so each key's updates reach one subtask in order (upserts). */
  readonly keyed?: boolean;
  readonly sourceParallelism?: number;
}

/** Runs the job to its end; resolves with the number of restarts. */
export async function runSinkJob(job: SinkJob): Promise<{ restarts: number }> {
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    maxParallelism: 8,
    randomSeed: job.seed ?? 1,
    checkpointing: { mode: 'exactly-once', intervalMs: job.checkpointIntervalMs ?? 100 },
    restartStrategy: { kind: 'fixed-delay', attempts: job.restartAttempts ?? 20, delayMs: 0 },
    logger: { log: () => {} },
  });
  const injected = env
    .fromGenerator<Item>({
      count: job.count,
      generate: (i) => item(i, job.keys),
      ratePerSecond: job.ratePerSecond,
    })
    .setParallelism(job.sourceParallelism ?? 2)
    .uid('source')
    .transform('Failure Injector', () => new FailureInjector<Item>(job.plan, new Probe(), 'before the sink'))
    .setParallelism(job.sourceParallelism ?? 2)
    .uid('injector');
  const input = job.keyed === true ? injected.keyBy((r) => r.key) : injected;
  input.sinkTo(job.sink, 'Sink: PostgreSQL').uid('pg-sink');
  const result = await env.execute(job.name);
  return { restarts: result.restarts };
}

/** Thrown by {@link FlakyCommitSink}'s committer. */
export class InjectedCommitFailure extends Error {
  override name = 'InjectedCommitFailure';
}

/**
 * A PostgreSQL sink whose committer throws instead of committing, `failures` times across
 * all subtasks and attempts: the checkpoint completed, its transactions stay prepared, the
 * task fails, and the restore must commit them.
 */
export class FlakyCommitSink implements TwoPhaseCommittingSink<Item, string> {
  readonly #inner: TwoPhaseCommittingSink<Item, string>;
  failuresLeft: number;
  failed = 0;

  constructor(options: PostgresSinkOptions<Item>, failures: number) {
    this.#inner = postgresSink(options);
    this.failuresLeft = failures;
  }

  createWriter(context: SinkWriterContext): Promise<CommittingSinkWriter<Item, string>> {
    return Promise.resolve(this.#inner.createWriter(context));
  }

  async createCommitter(context: SinkWriterContext): Promise<Committer<string>> {
    const inner = await this.#inner.createCommitter(context);
    return {
      commit: async (gids: readonly string[]) => {
        if (gids.length > 0 && this.failuresLeft > 0) {
          this.failuresLeft--;
          this.failed++;
          throw new InjectedCommitFailure(`injected: crash before COMMIT PREPARED of ${gids.join(', ')}`);
        }
        await inner.commit(gids);
      },
      abortLingering: (c: LingeringContext) => inner.abortLingering(c),
      close: () => inner.close(),
    };
  }
}
