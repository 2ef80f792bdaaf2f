// Node Kafka clients against a real Kafka 4.x broker, next to Kafka's own ProducerPerformance.
//
//   node bin/run-ts.js test/kafka/client-bench.ts [--records N] [--rounds R] [--ckjs DIR] [--platformatic DIR] [--out FILE]
//
// Every producer run: 200-byte values, no key unless the row says so, acks=all, idempotent unless
// the row says so, a fresh one-partition topic; afterwards the topic's high watermark must equal
// the records sent (nothing lost, nothing duplicated). The scenarios run interleaved, R rounds, so
// noise from other work on the machine spreads over all of them; the page gives median and best.
// `--ckjs DIR` / `--platformatic DIR` name a folder outside the repo where
// @confluentinc/kafka-javascript / @platformatic/kafka are installed; rows for a client that is not
// given are left out. Broker and client share this machine's cores.

import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { KAFKA_VERSION, producerPerfTest, startBroker } from './broker.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '3' },
    ckjs: { type: 'string' },
    platformatic: { type: 'string' },
    out: { type: 'string' },
  },
});
const RECORDS = Number(args.records);
const ROUNDS = Number(args.rounds);
const RECORD_SIZE = 200;

interface Sample {
  seconds: number;
  /** Node process CPU per record, µs (null: the client ran in another process). */
  clientCpuUs: number | null;
  /** Broker JVM CPU per record, µs. */
  brokerCpuUs?: number;
  note?: string;
}
interface Scenario {
  client: string;
  name: string;
  run(): Promise<Sample>;
  samples: Sample[];
  failure?: string;
}

// 1,000 distinct 200-byte printable payloads, reused round-robin (as ProducerPerformance does).
const payloads = Array.from({ length: 1000 }, () =>
  Buffer.from(Array.from({ length: RECORD_SIZE }, () => String.fromCharCode(65 + Math.floor(Math.random() * 26))).join('')),
);

