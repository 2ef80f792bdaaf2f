// Broker-free parts of the Kafka sink: the topic template, the naming of kafkajs errors, and
// preflight. Everything that needs a broker is in test/kafka/ (a real Kafka 4.x).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { classifyKafkaError, kafkaError } from '../kafka-client.ts';
import { compileTopicTemplate, kafkaSink } from './kafka.ts';

const require = createRequire(import.meta.url);
// the errors kafkajs builds from a broker's error code, as a produce or metadata answer would
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): Error };
const protocolError = (code: number) => new KafkaJSProtocolError(createErrorFromCode(code));

const event = (headers: Record<string, string>): StoredEvent => ({ topic: 't', offset: 0, ts: 0, key: null, headers, body: new Uint8Array() });

describe('kafka sink topic template', () => {
  it('passes the Sluice topic through, keeps constants, fills {topic} and {header.NAME}', () => {
    expect(compileTopicTemplate('{topic}')(event({}), 'orders')).toBe('orders');
    expect(compileTopicTemplate('fixed')(event({}), 'orders')).toBe('fixed');
    expect(compileTopicTemplate('logs.{header.service}-{topic}')(event({ service: 'api' }), 'raw')).toBe('logs.api-raw');
    expect(compileTopicTemplate('logs.{header.service}')(event({}), 'raw')).toBe('logs.');
  });

  it('preflight names bad placeholders and invalid constant topics', async () => {
    const base = { brokers: ['127.0.0.1:9092'], connect_timeout: '10s', request_timeout: '30s', headers: 'all' as const, compression: 'none' as const, idempotent: true, max_request_bytes: '512KiB' };
    expect(await kafkaSink.preflight!({ ...base, topic: 'x/{nope}' }, 'sinks.k')).toEqual([
      { path: 'sinks.k.topic', message: 'unknown placeholder {nope}: use {topic} or {header.NAME}' },
    ]);
    expect((await kafkaSink.preflight!({ ...base, topic: 'bad topic' }, 'sinks.k'))[0].message).toMatch(/not a valid Kafka topic/);
    expect(await kafkaSink.preflight!({ ...base, topic: 'a.{header.b}' }, 'sinks.k')).toEqual([]);
  });
});

describe('kafka errors, named for the user', () => {
  const what = 'sink "k": producing 3 events of "t"';
  const brokers = ['10.0.0.5:9092'];

  it('broker unreachable: retriable, names the brokers', () => {
    const e = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 10.0.0.5:9092', { broker: '10.0.0.5:9092', code: 'ECONNREFUSED' }), { retryCount: 2, retryTime: 1000 });
    expect(classifyKafkaError(e)).toBe('unreachable');
    const s = kafkaError(e, what, brokers, ['t']);
    expect(s).toMatchObject({ code: 'SLUICE_DESTINATION_UNAVAILABLE', retriable: true });
    expect(s.message).toBe(`${what}: broker unreachable (10.0.0.5:9092): Connection error: connect ECONNREFUSED 10.0.0.5:9092`);
  });

  it('unknown topic (3), authorization (29, 31), SASL: retriable, named', () => {
    expect(kafkaError(protocolError(3), what, brokers, ['t']).message).toMatch(/unknown topic "t": the cluster has no such topic/);
    const auth = kafkaError(new KafkaJSNumberOfRetriesExceeded(protocolError(29), { retryCount: 0, retryTime: 0 }), what, brokers, ['t']);
    expect(auth).toMatchObject({ retriable: true });
    expect(auth.message).toMatch(/authorization failed for "t" \(TOPIC_AUTHORIZATION_FAILED\)/);
    expect(kafkaError(protocolError(31), what, brokers, ['t']).message).toMatch(/CLUSTER_AUTHORIZATION_FAILED/);
    // kafkajs does not export this class; it is recognised by name, as kafkajs names it
    const sasl = kafkaError(Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), { name: 'KafkaJSSASLAuthenticationError' }), what, brokers);
    expect(sasl.retriable).toBe(true);
    expect(sasl.message).toMatch(/SASL authentication failed: .*check sasl.mechanism, username and password/);
  });

  it('message too large (10) and record list too large (18): not retriable', () => {
    for (const code of [10, 18]) {
      const s = kafkaError(protocolError(code), what, brokers, ['t']);
      expect(s).toMatchObject({ code: 'SLUICE_DESTINATION_REJECTED', retriable: false });
      expect(s.message).toMatch(/message too large/);
    }
  });

  it('anything else is retriable: events are never parked on a guess', () => {
    expect(kafkaError(new Error('something odd'), what, brokers).retriable).toBe(true);
    expect(kafkaError(protocolError(7), what, brokers).retriable).toBe(true); // REQUEST_TIMED_OUT
  });
});
