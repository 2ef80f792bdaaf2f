// Proves the real-broker harness: a Kafka 4.x broker from Maven Central jars, Kafka's own tools
// from the same jars, kafkajs and (where installed) kcat against it, and crash/restart.

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { createTopic, kafkaAvailable, kafkaSkipMessage, KAFKA_VERSION, runKafkaTool, startBroker, type Broker } from './broker.ts';
import { scaled, spawnTracked } from '../helpers/children.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const KCAT = '/usr/bin/kcat';
const avail = kafkaAvailable();
if (!avail.ok) console.warn(kafkaSkipMessage('test/kafka/broker.test.ts'));

interface Received {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

function headersToStrings(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = String(v);
  return out;
}

/** Joins a fresh group, reads `n` records from the beginning of `topic`, leaves. */
async function consume(kafka: Kafka, topic: string, n: number, timeoutMs = 30_000): Promise<Received[]> {
  const consumer = kafka.consumer({ groupId: `g-${topic}-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: Received[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${got.length} of ${n} records from ${topic} in ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            got.push({
              partition,
              offset: message.offset,
              key: message.key?.toString() ?? null,
              value: message.value?.toString() ?? null,
              headers: headersToStrings(message.headers),
            });
            if (got.length >= n) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return got;
  } finally {
    await consumer.disconnect();
  }
}

function runCmd(cmd: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

describe.skipIf(!avail.ok)(`real Kafka ${KAFKA_VERSION} broker (KRaft, one node)`, () => {
  let broker: Broker;
  let kafka: Kafka;

  beforeAll(async () => {
    broker = await startBroker(); // first run resolves the jars with mvn: can take minutes
    kafka = new Kafka({ clientId: 'sluice-harness-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  }, scaled(900_000));

  afterAll(async () => {
    await broker?.stop();
    if (broker) expect(existsSync(broker.dataDir)).toBe(false);
  }, scaled(60_000));

  it('listens on 127.0.0.1 and kafka-topics creates and describes a topic', async () => {
    expect(broker.bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
    await createTopic(broker.bootstrap, 'harness', { partitions: 2 });
    const described = await runKafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', broker.bootstrap, '--describe', '--topic', 'harness']);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/Topic: harness\s+TopicId: \S+\s+PartitionCount: 2\s+ReplicationFactor: 1/);
  });

  it('kafkajs produces (idempotent, acks=all) and consumes records with keys and headers', async () => {
    await createTopic(broker.bootstrap, 'harness', { partitions: 2 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = Array.from({ length: 6 }, (_, i) => ({
      key: `k${i % 3}`,
      value: JSON.stringify({ n: i }),
      headers: { 'content-type': 'application/json', seq: String(i) },
    }));
    const meta = await producer.send({ topic: 'harness', acks: -1, messages });
    await producer.disconnect();
    expect(meta.every((m) => m.errorCode === 0)).toBe(true);

    const got = await consume(kafka, 'harness', 6);
    expect(got).toHaveLength(6);
    // every record arrived once with its key and headers; per key, in the order sent
    const bySeq = new Map(got.map((r) => [r.headers.seq, r]));
    for (let i = 0; i < 6; i++) {
      const r = bySeq.get(String(i));
      expect(r, `record ${i}`).toBeDefined();
      expect(r!.key).toBe(`k${i % 3}`);
      expect(r!.value).toBe(JSON.stringify({ n: i }));
      expect(r!.headers['content-type']).toBe('application/json');
    }
    for (const key of ['k0', 'k1', 'k2']) {
      const seqs = got.filter((r) => r.key === key).map((r) => Number(r.headers.seq));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(got.filter((r) => r.key === key).map((r) => r.partition)).size).toBe(1);
    }
  });

  it('kcat talks to the broker (metadata, produce with key and header, consume)', async (ctx) => {
    if (!existsSync(KCAT)) {
      console.warn(`[kafka] SKIPPED kcat assertions: ${KCAT} is not installed (Debian package kcat)`);
      ctx.skip();
    }
    const meta = await runCmd(KCAT, ['-b', broker.bootstrap, '-L', '-J']);
    expect(meta.code, meta.stderr).toBe(0);
    expect(JSON.parse(meta.stdout).brokers[0]).toMatchObject({ id: 1, name: broker.bootstrap });

    const produced = await runCmd(KCAT, ['-b', broker.bootstrap, '-t', 'kcat-topic', '-P', '-K', ':', '-H', 'origin=kcat'], 'a:first\nb:second\n');
    expect(produced.code, produced.stderr).toBe(0);

    // kcat reads back what it wrote (auto-created topic) …
    const read = await runCmd(KCAT, ['-b', broker.bootstrap, '-t', 'kcat-topic', '-C', '-o', 'beginning', '-e', '-f', '%k=%s %h\\n']);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout.trim().split('\n')).toEqual(['a=first origin=kcat', 'b=second origin=kcat']);

    // … and so does kafkajs, headers included
    const got = await consume(kafka, 'kcat-topic', 2);
    expect(got.map((r) => [r.key, r.value, r.headers.origin])).toEqual([
      ['a', 'first', 'kcat'],
      ['b', 'second', 'kcat'],
    ]);
  });

  it('keeps acked records across kill -9 and a graceful restart', async () => {
    await createTopic(broker.bootstrap, 'durable');
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: 'durable', acks: -1, messages: [{ key: 'x', value: 'before-kill' }] });
    await producer.disconnect();

    broker.kill();
    await broker.restart();
    const p2 = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await p2.connect();
    await p2.send({ topic: 'durable', acks: -1, messages: [{ key: 'x', value: 'after-kill' }] });
    await p2.disconnect();

    await broker.restart();
    const got = await consume(kafka, 'durable', 2);
    expect(got.map((r) => [r.offset, r.value])).toEqual([
      ['0', 'before-kill'],
      ['1', 'after-kill'],
    ]);
  }, scaled(180_000));
});