const load0 = loadavg();
const broker = await startBroker({ logLevel: 'WARN' });
console.error(`broker ${KAFKA_VERSION} at ${broker.bootstrap}`);
const kafka = new Kafka({ clientId: 'bench', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
let topicSeq = 0;

async function freshTopic(): Promise<string> {
  const topic = `bench-${++topicSeq}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  // not waitForLeaders: a busy KRaft broker first answers UNKNOWN_TOPIC_OR_PARTITION (see kafka-client.md)
  for (let i = 0; i < 300; i++) {
    const leader = await admin.fetchTopicMetadata({ topics: [topic] }).then((m) => m.topics[0].partitions[0]?.leader ?? -1, () => -1);
    if (leader >= 0) return topic;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`topic ${topic} has no leader after 30 s`);
}

async function highWatermark(topic: string): Promise<number> {
  const offs = await admin.fetchTopicOffsets(topic);
  return offs.reduce((sum, p) => sum + Number(p.high), 0);
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** The broker JVM's user+system CPU so far, in µs (from /proc/PID/stat, fields 14 and 15). */
function brokerCpuMicros(): number {
  const stat = readFileSync(`/proc/${broker.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1e6;
}

/** Times `body`, then checks the topic holds `expected` records. */
async function timed(topic: string, expected: number, body: () => Promise<void>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const b0 = brokerCpuMicros();
  const t0 = process.hrtime.bigint();
  await body();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const b1 = brokerCpuMicros();
  const hw = await highWatermark(topic);
  if (hw !== expected) throw new Error(`topic holds ${hw} records, expected ${expected}`);
  return { seconds, clientCpuUs: (cpu.user + cpu.system) / RECORDS, brokerCpuUs: (b1 - b0) / RECORDS };
}

/** Sends `records` messages in batches of `batch`, with up to `inFlight` sends outstanding. */
async function pump(records: number, batch: number, inFlight: number, send: (from: number, n: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < records) {
      const from = next;
      const n = Math.min(batch, records - from);
      next += n;
      await send(from, n);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

const scenarios: Scenario[] = [];
const add = (client: string, name: string, run: () => Promise<Sample>) => scenarios.push({ client, name, run, samples: [] });

// --- Kafka's own producer, the reference --------------------------------------------------------
// Java's default batch.size (16 KiB ≈ 75 records of 200 B) means many small produce requests; the
// second row shows what bigger requests buy. Each run is its own JVM (start-up not timed).
const JAVA = `Java kafka-clients ${KAFKA_VERSION} (ProducerPerformance)`;
for (const [label, props] of [
  ['defaults (batch.size=16384, linger.ms=5)', {}],
  ['batch.size=262144, linger.ms=20', { 'batch.size': 262144, 'linger.ms': 20 }],
] as const) {
  add(JAVA, `idempotent, ${label}`, async () => {
    const topic = await freshTopic();
    const b0 = brokerCpuMicros(); // includes the tool's connect and metadata requests: small
    const r = await producerPerfTest({ bootstrap: broker.bootstrap, topic, numRecords: RECORDS, recordSize: RECORD_SIZE, props });
    const b1 = brokerCpuMicros();
    const hw = await highWatermark(topic);
    if (hw !== RECORDS) throw new Error(`topic holds ${hw} records, expected ${RECORDS}`);
    return { seconds: RECORDS / r.recordsPerSec, clientCpuUs: null, brokerCpuUs: (b1 - b0) / RECORDS, note: `latency p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms` };
  });
}

// --- kafkajs --------------------------------------------------------------------------------------
const KAFKAJS = 'kafkajs 2.2.4';
const kjsMessages = (from: number, n: number, keyAndHeaders: boolean) =>
  Array.from({ length: n }, (_, i) =>
    keyAndHeaders
      ? { key: `key-${(from + i) % 64}`, value: payloads[(from + i) % 1000], headers: { 'content-type': 'application/octet-stream', host: 'edge-1' } }
      : { value: payloads[(from + i) % 1000] },
  );
let consumeTopic = '';
for (const s of [
  { name: 'idempotent, 100 per send, 1 in flight', batch: 100, inFlight: 1, idempotent: true, kh: false },
  { name: 'idempotent, 1,000 per send, 1 in flight', batch: 1000, inFlight: 1, idempotent: true, kh: false },
  { name: 'idempotent, 4,000 per send (~0.85 MB), 1 in flight', batch: 4000, inFlight: 1, idempotent: true, kh: false },
  // one send = one record batch per partition: 10,000 × 200 B is over message.max.bytes (1 MiB)
  { name: 'idempotent, 10,000 per send (~2 MB), 1 in flight', batch: 10_000, inFlight: 1, idempotent: true, kh: false },
  { name: 'idempotent, 1,000 per send, 4 sends outstanding', batch: 1000, inFlight: 4, idempotent: true, kh: false },
  { name: 'idempotent, 1,000 per send, key + 2 headers, 1 in flight', batch: 1000, inFlight: 1, idempotent: true, kh: true },
  { name: 'NOT idempotent, 1,000 per send, 4 in flight', batch: 1000, inFlight: 4, idempotent: false, kh: false },
]) {
  add(KAFKAJS, s.name, async () => {
    const topic = await freshTopic();
    if (s.batch === 1000 && s.inFlight === 1 && !s.kh) consumeTopic = topic;
    const producer = kafka.producer(s.idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {});
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: kjsMessages(0, 1, s.kh) }); // connection + producer id, untimed
      return await timed(topic, RECORDS + 1, () =>
        pump(RECORDS, s.batch, s.inFlight, (from, n) => producer.send({ topic, acks: -1, messages: kjsMessages(from + 1, n, s.kh) })),
      );
    } finally {
      await producer.disconnect();
    }
  });
}
add(KAFKAJS, 'consume a 1-partition topic from the beginning (group join included), eachBatch', async () => {
  const consumer = kafka.consumer({ groupId: `bench-consumer-${Date.now()}`, maxBytes: 10 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic: consumeTopic, fromBeginning: true });
  const target = RECORDS + 1;
  let seen = 0;
  const cpu0 = process.cpuUsage();
  const b0 = brokerCpuMicros();
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          seen += batch.messages.length;
          if (seen >= target) resolve();
        },
      })
      .catch(reject);
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const b1 = brokerCpuMicros();
  await consumer.disconnect();
  return { seconds: (seconds * RECORDS) / seen, clientCpuUs: (cpu.user + cpu.system) / seen, brokerCpuUs: (b1 - b0) / seen };
});

