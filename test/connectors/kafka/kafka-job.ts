/**
 * Test support: the Kafka → keyed state → Kafka job of the end-to-end tests, its input (per-key
 * sequence numbers), a committer that fails before committing, and the verifier's counting.
 */
import { Producer } from '@platformatic/kafka';
import type { TransactionHandle } from '../../../src/connectors/kafka/index.ts';
import { KafkaSink, KafkaSource, kafkaDeserializers } from '../../../src/connectors/kafka/index.ts';
import {
  type Collector,
  type Committer,
  type CommittingSinkWriter,
  type DeliveryGuarantee,
  type KeyedContext,
  type KeyedProcessFunction,
  type LingeringContext,
  type RuntimeContext,
  type SinkWriterContext,
  StreamExecutionEnvironment,
  type TwoPhaseCommittingSink,
  type ValueState,
  valueState,
} from '../../../src/index.ts';
import { FailureInjector, type FailurePlan, Probe } from '../../it/fault-tolerance/support.ts';

/** The `seq`-th record of `key`. */
export interface SeqRecord {
  readonly key: number;
  readonly seq: number;
}

/** What the job writes per input record: the key's running total of seqs so far (keyed state). */
export interface Total {
  readonly key: number;
  readonly seq: number;
  readonly total: number;
}

export const PARTITIONS = 2;
/** One record batch per fetch: many small source batches, so checkpoints fall between them. */
export const SMALL_FETCH_BYTES = 1;

/** Produces `seqs` records for each of `keys` keys, key `k` to partition `k % partitions`, in seq order. */
export async function produceSequences(
  servers: string,
  topic: string,
  keys: number,
  seqs: number,
  partitions = PARTITIONS,
): Promise<SeqRecord[]> {
  const records: SeqRecord[] = [];
  for (let seq = 0; seq < seqs; seq++) for (let key = 0; key < keys; key++) records.push({ key, seq });
  const producer = new Producer({ clientId: 'test-seq', bootstrapBrokers: [servers], idempotent: true });
  try {
    // One send per seq round: one small record batch per partition each, so that a source with
    // a small partitionFetchBytesMax reads them in many fetches (checkpoints fall in between).
    for (let seq = 0; seq < seqs; seq++) {
      await producer.send({
        messages: records
          .filter((r) => r.seq === seq)
          .map((r) => ({
            topic,
            partition: r.key % partitions,
            key: Buffer.from(String(r.key)),
            value: Buffer.from(JSON.stringify(r)),
          })),
      });
    }
  } finally {
    await producer.close();
  }
  return records;
}

/** The expected output line of a record: totals are 0 + 1 + … + seq. */
export const expectedLine = (r: SeqRecord): string => line({ ...r, total: (r.seq * (r.seq + 1)) / 2 });
export const line = (t: Total): string => `${t.key}:${t.seq}:${t.total}`;

/** Counts how often each expected line was seen: missing, duplicated, and unexpected ones. */
export function tally(
  expected: readonly string[],
  seen: readonly string[],
): { missing: string[]; duplicates: number; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s, (counts.get(s) ?? 0) + 1);
  const wanted = new Set(expected);
  return {
    missing: expected.filter((e) => !counts.has(e)),
    duplicates: [...counts.entries()].reduce((sum, [s, c]) => sum + (wanted.has(s) ? c - 1 : 0), 0),
    unexpected: [...counts.keys()].filter((s) => !wanted.has(s)),
  };
}

/** Keyed running total of seqs; the state a restore must bring back exactly. */
class RunningTotal implements KeyedProcessFunction<number, SeqRecord, Total> {
  #total!: ValueState<number>;

  open(context: RuntimeContext): void {
    this.#total = context.getState(valueState<number>('total', { defaultValue: 0 }));
  }

