// Broker-free behaviour of the Kafka source; everything with a broker is in test/kafka/.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../shared/src/spec.ts';
import { kafkaSource, type KafkaSource } from './kafka.ts';
import { createTestContext, openTestChannel } from './testing.ts';
import { scaled } from '../../../test/helpers/children.ts';

const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('kafka source', () => {
  it('starts while Kafka is unreachable (joins in the background) and stops promptly', async () => {
    const tc = openTestChannel();
    const port = await closedPort();
    const { value } = validateConfig(kafkaSource.config, { brokers: [`127.0.0.1:${port}`], group_id: 'g', topics: ['t'], connect_timeout: '200ms' }, 'sources.k');
    const source = kafkaSource.create(value!, createTestContext(tc.channel, { name: 'k' })) as KafkaSource;
    const t0 = Date.now();
    await source.start(); // returns although no broker answers (a blocking start would time the test out)
    await new Promise((r) => setTimeout(r, 1500));
    expect(source.joined).toBe(false);
    await source.stop();
    expect(Date.now() - t0).toBeLessThan(scaled(15_000));
    await tc.cleanup();
  }, scaled(30_000));

  it('preflight wants a topic or a pattern, and a valid regex', async () => {
    const base = validateConfig(kafkaSource.config, { brokers: ['127.0.0.1:9092'], group_id: 'g' }, 'sources.k').value!;
    expect(await kafkaSource.preflight!(base, 'sources.k')).toEqual([{ path: 'sources.k.topics', message: 'name at least one topic, or set topic_pattern' }]);
    expect((await kafkaSource.preflight!({ ...base, topic_pattern: '(' }, 'sources.k'))[0].path).toBe('sources.k.topic_pattern');
    expect(await kafkaSource.preflight!({ ...base, topics: ['a'], topic: 'kafka.{topic}' }, 'sources.k')).toEqual([]);
  });
});