// --- @confluentinc/kafka-javascript (librdkafka), if built somewhere outside the repo ------------
if (args.ckjs) {
  const req = createRequire(join(args.ckjs, 'package.json'));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ckjs = req('@confluentinc/kafka-javascript') as any;
  const pkg = JSON.parse(readFileSync(join(args.ckjs, 'node_modules/@confluentinc/kafka-javascript/package.json'), 'utf8')) as { version: string };
  const client = `@confluentinc/kafka-javascript ${pkg.version} (librdkafka ${ckjs.librdkafkaVersion})`;
  const k = new ckjs.KafkaJS.Kafka({ kafkaJS: { brokers: [broker.bootstrap], logLevel: ckjs.KafkaJS.logLevel.NOTHING } });
  for (const s of [
    { name: 'KafkaJS-compatible API, idempotent, 1,000 per send, 1 in flight', batch: 1000, inFlight: 1, kh: false },
    { name: 'KafkaJS-compatible API, idempotent, 1,000 per send, 8 sends outstanding', batch: 1000, inFlight: 8, kh: false },
    { name: 'KafkaJS-compatible API, idempotent, 1,000 per send, key + 2 headers, 1 in flight', batch: 1000, inFlight: 1, kh: true },
  ]) {
    add(client, s.name, async () => {
      const topic = await freshTopic();
      const producer = k.producer({ kafkaJS: { idempotent: true, acks: -1 } });
      await producer.connect();
      try {
        await producer.send({ topic, messages: [{ value: payloads[0] }] });
        return await timed(topic, RECORDS + 1, () =>
          pump(RECORDS, s.batch, s.inFlight, (from, n) =>
            producer.send({ topic, messages: kjsMessages(from + 1, n, s.kh) }),
          ),
        );
      } finally {
        await producer.disconnect();
      }
    });
  }
}