  processElement(r: SeqRecord, _ctx: KeyedContext<number>, out: Collector<Total>): void {
    const total = (this.#total.value() ?? 0) + r.seq;
    this.#total.update(total);
    out.collect({ key: r.key, seq: r.seq, total });
  }
}

/**
 * Spends `spinMs` of CPU per record, so that a bounded read of a few hundred records spans
 * several checkpoints (a fast read would end before the first one and test no restore).
 */
export function spin<T>(spinMs: number): (value: T) => T {
  return (value) => {
    const until = performance.now() + spinMs;
    while (performance.now() < until) {
      // busy wait: the task must not yield, or the throttle would not hold back the source
    }
    return value;
  };
}

export function bytesSource(servers: string, topic: string): KafkaSource<SeqRecord> {
  return new KafkaSource({
    bootstrapServers: servers,
    topics: [topic],
    deserializer: kafkaDeserializers.json<SeqRecord>(),
    bounded: true,
    partitionFetchBytesMax: SMALL_FETCH_BYTES,
  });
}

export function totalsSink(servers: string, topic: string, guarantee: DeliveryGuarantee): KafkaSink<Total> {
  return new KafkaSink<Total>({
    bootstrapServers: servers,
    topic,
    key: (t) => String(t.key),
    serializer: (t) => line(t),
    deliveryGuarantee: guarantee,
  });
}

export interface TotalsJob {
  readonly name: string;
  readonly servers: string;
  readonly input: string;
  readonly sink: TwoPhaseCommittingSink<Total, TransactionHandle> | KafkaSink<Total>;
  readonly plan: FailurePlan;
  readonly probe?: Probe;
  readonly seed: number;
  readonly checkpointIntervalMs?: number;
  readonly spinMs?: number;
}

/** Kafka (bounded) → failure injector → keyBy → running total → Kafka sink, at p=2; resolves with the restarts. */
export async function runTotalsJob(job: TotalsJob): Promise<{ restarts: number }> {
  const env = StreamExecutionEnvironment.create({
    parallelism: 2,
    maxParallelism: 8,
    randomSeed: job.seed,
    checkpointing: { mode: 'exactly-once', intervalMs: job.checkpointIntervalMs ?? 50 },
    restartStrategy: { kind: 'fixed-delay', attempts: 20, delayMs: 0 },
    logger: { log: () => {} },
  });
  env
    .fromSource(bytesSource(job.servers, job.input), undefined, 'Source: Kafka')
    .uid('kafka-in')
    .map(spin<SeqRecord>(job.spinMs ?? 1))
    .uid('throttle')
    .transform(
      'Failure Injector',
      () => new FailureInjector<SeqRecord>(job.plan, job.probe ?? new Probe(), 'job'),
    )
    .uid('injector')
    .keyBy((r) => r.key)
    .process(() => new RunningTotal())
    .uid('total')
    .sinkTo(job.sink, 'Sink: Kafka')
    .uid('kafka-out');
  const result = await env.execute(job.name);
  return { restarts: result.restarts };
}

/** Thrown by {@link FlakyCommitKafkaSink}'s committer. */
export class InjectedCommitFailure extends Error {
  override name = 'InjectedCommitFailure';
}

/**
 * A Kafka sink whose committer throws instead of committing, `failures` times: the checkpoint
 * completed, its transactions stay pre-committed (open on the broker), the task fails, and the
 * restored job must commit them by resuming them (EndTxn with the saved producer id and epoch).
 * Records which transactional ids failed and which a restored committer committed.
 */
export class FlakyCommitKafkaSink implements TwoPhaseCommittingSink<Total, TransactionHandle> {
  readonly #inner: KafkaSink<Total>;
  readonly deliveryGuarantee: DeliveryGuarantee = 'exactly-once';
  failuresLeft: number;
  readonly failedIds: string[] = [];
  readonly resumedIds: string[] = [];

  constructor(inner: KafkaSink<Total>, failures: number) {
    this.#inner = inner;
    this.failuresLeft = failures;
  }

  createWriter(context: SinkWriterContext): CommittingSinkWriter<Total, TransactionHandle> {
    return this.#inner.createWriter(context);
  }

  createCommitter(context: SinkWriterContext): Committer<TransactionHandle> {
    const inner = this.#inner.createCommitter(context);
    // Handles numbered at or below the restored checkpoint were pre-committed before the
    // restart: committing them is the resume path (`<prefix>-<subtask>-<k>`).
    const restoredId = context.restoredCheckpointId ?? 0;
    const isResume = (h: TransactionHandle): boolean =>
      Number(/-(\d+)$/.exec(h.transactionalId)?.[1]) <= restoredId;
    return {
      commit: async (handles: readonly TransactionHandle[]) => {
        const resuming = handles.filter(isResume);
        if (handles.length > resuming.length && this.failuresLeft > 0) {
          this.failuresLeft--;
          this.failedIds.push(...handles.map((h) => h.transactionalId));
          throw new InjectedCommitFailure(
            `injected: crash before committing ${handles.map((h) => h.transactionalId).join(', ')}`,
          );
        }
        await inner.commit(handles);
        this.resumedIds.push(...resuming.map((h) => h.transactionalId));
      },
      abortLingering: (c: LingeringContext) => inner.abortLingering(c),
      close: () => inner.close(),
    };
  }
}
