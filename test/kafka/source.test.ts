/**
 * The kafka source against a real Kafka 4.x broker (test/kafka/broker.ts): Kafka → a real
 * collector process's kafka source → channel, read back through the admin API
 * (GET /api/v1/topics/:topic/events; `sluice tail` reads the same). Keys, headers and timestamps
 * arrive intact; a collector killed with SIGKILL while records stream in loses none and, thanks
 * to the offsets stored in the channel with the events, stores none twice.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { Channel } from '../../collector/src/channel/channel.ts';
import { builtinRegistries } from '../../collector/src/builtins.ts';
import { createTestContext } from '../../collector/src/sources/testing.ts';
import { validateConfig } from '../../shared/src/spec.ts';
import { freePort, removeDir, scaled, SLUICE, spawnTracked, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';
import { createTopic, kafkaAvailable, kafkaSkipMessage, KAFKA_VERSION, startBroker, type Broker } from './broker.ts';

const avail = kafkaAvailable();
if (!avail.ok) console.warn(kafkaSkipMessage('test/kafka/source.test.ts'));

interface ApiEvent {
  offset: number;
  ts: number;
  key: string | null;
  headers: Record<string, string>;
  body: unknown;
}

async function readAll(c: CollectorProcess, topic: string): Promise<ApiEvent[]> {
  const out: ApiEvent[] = [];
  let from = 0;
  for (;;) {
    const page = await c.api<{ events: ApiEvent[]; next: number; high: number }>(`/api/v1/topics/${topic}/events?from=${from}&limit=10000&raw=false`);
    out.push(...page.events);
    if (page.events.length === 0 || page.next >= page.high) return out;
    from = page.next;
  }
}

/**
 * The events of a topic as `sluice tail TOPIC --from 0 --no-follow` prints them (NDJSON), when
 * this checkout has the tail command; else through the admin API it reads from.
 */
async function readWithTail(c: CollectorProcess, topic: string): Promise<{ via: string; events: ApiEvent[] }> {
  const help = spawnSync(process.execPath, [SLUICE, 'tail', '--help'], { encoding: 'utf8' });
  if (help.status !== 0) return { via: 'GET /api/v1/topics/:topic/events (no `sluice tail` in this checkout)', events: await readAll(c, topic) };
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawnTracked(process.execPath, [SLUICE, 'tail', topic, '--admin', c.adminUrl, '--from', '0', '--no-follow'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`sluice tail exited ${code}: ${stderr}`))));
  });
  return { via: 'sluice tail --no-follow', events: out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ApiEvent) };
}

async function count(c: CollectorProcess, topic: string): Promise<number> {
  const { topics } = await c.api<{ topics: { name: string; count: number }[] }>('/api/v1/topics');
  return topics.find((t) => t.name === topic)?.count ?? 0;
}

