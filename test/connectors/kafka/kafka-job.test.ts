/**
 * The Kafka connector in running jobs against the real broker, with injected failures (seeded;
 * WEIR_FT_SEED replays): the source resumes from checkpointed offsets, discovers new partitions,
 * and Kafka → keyed state → Kafka is exactly-once (every record once for a read_committed
 * reader), also when the job fails between checkpoint completion and the sink's commit; at
 * at-least-once nothing is missing and the duplicates are counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaSource, kafkaDeserializers } from '../../../src/connectors/kafka/index.ts';
import { CollectSink, SeededRandom, StreamExecutionEnvironment } from '../../../src/index.ts';
import {
  baseSeed,
  canonical,
  derivedSeed,
  FailureInjector,
  FailurePlan,
  type Out,
  Probe,
  TransactionalCollectSink,
  TxnStore,
} from '../../it/fault-tolerance/support.ts';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import {
  expectedLine,
  FlakyCommitKafkaSink,
  PARTITIONS,
  produceSequences,
  runTotalsJob,
  type SeqRecord,
  SMALL_FETCH_BYTES,
  spin,
  tally,
  totalsSink,
} from './kafka-job.ts';
import {
  addPartitions,
  bootstrap,
  createTopic,
  noOpenTransactions,
  produce,
  readAll,
  uniqueTopic,
} from './kafka-support.ts';

const KEYS = 8;
const SEQS = 40;
const RECORDS = KEYS * SEQS;
const SEED = baseSeed();

let servers = '';
beforeAll(async () => {
  servers = await bootstrap();
  console.log(`Kafka job tests: seed ${SEED} (replay with WEIR_FT_SEED=${SEED})`);
}, SERVICE_START_TIMEOUT_MS);

const summary: string[] = [];
afterAll(() => {
  if (summary.length > 0) console.log(`Kafka job tests (seed ${SEED}):\n  ${summary.join('\n  ')}`);
});

/** `count` distinct record ordinals in [lo, hi), ascending, from the seed. */
function recordTargets(seed: number, count: number, lo: number, hi: number): number[] {
  const random = new SeededRandom(seed);
  const targets = new Set<number>();
  while (targets.size < count) targets.add(lo + random.nextInt(hi - lo));
  return [...targets].sort((a, b) => a - b);
}

async function inputTopic(name: string): Promise<{ topic: string; records: SeqRecord[] }> {
  const topic = uniqueTopic(name);
  await createTopic(servers, topic, PARTITIONS);
  return { topic, records: await produceSequences(servers, topic, KEYS, SEQS) };
}

