/** The framework's exactly-once sink conformance suite, run against the Kafka sink (a fresh topic and transactional prefix per case). */
import { beforeAll } from 'vitest';
import { KafkaSink } from '../../../src/connectors/kafka/index.ts';
import { runSinkConformance } from '../../api/sink-conformance.ts';
import { SERVICE_START_TIMEOUT_MS } from '../../services/services.ts';
import { awaitCommitMarkers, bootstrap, createTopic, readAll, uniqueTopic } from './kafka-support.ts';

// Start (or find) the broker before the first case: a cold start may take minutes, the cases 60 s.
beforeAll(async () => {
  await bootstrap();
}, SERVICE_START_TIMEOUT_MS);

runSinkConformance({
  name: 'Kafka sink (exactly-once, transactions)',
  setup: async () => {
    const servers = await bootstrap();
    const topic = uniqueTopic('conformance');
    await createTopic(servers, topic, 2);
    const prefix = `weir-${topic}`;
    const sink = new KafkaSink<string>({
      bootstrapServers: servers,
      topic,
      serializer: (v) => v,
      deliveryGuarantee: 'exactly-once',
      transactionalIdPrefix: prefix,
    });
    return {
      sink,
      // A commit is visible to read_committed once its markers are written, just after EndTxn.
      readVisible: async () => {
        await awaitCommitMarkers(servers, prefix);
        return readAll(servers, topic);
      },
      // Lingering transactions are aborted by the cases themselves or time out on the broker.
      teardown: async () => {},
    };
  },
});
