/**
 * Kafka sink and source against a real Kafka 4.x broker (test/kafka/broker.ts; skipped with a
 * message when Java or Maven are missing):
 *   kafka.sink    events/s from the channel into Kafka: a real Channel pre-filled with 200-byte
 *                 events, drained by a SinkRunner through the kafka sink (acks=all, idempotent),
 *                 timed until the cursor reached the end. Baseline: Kafka's own
 *                 kafka-producer-perf-test (ProducerPerformance from the same jars), acks=all,
 *                 idempotent, the same record size and count, in the same run, same broker.
 *   kafka.source  events/s from a Kafka topic into the channel through the kafka source (consumer
 *                 group, commit after each channel commit). Baseline: none (kafkajs's bare
 *                 consume rate is in docs/decisions/kafka-client.md).
 */
import { join } from 'node:path';
import { Channel } from '../../collector/src/channel/channel.ts';
import { silentLogger } from '../../collector/src/log.ts';
import { SinkRunner } from '../../collector/src/sinks/runner.ts';
import { buildSink } from '../../collector/src/sinks/testing.ts';
import { createTestContext } from '../../collector/src/sources/testing.ts';
import { builtinRegistries } from '../../collector/src/builtins.ts';
import { validateConfig } from '../../shared/src/spec.ts';
import type { EventDraft } from '../../shared/src/event.ts';
import { createTopic, kafkaAvailable, kafkaSkipMessage, producerPerfTest, startBroker, KAFKA_VERSION } from '../kafka/broker.ts';
import { defineBench, type BenchContext } from './harness.ts';

const RECORD_BYTES = 200;
const HEADERS = Object.freeze({ 'content-type': 'application/json' });

function body(i: number): Buffer {
  const head = `{"seq":${i},"host":"edge-${i % 17}","msg":"`;
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(RECORD_BYTES - head.length - tail.length) + tail);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function fillChannel(channel: Channel, topic: string, n: number): Promise<void> {
  const ts = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const events: EventDraft[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) events.push({ topic, ts, key: null, headers: HEADERS, body: body(j) });
    await channel.append({ events });
  }
}