describe('Kafka source in a job', () => {
  /** Kafka (bounded) → throttle → failure injector → transactional collect sink; published lines. */
  async function readThroughJob(
    topic: string,
    plan: FailurePlan,
    probe: Probe,
    seed: number,
  ): Promise<string[]> {
    const store = new TxnStore();
    const env = StreamExecutionEnvironment.create({
      parallelism: 2,
      randomSeed: seed,
      checkpointing: { mode: 'exactly-once', intervalMs: 50 },
      restartStrategy: { kind: 'fixed-delay', attempts: 20, delayMs: 0 },
      logger: { log: () => {} },
    });
    env
      .fromSource(
        new KafkaSource({
          bootstrapServers: servers,
          topics: [topic],
          deserializer: kafkaDeserializers.json<SeqRecord>(),
          bounded: true,
          partitionFetchBytesMax: SMALL_FETCH_BYTES,
        }),
        undefined,
        'Source: Kafka',
      )
      .uid('kafka-in')
      .map(spin<SeqRecord>(1))
      .uid('throttle')
      .transform('Failure Injector', () => new FailureInjector<SeqRecord>(plan, probe, 'after the source'))
      .uid('injector')
      // The test sink takes any value; it publishes canonical strings per completed checkpoint.
      .transform('Sink: collect', () => new TransactionalCollectSink(store) as never)
      .uid('collect');
    await env.execute(`kafka-offsets-${topic}`);
    return store.published();
  }

  it('restores its offsets after failures: the output equals a failure-free run', async () => {
    const { topic, records } = await inputTopic('job-offsets');
    const reference = await readThroughJob(topic, FailurePlan.none(), new Probe(), 1);
    expect(reference).toEqual(records.map((r) => canonical(r as unknown as Out)).sort());
    const seed = derivedSeed(SEED, 1);
    const plan = new FailurePlan(seed, { recordTargets: recordTargets(seed, 3, 40, RECORDS) });
    const probe = new Probe();
    const withFailures = await readThroughJob(topic, plan, probe, seed);
    summary.push(
      `offsets: ${plan.injected.record} record failures, ${probe.restoredUnion.length} subtask restores from a checkpoint`,
    );
    expect(plan.injected.record).toBe(3);
    // At least one failure came after a completed checkpoint, so offsets were restored (not
    // re-read from the start: that would publish the checkpointed records twice).
    expect(probe.restoredUnion.length).toBeGreaterThan(0);
    expect(withFailures).toEqual(reference);
  }, 60_000);

  it('picks up a partition added while the job runs (discovery every 100 ms)', async () => {
    const topic = uniqueTopic('job-discovery');
    await createTopic(servers, topic, 1);
    await produce(servers, topic, ['a0', 'a1', 'a2'], 1);
    const sink = new CollectSink<string>();
    const env = StreamExecutionEnvironment.create({ parallelism: 2, logger: { log: () => {} } });
    env
      .fromSource(
        new KafkaSource({
          bootstrapServers: servers,
          topics: [topic],
          deserializer: kafkaDeserializers.string(),
          partitionDiscoveryIntervalMs: 100,
        }),
        undefined,
        'Source: Kafka',
      )
      .sinkTo(sink);
    const client = env.executeAsync(`kafka-discovery-${topic}`);
    const failed = client.result().then(
      () => 'finished',
      (error: unknown) => String(error),
    );
    try {
      await until(() => sink.values.length >= 3, 20_000, 'the first partition');
      await addPartitions(servers, topic, 2);
      const producer = await import('@platformatic/kafka').then(
        (m) => new m.Producer({ clientId: 'test-p1', bootstrapBrokers: [servers], idempotent: true }),
      );
      try {
        await producer.send({
          messages: ['b0', 'b1'].map((v) => ({ topic, partition: 1, value: Buffer.from(v) })),
        });
      } finally {
        await producer.close();
      }
      await until(() => sink.values.length >= 5, 20_000, 'the added partition');
      expect([...sink.values].sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
    } finally {
      await client.cancel();
      await failed;
    }
  }, 60_000);
});

describe('Kafka → keyed state → Kafka', () => {
  it('exactly-once with failures at random records: every record exactly once for read_committed', async () => {
    const { topic: input, records } = await inputTopic('eo-in');
    const output = uniqueTopic('eo-out');
    await createTopic(servers, output, PARTITIONS);
    const seed = derivedSeed(SEED, 2);
    const plan = new FailurePlan(seed, { recordTargets: recordTargets(seed, 3, 40, RECORDS) });
    const { restarts } = await runTotalsJob({
      name: `kafka-eo-${output}`,
      servers,
      input,
      sink: totalsSink(servers, output, 'exactly-once'),
      plan,
      seed,
    });
    const seen = await readAll(servers, output);
    const { missing, duplicates, unexpected } = tally(records.map(expectedLine), seen);
    summary.push(
      `exactly-once: ${restarts} restarts, ${seen.length} records read for ${records.length} expected`,
    );
    expect(plan.injected.record).toBe(3);
    expect({ missing, duplicates, unexpected }).toEqual({ missing: [], duplicates: 0, unexpected: [] });
    expect(seen).toHaveLength(records.length);
    // The transactions open at each failure were aborted on restart: none is left hanging.
    expect(await noOpenTransactions(servers, output)).toBe(true);
  }, 60_000);

  it('commits the pre-committed transactions after a failure between checkpoint completion and commit (resume)', async () => {
    const { topic: input, records } = await inputTopic('resume-in');
    const output = uniqueTopic('resume-out');
    await createTopic(servers, output, PARTITIONS);
    const sink = new FlakyCommitKafkaSink(totalsSink(servers, output, 'exactly-once'), 2);
    const seed = derivedSeed(SEED, 3);
    const { restarts } = await runTotalsJob({
      name: `kafka-resume-${output}`,
      servers,
      input,
      sink,
      plan: FailurePlan.none(),
      seed,
    });
    const seen = await readAll(servers, output);
    const { missing, duplicates, unexpected } = tally(records.map(expectedLine), seen);
    summary.push(
      `resume: ${sink.failedIds.length} transactions whose commit failed, ${sink.resumedIds.length} resumed after restore, ${restarts} restarts`,
    );
    expect(sink.failuresLeft).toBe(0);
    // Both subtasks may fail in the same notification: at least one restart.
    expect(restarts).toBeGreaterThanOrEqual(1);
    // Every transaction whose commit "crashed" was committed by a restored committer from the
    // handle in the checkpoint (EndTxn with the saved producer id and epoch).
    for (const id of sink.failedIds) expect(sink.resumedIds).toContain(id);
    expect({ missing, duplicates, unexpected }).toEqual({ missing: [], duplicates: 0, unexpected: [] });
    expect(await noOpenTransactions(servers, output)).toBe(true);
  }, 60_000);

  it('at-least-once with the same failures: nothing missing, duplicates counted', async () => {
    const { topic: input, records } = await inputTopic('alo-in');
    const output = uniqueTopic('alo-out');
    await createTopic(servers, output, PARTITIONS);
    const seed = derivedSeed(SEED, 2);
    const plan = new FailurePlan(seed, { recordTargets: recordTargets(seed, 3, 40, RECORDS) });
    const { restarts } = await runTotalsJob({
      name: `kafka-alo-${output}`,
      servers,
      input,
      sink: totalsSink(servers, output, 'at-least-once'),
      plan,
      seed,
    });
    const seen = await readAll(servers, output);
    const { missing, duplicates, unexpected } = tally(records.map(expectedLine), seen);
    const line = `at-least-once: ${restarts} restarts, ${seen.length} records read for ${records.length} expected, ${duplicates} duplicates`;
    summary.push(line);
    console.log(line);
    expect(plan.injected.record).toBe(3);
    expect(missing).toEqual([]);
    // Replays after a restore repeat the same lines (state is exactly-once): never a wrong total.
    expect(unexpected).toEqual([]);
    expect(seen.length).toBe(records.length + duplicates);
  }, 60_000);
});

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
