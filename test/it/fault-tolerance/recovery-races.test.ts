/**
 * A checkpoint that completes while the job fails over. All its acknowledgements came in
 * before the failure, so the coordinator goes on committing it after the attempt ended; when
 * it lands it subsumes the previous checkpoint and deletes that one's files. The restart must
 * not be reading the previous checkpoint then: it restores the newest one.
 *
 * Found by the rescale suite on disk (slow fsyncs widen the window): a resumed job's
 * failover read `chk-5/co-checker-0.keyed: file is missing`, and the job failed for good.
 */
import { describe, expect, it } from 'vitest';
import {
  AbstractStreamOperator,
  CollectSink,
  FaultInjectingFileSystem,
  FileSystemCheckpointStorage,
  InMemoryFileSystem,
  ManualClock,
  type OneInputStreamOperator,
  StreamExecutionEnvironment,
} from '../../../src/index.ts';
import { CapturingLogger, InjectedFailure } from './support.ts';

/** A file system whose `_metadata` commit of one checkpoint, and reads of another, wait for the test. */
class GatedFileSystem extends FaultInjectingFileSystem {
  holdCommitOf: string | undefined;
  commitHeld = false;
  #releaseCommit: (() => void) | undefined;
  holdReadsOf: string | undefined;
  readHeld = false;
  #releaseReads: (() => void) | undefined;
  readonly removed: string[] = [];

  override async rename(fromPath: string, toPath: string): Promise<void> {
    if (this.holdCommitOf !== undefined && fromPath.includes(`/${this.holdCommitOf}/_metadata`)) {
      this.commitHeld = true;
      await new Promise<void>((resolve) => {
        this.#releaseCommit = resolve;
      });
    }
    return super.rename(fromPath, toPath);
  }

  override async readFile(path: string): Promise<Uint8Array> {
    if (
      this.holdReadsOf !== undefined &&
      path.includes(`/${this.holdReadsOf}/`) &&
      !path.endsWith('_metadata')
    ) {
      this.readHeld = true;
      await new Promise<void>((resolve) => {
        this.#releaseReads = resolve;
      });
    }
    return super.readFile(path);
  }

  override async remove(path: string): Promise<void> {
    this.removed.push(path);
    return super.remove(path);
  }

  releaseCommit(): void {
    this.holdCommitOf = undefined;
    this.#releaseCommit?.();
  }

  releaseReads(): void {
    this.holdReadsOf = undefined;
    this.#releaseReads?.();
  }
}

class Tripwire extends AbstractStreamOperator<number> implements OneInputStreamOperator<number, number> {
  readonly #control: { armed: boolean };

  constructor(control: { armed: boolean }) {
    super();
    this.#control = control;
  }

  processElement(value: number, timestamp: number): void {
    if (this.#control.armed) {
      this.#control.armed = false;
      throw new InjectedFailure('tripwire');
    }
    this.output.collect(value, timestamp);
  }
}

async function turns(clock: ManualClock, n: number, advanceMs = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    clock.advance(advanceMs);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function until(
  clock: ManualClock,
  condition: () => boolean,
  what: string,
  advanceMs = 0,
): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (condition()) return;
    clock.advance(advanceMs);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting until ${what}`);
}

describe('a checkpoint completing during a failover', () => {
  it('does not delete the checkpoint the restart restores', async () => {
    const clock = new ManualClock(1_000_000);
    const fileSystem = new GatedFileSystem(new InMemoryFileSystem());
    const tripwire = { armed: false };
    const sink = new CollectSink<number>();
    const logger = new CapturingLogger();
    const env = StreamExecutionEnvironment.create({
      parallelism: 2,
      maxParallelism: 8,
      clock,
      checkpointing: { intervalMs: 1e12 },
      checkpointStorage: new FileSystemCheckpointStorage('/checkpoints', { fileSystem }),
      restartStrategy: { kind: 'fixed-delay', attempts: 2, delayMs: 0 },
      logger,
    });
    env
      .fromGenerator({ count: 2_000, generate: (i) => i, ratePerSecond: 10_000 })
      .uid('numbers')
      .keyBy((n) => n % 5)
      .transform('Tripwire', () => new Tripwire(tripwire))
      .uid('tripwire')
      .keyBy((n) => n % 3)
      .reduce((a, b) => a + b)
      .uid('sums')
      .sinkTo(sink);
    const client = env.executeAsync('completion during failover');
    const settled = (p: Promise<unknown>) => {
      const box = { done: false };
      p.then(
        () => {
          box.done = true;
        },
        () => {
          box.done = true;
        },
      );
      return box;
    };
    await until(clock, () => clock.now() > 1_000_020, 'records flow', 1);
    const first = settled(client.triggerCheckpoint());
    await until(clock, () => first.done, 'checkpoint 1 completes');
    // Checkpoint 2: every subtask acknowledges, then its _metadata commit waits.
    fileSystem.holdCommitOf = 'chk-2';
    const second = settled(client.triggerCheckpoint());
    await until(clock, () => fileSystem.commitHeld, 'checkpoint 2 is being committed');
    // The failover: reads of checkpoint 1 (what the restart would restore) wait too.
    fileSystem.holdReadsOf = 'chk-1';
    tripwire.armed = true;
    await until(clock, () => !tripwire.armed, 'the tripwire fires', 1);
    // Whatever the job manager does now (restart at once, or wait for checkpoint 2), give it time.
    await turns(clock, 50);
    // Checkpoint 2 lands: it subsumes checkpoint 1 and deletes its files.
    fileSystem.releaseCommit();
    await until(clock, () => second.done, 'checkpoint 2 completes');
    await turns(clock, 50);
    fileSystem.releaseReads();
    let ended = false;
    const result = client.result().then(
      (r) => {
        ended = true;
        return r;
      },
      (error: Error) => {
        ended = true;
        return error;
      },
    );
    await until(clock, () => ended, 'the job ends', 1);
    const outcome = await result;
    expect(outcome instanceof Error ? `${outcome.message}\n${logger.text()}` : 'finished').toBe('finished');
    expect(
      fileSystem.removed.some((p) => p.endsWith('/chk-1') || p.includes('/chk-1/')),
      `checkpoint 1 was subsumed; removed: ${fileSystem.removed.join(', ')}`,
    ).toBe(true);
    expect(logger.text(), 'the restart restores the newest checkpoint').toContain(
      'restoring from checkpoint 2',
    );
  });
});