describe.skipIf(!avail.ok)(`Kafka ${KAFKA_VERSION} → kafka source → channel`, () => {
  let broker: Broker;
  let kafka: Kafka;
  let producer: Producer;
  const running: CollectorProcess[] = [];

  beforeAll(async () => {
    broker = await startBroker({ heap: '384m' });
    kafka = new Kafka({ clientId: 'source-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  }, scaled(900_000));

  afterEach(async () => {
    for (const c of running.splice(0)) {
      await c.kill();
      removeDir(c.dir);
    }
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await broker?.stop();
  }, scaled(60_000));

  function config(admin: number, topic: string, group: string): string {
    return [
      'admin:',
      `  listen: 127.0.0.1:${admin}`,
      'sources:',
      '  kafka:',
      '    type: kafka',
      `    brokers: ["${broker.bootstrap}"]`,
      `    group_id: ${group}`,
      `    topics: [${topic}]`,
      '    start_from: earliest',
      "    topic: 'kafka.{topic}'",
      '    content_type: application/json',
      '    session_timeout: 10s',
      '',
    ].join('\n');
  }

  it('carries keys, headers and timestamps into events, and commits the group offsets', async () => {
    await createTopic(broker.bootstrap, 'src', { partitions: 3 });
    const N = 600;
    const ts0 = Date.parse('2026-01-02T03:04:05Z');
    for (let b = 0; b < N / 100; b++) {
      await producer.send({
        topic: 'src',
        acks: -1,
        messages: Array.from({ length: 100 }, (_, i) => {
          const seq = b * 100 + i;
          return {
            key: `device-${seq % 9}`,
            value: JSON.stringify({ seq }),
            timestamp: String(ts0 + seq),
            headers: { 'content-type': 'application/json', trace: `t-${seq}`, 'x-binary': Buffer.from([0x68, 0x69]) },
          };
        }),
      });
    }
    const admin = await freePort();
    const c = await startCollector({ config: config(admin, 'src', 'g-src') });
    running.push(c);
    await until(async () => (await count(c, 'kafka.src')) === N, { timeoutMs: 120_000, what: `${N} events in kafka.src` }).catch((error: Error) => {
      throw new Error(`${error.message}\n--- collector stderr ---\n${c.stderr().slice(-4000)}`);
    });
    const events = await readAll(c, 'kafka.src');
    expect(events).toHaveLength(N);
    const perPartition = new Map<string, number[]>();
    for (const e of events) {
      const { seq } = e.body as { seq: number };
      expect(e.key).toBe(`device-${seq % 9}`);
      expect(e.ts).toBe(ts0 + seq);
      expect(e.headers).toMatchObject({ 'content-type': 'application/json', trace: `t-${seq}`, 'x-binary': 'hi', 'kafka.topic': 'src' });
      const p = e.headers['kafka.partition'];
      if (!perPartition.has(p)) perPartition.set(p, []);
      perPartition.get(p)!.push(Number(e.headers['kafka.offset']));
    }
    // each partition's records arrive in Kafka offset order, with no gap
    for (const offsets of perPartition.values()) expect(offsets).toEqual(offsets.map((_, i) => i));

    // offsets are committed to Kafka (after the channel commit)
    const kAdmin = kafka.admin();
    await kAdmin.connect();
    try {
      const committed = await until(
        async () => {
          const o = await kAdmin.fetchOffsets({ groupId: 'g-src', topics: ['src'] });
          const total = o[0].partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
          return total === N ? total : null;
        },
        { timeoutMs: 20_000, what: 'the group offsets to be committed' },
      );
      expect(committed).toBe(N);
    } finally {
      await kAdmin.disconnect();
    }
  }, scaled(180_000));

  it('loses nothing and stores nothing twice across a collector kill -9 while records stream in', async () => {
    await createTopic(broker.bootstrap, 'flow', { partitions: 3 });
    const admin = await freePort();
    const cfg = config(admin, 'flow', 'g-flow');
    let c = await startCollector({ config: cfg });
    running.push(c);
    const dir = c.dir;

    let produced = 0;
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        await producer.send({
          topic: 'flow',
          acks: -1,
          messages: Array.from({ length: 200 }, (_, i) => ({ key: `k${(produced + i) % 11}`, value: JSON.stringify({ seq: produced + i }), headers: { origin: 'test' } })),
        });
        produced += 200;
        await new Promise((r) => setTimeout(r, 40));
      }
    })();

    for (let round = 0; round < 3; round++) {
      const before = await until(async () => {
        const n = await count(c, 'kafka.flow');
        return n > (round + 1) * 2000 ? n : null;
      }, { timeoutMs: 60_000, what: 'events to flow in' });
      await c.kill(); // SIGKILL: between a channel commit and a Kafka commit, sometimes
      running.splice(running.indexOf(c), 1);
      c = await startCollector({ config: cfg, dir });
      running.push(c);
      expect(await count(c, 'kafka.flow')).toBeGreaterThanOrEqual(before);
    }
    streaming = false;
    await stream;
    await until(async () => (await count(c, 'kafka.flow')) >= produced, { timeoutMs: 90_000, what: `all ${produced} records in the channel` });
    await new Promise((r) => setTimeout(r, 1000)); // anything re-delivered late would show now

    const { via, events } = await readWithTail(c, 'kafka.flow');
    console.log(`[kafka] collector kill -9 ×3 while consuming: ${produced} records produced, ${events.length} events read back via ${via}`);
    const seqs = events.map((e) => (e.body as { seq: number }).seq);
    const unique = new Set(seqs);
    for (let i = 0; i < produced; i++) if (!unique.has(i)) throw new Error(`record ${i} of ${produced} is missing from the channel`);
    expect(events.every((e) => e.headers.origin === 'test')).toBe(true);
    expect(seqs.length - unique.size).toBe(0); // re-delivered records were skipped by the stored offsets
    expect(events).toHaveLength(produced);
    removeDir(dir);
  }, scaled(300_000));

  it('pauses while the channel is full and resumes when space is freed: nothing dropped, nothing committed early', async () => {
    await createTopic(broker.bootstrap, 'bp');
    const N = 2000;
    for (let b = 0; b < N / 500; b++) {
      await producer.send({ topic: 'bp', acks: -1, messages: Array.from({ length: 500 }, (_, i) => ({ value: JSON.stringify({ seq: b * 500 + i, pad: 'x'.repeat(180) }) })) });
    }
    const dir = tempDir();
    // 64 KiB of undelivered events fill the channel: a "sink" that delivers nothing holds them.
    // The 500-record Kafka batches (~110 KB) are larger than the whole channel: the source halves them.
    const channel = Channel.open({ file: `${dir}/channel.db`, retentionIntervalMs: 0, maxBytes: 64 * 1024 });
    const unprotect = channel.protect('sink:slow', ['bp']);
    const ctx = createTestContext(channel, { name: 'bp' });
    const spec = builtinRegistries().sources.get('kafka')!;
    const { value, problems } = validateConfig(
      spec.config,
      { brokers: [broker.bootstrap], group_id: 'g-bp', topics: ['bp'], start_from: 'earliest', max_bytes_per_partition: 8192 },
      'sources.bp',
    );
    expect(problems).toEqual([]);
    const source = spec.create(value!, ctx);
    const kAdmin = kafka.admin();
    await kAdmin.connect();
    try {
      await source.start();
      await until(() => (channel.topic('bp')?.high ?? 0) > 0, { timeoutMs: 30_000, what: 'the first events' });
      channel.commit([{ consumer: 'sink:slow', topic: 'bp', next: 0, protects: true }]);
      // stalls below N, refused by the channel
      let stalledAt = -1;
      await until(
        async () => {
          const h = channel.topic('bp')!.high;
          const same = h === stalledAt;
          stalledAt = h;
          await new Promise((r) => setTimeout(r, 700));
          return same && ctx.counts.rejected > 0;
        },
        { timeoutMs: 30_000, what: 'the source to stall on a full channel' },
      );
      expect(stalledAt).toBeLessThan(N);
      const committed = await kAdmin.fetchOffsets({ groupId: 'g-bp', topics: ['bp'] });
      expect(Number(committed[0].partitions[0].offset)).toBeLessThanOrEqual(stalledAt); // never past what the channel holds

      // the slow sink now delivers whatever arrives: space is freed, the source resumes
      let delivering = true;
      const drain = (async () => {
        while (delivering) {
          channel.commit([{ consumer: 'sink:slow', topic: 'bp', next: channel.topic('bp')!.high, protects: true }]);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await until(() => channel.topic('bp')!.high >= N, { timeoutMs: 60_000, what: 'all records after the channel had room again' });
      delivering = false;
      await drain;
      expect(channel.topic('bp')!.high).toBe(N); // none twice, none dropped (offsets are dense)
    } finally {
      await source.stop();
      await kAdmin.disconnect();
      unprotect();
      await channel.close();
      removeDir(dir);
    }
  }, scaled(180_000));
});
