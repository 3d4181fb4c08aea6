/** The Kafka source in running jobs against the real broker: exact reads, rejected records, a broker that is down. */
import { beforeAll, describe, expect, it } from 'vitest';
import { KafkaSource, kafkaDeserializers } from '../../../src/connectors/kafka/index.ts';
import { CollectSink, StreamExecutionEnvironment } from '../../../src/index.ts';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import { bootstrap, createTopic, produce, readAll, uniqueTopic } from './kafka-support.ts';

let servers = '';
beforeAll(async () => {
  servers = await bootstrap();
}, SERVICE_START_TIMEOUT_MS);

describe('Kafka source, bounded', () => {
  it.each([1, 2])(
    'reads exactly the produced records at p=%i',
    async (parallelism) => {
      const topic = uniqueTopic(`src-p${parallelism}`);
      await createTopic(servers, topic, 3);
      const values = Array.from({ length: 60 }, (_, i) => `v${i}`);
      await produce(servers, topic, values, 3);
      const env = new StreamExecutionEnvironment({ parallelism });
      const sink = new CollectSink<string>();
      env
        .fromSource(
          new KafkaSource({
            bootstrapServers: servers,
            topics: [topic],
            deserializer: kafkaDeserializers.string(),
            bounded: true,
          }),
          undefined,
          'kafka',
        )
        .sinkTo(sink);
      await env.execute(`kafka-source-${parallelism}`);
      expect([...sink.values].sort()).toEqual([...values].sort());
    },
    60_000,
  );

  it('fails naming topic, partition and offset of a record the deserializer rejects', async () => {
    const topic = uniqueTopic('src-bad');
    await createTopic(servers, topic, 1);
    await produce(servers, topic, ['{"a":1}', 'not json', '{"a":3}'], 1);
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env
      .fromSource(
        new KafkaSource({
          bootstrapServers: servers,
          topics: [topic],
          deserializer: kafkaDeserializers.json(),
          bounded: true,
        }),
        undefined,
        'kafka',
      )
      .sinkTo(new CollectSink());
    await expect(env.execute('bad')).rejects.toThrow();
    try {
      await env.execute('bad-again');
    } catch (error) {
      const text = chain(error);
      expect(text).toContain(`the deserializer rejected the record of ${topic}-0 at offset 1`);
    }
  }, 60_000);

  it('routes a rejected record to the dead-letter topic and goes on', async () => {
    const topic = uniqueTopic('src-dlq');
    const dlq = `${topic}-dlq`;
    await createTopic(servers, topic, 1);
    await createTopic(servers, dlq, 1);
    await produce(servers, topic, ['{"a":1}', 'not json', '{"a":3}'], 1);
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    const sink = new CollectSink<{ a: number }>();
    env
      .fromSource(
        new KafkaSource({
          bootstrapServers: servers,
          topics: [topic],
          deserializer: kafkaDeserializers.json<{ a: number }>(),
          bounded: true,
          onDeserializationError: { deadLetterTopic: dlq },
        }),
        undefined,
        'kafka',
      )
      .sinkTo(sink);
    await env.execute('dlq');
    expect(sink.values.map((v) => v.a)).toEqual([1, 3]);
    expect(await readAll(servers, dlq)).toEqual(['not json']);
  }, 60_000);

  it('gives a clear error when the broker is down at start, after the restart strategy gave up', async () => {
    const restarts: string[] = [];
    const env = StreamExecutionEnvironment.create({
      parallelism: 1,
      restartStrategy: { kind: 'fixed-delay', attempts: 2, delayMs: 0 },
      logger: { log: (_level, message) => void (/restarting/.test(message) && restarts.push(message)) },
    });
    env
      .fromSource(
        new KafkaSource({
          bootstrapServers: '127.0.0.1:1',
          topics: ['t'],
          deserializer: kafkaDeserializers.string(),
          bounded: true,
          retries: 1,
          retryDelayMs: 10,
        }),
        undefined,
        'kafka',
      )
      .sinkTo(new CollectSink());
    let message = '';
    try {
      await env.execute('down');
    } catch (error) {
      message = chain(error);
    }
    expect(message).toContain('Kafka (127.0.0.1:1): listing topics failed');
    // A broker that is down may come back: the failure is retried like any other.
    expect(restarts).toHaveLength(2);
    expect(restarts[0]).toContain('Kafka (127.0.0.1:1)');
  }, 60_000);
});

function chain(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, i = 0; e instanceof Error && i < 8; e = e.cause, i++) parts.push(e.message);
  return parts.join(' <- ');
}