async function sinkRate(b: BenchContext, bootstrap: string, n: number, round: number): Promise<number> {
  const topic = `sink-${round}`;
  await createTopic(bootstrap, topic);
  const channel = Channel.open({ file: join(b.tempDir('kafka-sink'), 'channel.db'), retentionIntervalMs: 0, maxBytes: 1024 ** 4, defaults: { retentionMs: null } });
  await fillChannel(channel, topic, n);
  const sink = buildSink({ type: 'kafka', brokers: [bootstrap] }, 'kafka');
  const runner = new SinkRunner({
    name: 'kafka',
    sink,
    channel,
    log: silentLogger,
    topics: [topic],
    batch: { maxEvents: 1000, maxBytes: 4 * 1024 * 1024, maxWaitMs: 0 },
    retry: { initialMs: 100, maxMs: 1000 },
    startFrom: 'earliest',
    onRejected: 'stop',
  });
  const t0 = performance.now();
  runner.start();
  for (;;) {
    const st = runner.status();
    if (st.state === 'failed') throw new Error(`kafka sink failed: ${st.lastError?.message}`);
    if (st.sentEvents >= n) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  await runner.stop();
  await channel.close();
  return n / seconds;
}

async function sourceRate(b: BenchContext, bootstrap: string, n: number, round: number): Promise<number> {
  const topic = `source-${round}`;
  await createTopic(bootstrap, topic);
  // fill with Kafka's own producer: the same 200-byte records, fast
  await producerPerfTest({ bootstrap, topic, numRecords: n, recordSize: RECORD_BYTES });
  const channel = Channel.open({ file: join(b.tempDir('kafka-source'), 'channel.db'), retentionIntervalMs: 0, maxBytes: 1024 ** 4, defaults: { retentionMs: null } });
  const spec = builtinRegistries().sources.get('kafka')!;
  const { value, problems } = validateConfig(spec.config, { brokers: [bootstrap], group_id: `bench-${round}`, topics: [topic], start_from: 'earliest' }, 'sources.kafka');
  if (!value) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  const ctx = createTestContext(channel, { name: 'kafka' });
  const source = spec.create(value, ctx);
  const t0 = performance.now();
  await source.start();
  // the rate is taken from the first event in the channel on: joining the group is not ingest
  let first: { at: number; high: number } | null = null;
  for (;;) {
    const info = channel.topic(topic);
    if (info && info.high > 0 && !first) first = { at: performance.now(), high: info.high };
    if (info && info.high >= n) break;
    if (performance.now() - t0 > 300_000) throw new Error(`kafka source: ${info?.high ?? 0} of ${n} events after 300 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const end = performance.now();
  await source.stop();
  await channel.close();
  b.log(`kafka.source: joined and first append after ${fmt(first!.at - t0)} ms`);
  return (n - first!.high) / ((end - first!.at) / 1000);
}

export default defineBench({
  name: 'kafka',
  summary: `Kafka sink and source against a real Kafka ${KAFKA_VERSION} broker, with Kafka's own producer as the baseline`,
  async run(b) {
    if (!kafkaAvailable().ok) {
      b.log(kafkaSkipMessage('test/bench/kafka.bench.ts'));
      return;
    }
    const n = b.quick ? 20_000 : 200_000;
    const rounds = b.quick ? 1 : 3;
    const broker = await startBroker({ logLevel: 'WARN' });
    try {
      if (b.wants('kafka.sink')) {
        const ours: number[] = [];
        const theirs: number[] = [];
        for (let r = 0; r < rounds; r++) {
          // interleaved, so load from other work on the machine spreads over both
          const perf = await producerPerfTest({ bootstrap: broker.bootstrap, topic: `perf-${r}`, numRecords: n, recordSize: RECORD_BYTES });
          theirs.push(perf.recordsPerSec);
          ours.push(await sinkRate(b, broker.bootstrap, n, r));
          b.log(`kafka.sink round ${r + 1}: sluice ${fmt(ours[r])} ev/s, kafka-producer-perf-test ${fmt(theirs[r])} rec/s`);
        }
        const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
        b.figure('kafka.sink', {
          value: med(ours),
          unit: 'events/s',
          better: 'higher',
          baseline: med(theirs),
          notes:
            `${fmt(n)} events of ${RECORD_BYTES} bytes (JSON body, header content-type, no key) pre-filled in a channel, drained by a SinkRunner ` +
            `(1,000 per batch) through the kafka sink (kafkajs 2.2.4, acks=all, idempotent, ≤512 KiB per request) into a one-partition topic; ` +
            `median of ${rounds} rounds. Baseline: kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance ${KAFKA_VERSION}) with acks=all, ` +
            `enable.idempotence=true, --record-size ${RECORD_BYTES}, the same count, its default batching, interleaved in the same run against the same broker ` +
            `(KRaft, one node, -Xmx512m, on this machine). The Kafka client's CPU bounds the sink: see docs/decisions/kafka-client.md.`,
        });
      }
      if (b.wants('kafka.source')) {
        const rates: number[] = [];
        for (let r = 0; r < rounds; r++) {
          rates.push(await sourceRate(b, broker.bootstrap, n, r));
          b.log(`kafka.source round ${r + 1}: ${fmt(rates[r])} ev/s into the channel`);
        }
        b.figure('kafka.source', {
          value: [...rates].sort((x, y) => x - y)[Math.floor(rates.length / 2)],
          unit: 'events/s',
          better: 'higher',
          baseline: null,
          notes:
            `${fmt(n)} records of ${RECORD_BYTES} bytes written by kafka-producer-perf-test to a one-partition topic, then consumed from earliest by the kafka source ` +
            `(a fresh consumer group; each fetch one channel append with synchronous=FULL, then an offset commit to Kafka) until all were in the channel; the rate counts from the first append (joining the group, ~1–3 s, is left out); median of ${rounds} rounds.`,
        });
      }
    } finally {
      await broker.stop();
    }
  },
});