// --- @platformatic/kafka, if installed somewhere outside the repo (declares Node >= 22) ---------
if (args.platformatic) {
  const req = createRequire(join(args.platformatic, 'package.json'));
  // It calls Promise.withResolvers (Node 22+) on every send. To get a number at all on Node 20 the
  // bench adds that one method; the product could not rely on this.
  let polyfilled = false;
  const P = Promise as unknown as { withResolvers?: () => unknown };
  if (!P.withResolvers) {
    polyfilled = true;
    P.withResolvers = () => {
      let resolve!: (v: unknown) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
      return { promise, resolve, reject };
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const pk = (await import(req.resolve('@platformatic/kafka'))) as any;
  const pkg = JSON.parse(readFileSync(join(args.platformatic, 'node_modules/@platformatic/kafka/package.json'), 'utf8')) as { version: string };
  const client = `@platformatic/kafka ${pkg.version} on Node ${process.versions.node}${polyfilled ? ' + Promise.withResolvers polyfill' : ''}`;
  for (const s of [
    { name: 'idempotent, 1,000 per send, 1 in flight', batch: 1000, inFlight: 1, kh: false },
    { name: 'idempotent, 1,000 per send, 4 sends outstanding', batch: 1000, inFlight: 4, kh: false },
    { name: 'idempotent, 1,000 per send, key + 2 headers, 1 in flight', batch: 1000, inFlight: 1, kh: true },
  ]) {
    add(client, s.name, async () => {
      const topic = await freshTopic();
      const producer = new pk.Producer({
        clientId: 'bench-pk',
        bootstrapBrokers: [broker.bootstrap],
        idempotent: true,
        acks: pk.ProduceAcks.ALL,
        // keys and headers are strings (as for kafkajs, which converts them itself); values Buffers
        serializers: { ...pk.stringSerializers, value: (v: Buffer) => v },
      });
      try {
        await producer.send({ messages: [{ topic, value: payloads[0] }] });
        return await timed(topic, RECORDS + 1, () =>
          pump(RECORDS, s.batch, s.inFlight, (from, n) =>
            producer.send({ messages: kjsMessages(from + 1, n, s.kh).map((m) => ({ topic, ...m })) }),
          ),
        );
      } finally {
        await producer.close();
      }
    });
  }
}

// --- run: a warm-up for the broker's JIT, then R interleaved rounds --------------------------------
await producerPerfTest({ bootstrap: broker.bootstrap, topic: await freshTopic(), numRecords: RECORDS, recordSize: RECORD_SIZE });
for (let round = 1; round <= ROUNDS; round++) {
  for (const s of scenarios) {
    if (s.failure) continue;
    try {
      const sample = await s.run();
      s.samples.push(sample);
      console.error(`round ${round}: ${s.client} / ${s.name}: ${Math.round(RECORDS / sample.seconds)} rec/s`);
    } catch (err) {
      s.failure = (err as Error).message;
      console.error(`round ${round}: ${s.client} / ${s.name}: FAILED: ${s.failure}`);
    }
  }
}
await admin.disconnect();
await broker.stop();
const load1 = loadavg();

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const us = (xs: Array<number | null | undefined>) => {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? median(v).toFixed(1) : '—';
};
const table = [
  '| client | scenario | records/s, median | records/s, best | client CPU µs/record | broker CPU µs/record | note |',
  '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ...scenarios.map((s) => {
    if (s.failure && s.samples.length === 0) return `| ${s.client} | ${s.name} | — | — | — | — | FAILED: ${s.failure} |`;
    const rates = s.samples.map((x) => RECORDS / x.seconds);
    const note = [s.samples[s.samples.length - 1]?.note, s.failure ? `FAILED later: ${s.failure}` : ''].filter(Boolean).join('; ');
    const cpu = `${us(s.samples.map((x) => x.clientCpuUs))} | ${us(s.samples.map((x) => x.brokerCpuUs))}`;
    return `| ${s.client} | ${s.name} | ${fmt(median(rates))} | ${fmt(Math.max(...rates))} | ${cpu} | ${note} |`;
  }),
].join('\n');
const page = `<!-- generated by \`node bin/run-ts.js test/kafka/client-bench.ts${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`; do not edit by hand -->
# Kafka client benchmark (generated)

Apache Kafka ${KAFKA_VERSION}, one KRaft node (broker+controller, -Xmx512m) on 127.0.0.1, sharing the
machine with the client: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}.
Load average (1 min) ${load0[0].toFixed(1)} at the start, ${load1[0].toFixed(1)} at the end: other work on the machine counts in.

${RECORD_SIZE}-byte values, no compression, acks=all, a fresh one-partition topic per run, ${fmt(RECORDS)} records
per run, ${ROUNDS} interleaved rounds after a warm-up run; every run's topic is checked to hold exactly
the records sent. CPU columns are user+system time per record (median over rounds): the Node
process for "client" (the Java tool runs in its own JVM, not measured), the broker JVM (from
/proc) for "broker". On a busy machine records/s moves with the load; CPU per record much less so:
it says what each client costs. With a free core each for client and broker, 1e6 / the larger of
the two is a rough ceiling in records/s.

${table}
`;
console.log(page);
if (args.out) writeFileSync(args.out, page);
