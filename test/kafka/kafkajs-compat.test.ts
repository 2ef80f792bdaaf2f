// Does kafkajs 2.2.4 (unmaintained since 2023) still work against Kafka 4.x, which removed old
// protocol versions (KIP-896)? Every operation Sluice's Kafka sink and source need, plus the admin
// calls the desktop's Kafka browsing will want, against a real broker. See
// docs/decisions/kafka-client.md.

import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, ConfigResourceTypes, Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { kafkaAvailable, kafkaSkipMessage, KAFKA_VERSION, runKafkaTool, startBroker, type Broker } from './broker.ts';
import { scaled } from '../helpers/children.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const avail = kafkaAvailable();
if (!avail.ok) console.warn(kafkaSkipMessage('test/kafka/kafkajs-compat.test.ts'));

// kafkajs internals (no types): which versions of each API it implements.
const require = createRequire(import.meta.url);
const kjsRequests = require('kafkajs/src/protocol/requests/index.js').requests as Record<string, { versions: string[] }>;
const kjsApiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as Record<string, number>;

/** Parses kafka-broker-api-versions output: "Produce(0): 0 to 13 [usable: 13]" or "…(46): 0 [usable: 0]". */
function parseApiVersions(out: string): Map<number, { name: string; min: number; max: number }> {
  const map = new Map<number, { name: string; min: number; max: number }>();
  for (const m of out.matchAll(/(\w+)\((\d+)\): (\d+)(?: to (\d+))?/g)) {
    map.set(Number(m[2]), { name: m[1], min: Number(m[3]), max: Number(m[4] ?? m[3]) });
  }
  return map;
}

/**
 * createTopics, then wait until every partition has a leader. Not `waitForLeaders: true`: it
 * retries only LEADER_NOT_AVAILABLE, and a busy KRaft broker first answers
 * UNKNOWN_TOPIC_OR_PARTITION for a topic the controller has just created.
 */
async function createTopicReady(admin: Admin, topic: string, numPartitions: number, configEntries?: Array<{ name: string; value: string }>) {
  expect(await admin.createTopics({ topics: [{ topic, numPartitions, configEntries }], waitForLeaders: false })).toBe(true);
  for (let i = 0; i < 300; i++) {
    try {
      const parts = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions;
      if (parts.length === numPartitions && parts.every((p) => p.leader >= 0)) return;
    } catch (err) {
      if (!['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE'].includes((err as { type?: string }).type ?? '')) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`topic ${topic} has no leaders after 30 s`);
}

describe.skipIf(!avail.ok)(`kafkajs 2.2.4 against Kafka ${KAFKA_VERSION}`, () => {
  let broker: Broker;
  let kafka: Kafka;
  const open: Array<Producer | Consumer> = [];

  beforeAll(async () => {
    broker = await startBroker();
    kafka = new Kafka({ clientId: 'compat', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, retries: 8 } });
  }, scaled(900_000));

  afterAll(async () => {
    for (const c of open) await c.disconnect().catch(() => {});
    await broker?.stop();
  }, scaled(60_000));

  const producer = async (opts: Parameters<Kafka['producer']>[0] = { idempotent: true, maxInFlightRequests: 1 }) => {
    const p = kafka.producer(opts);
    await p.connect();
    open.push(p);
    return p;
  };

  /** Reads until `n` records arrived (or `done` says so) from the beginning, in a fresh group. */
  async function readAll(topic: string, n: number, opts: Parameters<Kafka['consumer']>[0] | undefined = undefined) {
    const c = kafka.consumer(opts ?? { groupId: `read-${topic}-${Date.now()}` });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    const got: Array<{ partition: number; offset: string; value: string }> = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} from ${topic}`)), 30_000);
      c.run({
        eachMessage: async ({ partition, message }) => {
          got.push({ partition, offset: message.offset, value: String(message.value) });
          if (got.length >= n) {
            clearTimeout(timer);
            resolve();
          }
        },
      }).catch(reject);
    });
    await c.disconnect();
    return got;
  }

  it('implements a version the broker still accepts for every API it has (KIP-896)', async () => {
    const res = await runKafkaTool('org.apache.kafka.tools.BrokerApiVersionsCommand', ['--bootstrap-server', broker.bootstrap]);
    expect(res.code, res.stderr).toBe(0);
    const broker4 = parseApiVersions(res.stdout);
    expect(broker4.get(0)?.name).toBe('Produce');
    const gaps: string[] = [];
    for (const [name, def] of Object.entries(kjsRequests)) {
      if (def.versions.length === 0) continue; // not implemented by kafkajs at all
      const b = broker4.get(kjsApiKeys[name]);
      if (!b) continue; // an API the broker does not offer (e.g. ZooKeeper-era): kafkajs never sends it on its own
      // kafkajs picks min(its max, broker max) and does not look at the broker's minimum
      const chosen = Math.min(Math.max(...def.versions.map(Number)), b.max);
      if (chosen < b.min) gaps.push(`${name}: kafkajs would send v${chosen}, broker accepts ${b.min}–${b.max}`);
    }
    expect(gaps).toEqual([]);
  });

  it('admin: create topic with config, add partitions, describe and alter configs, list', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopicReady(admin, 'adm', 2, [{ name: 'retention.ms', value: '3600000' }]);
      await admin.createPartitions({ topicPartitions: [{ topic: 'adm', count: 3 }] });
      // the new partition reaches the broker's metadata cache a moment after the call returns
      let partitions = 0;
      for (let i = 0; i < 50 && partitions < 3; i++) {
        partitions = (await admin.fetchTopicMetadata({ topics: ['adm'] })).topics[0].partitions.length;
        if (partitions < 3) await new Promise((r) => setTimeout(r, 100));
      }
      expect(partitions).toBe(3);
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'adm', configEntries: [{ name: 'retention.ms', value: '7200000' }] }] });
      // like new partitions, an altered config reaches the broker a moment after the call returns
      let value: string | undefined;
      for (let i = 0; i < 50 && value !== '7200000'; i++) {
        const cfg = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: 'adm', configNames: ['retention.ms'] }], includeSynonyms: false });
        value = cfg.resources[0].configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
        if (value !== '7200000') await new Promise((r) => setTimeout(r, 100));
      }
      expect(value).toBe('7200000');
      expect(await admin.listTopics()).toContain('adm');
      await admin.deleteTopics({ topics: ['adm'] });
    } finally {
      await admin.disconnect();
    }
  });

  it('produce (idempotent, acks=all, gzip), list offsets by time, delete records, fetch', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopicReady(admin, 'pf', 1);
      const p = await producer();
      const old = Date.now() - 3_600_000;
      await p.send({ topic: 'pf', acks: -1, messages: [{ value: 'old', timestamp: String(old) }] });
      await p.send({ topic: 'pf', acks: -1, compression: CompressionTypes.GZIP, messages: Array.from({ length: 9 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
      expect(await admin.fetchTopicOffsets('pf')).toEqual([{ partition: 0, offset: '10', high: '10', low: '0' }]);
      expect(await admin.fetchTopicOffsetsByTimestamp('pf', old + 1)).toEqual([{ partition: 0, offset: '1' }]);
      await admin.deleteTopicRecords({ topic: 'pf', partitions: [{ partition: 0, offset: '3' }] });
      expect((await admin.fetchTopicOffsets('pf'))[0].low).toBe('3');
      const got = await readAll('pf', 7);
      expect(got.map((r) => r.value)).toEqual(['v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8']);
    } finally {
      await admin.disconnect();
    }
  });

  it('transactions: commit, abort (hidden from read_committed), offsets in a transaction', async () => {
    // On a fresh, busy broker TxnOffsetCommit can meet COORDINATOR_NOT_AVAILABLE longer than
    // kafkajs retries it; the admin client's coordinator lookup waits until the group's is up.
    const warm = kafka.admin();
    await warm.connect();
    await warm.fetchOffsets({ groupId: 'tx-group', topics: [] }).catch(() => {});
    await warm.disconnect();
    const tp = await producer({ transactionalId: 'tx-compat', idempotent: true, maxInFlightRequests: 1 });
    let t = await tp.transaction();
    await t.send({ topic: 'tx', messages: [{ value: 'committed' }] });
    await t.commit();
    t = await tp.transaction();
    await t.send({ topic: 'tx', messages: [{ value: 'aborted' }] });
    await t.abort();
    t = await tp.transaction();
    await t.send({ topic: 'tx', messages: [{ value: 'with-offsets' }] });
    await t.sendOffsets({ consumerGroupId: 'tx-group', topics: [{ topic: 'tx', partitions: [{ partition: 0, offset: '1' }] }] });
    await t.commit();
    const got = await readAll('tx', 2); // read_committed is kafkajs's default
    expect(got.map((r) => r.value)).toEqual(['committed', 'with-offsets']);
    const admin = kafka.admin();
    await admin.connect();
    const offs = await admin.fetchOffsets({ groupId: 'tx-group', topics: ['tx'] });
    await admin.disconnect();
    expect(offs[0].partitions[0].offset).toBe('1');
  });

  it('consumer groups: two members share partitions, commit, admin reads/sets/deletes offsets', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await createTopicReady(admin, 'grp', 4);
      const p = await producer();
      await p.send({ topic: 'grp', acks: -1, messages: Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });

      const seen = new Map<string, Set<number>>();
      let consumed = 0;
      const member = async (name: string) => {
        const c = kafka.consumer({ groupId: 'grp-g', sessionTimeout: 10_000, heartbeatInterval: 500 });
        open.push(c);
        await c.connect();
        await c.subscribe({ topic: 'grp', fromBeginning: true });
        seen.set(name, new Set());
        await c.run({
          eachMessage: async ({ partition }) => {
            seen.get(name)!.add(partition);
            consumed++;
          },
        });
        return c;
      };
      const c1 = await member('a');
      const c2 = await member('b');
      // wait until the group is stable with both members owning partitions
      const deadline = Date.now() + 30_000;
      let members: Array<{ memberId: string }> = [];
      while (Date.now() < deadline) {
        const g = (await admin.describeGroups(['grp-g'])).groups[0];
        members = g.members;
        if (g.state === 'Stable' && members.length === 2 && consumed >= 40) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(members).toHaveLength(2);
      expect(consumed).toBeGreaterThanOrEqual(40);
      await c1.disconnect();
      await c2.disconnect();
      const committed = await admin.fetchOffsets({ groupId: 'grp-g', topics: ['grp'] });
      const total = committed[0].partitions.reduce((s, x) => s + Math.max(0, Number(x.offset)), 0);
      expect(total).toBe(40);

      await admin.setOffsets({ groupId: 'grp-g', topic: 'grp', partitions: [{ partition: 0, offset: '0' }] });
      const afterSet = await admin.fetchOffsets({ groupId: 'grp-g', topics: ['grp'] });
      expect(afterSet[0].partitions.find((x) => x.partition === 0)?.offset).toBe('0');
      // kafkajs commits its "earliest" marker (-2); the broker keeps it, and a member re-reads all
      await admin.resetOffsets({ groupId: 'grp-g', topic: 'grp', earliest: true });
      const reset = await admin.fetchOffsets({ groupId: 'grp-g', topics: ['grp'] });
      expect(reset[0].partitions.map((x) => x.offset)).toEqual(['-2', '-2', '-2', '-2']);
      expect(await readAll('grp', 40, { groupId: 'grp-g' })).toHaveLength(40);
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain('grp-g');
      expect(await admin.deleteGroups(['grp-g'])).toEqual([{ groupId: 'grp-g', errorCode: 0 }]);
    } finally {
      await admin.disconnect();
    }
  }, scaled(90_000));

  it('an idempotent producer keeps working across a broker restart and a kill -9', async () => {
    // few retries so a send to a dead broker fails in seconds: Sluice's sink runner does the
    // retrying (with backoff), not the client
    const p = await producer({ idempotent: true, maxInFlightRequests: 1, retry: { initialRetryTime: 100, retries: 3 } });
    await p.send({ topic: 'rs', acks: -1, messages: [{ value: 'r0' }] });
    await broker.restart();
    await p.send({ topic: 'rs', acks: -1, messages: [{ value: 'r1' }] });

    broker.kill();
    const whileDown = await p.send({ topic: 'rs', acks: -1, messages: [{ value: 'never' }] }).then(
      () => null,
      (err: Error) => err,
    );
    expect(whileDown?.name).toMatch(/KafkaJS/);
    await broker.restart();
    // the same producer instance reconnects; its sequence numbers were rolled back on the failure
    await p.send({ topic: 'rs', acks: -1, messages: [{ value: 'r2' }] });
    const got = await readAll('rs', 3);
    expect(got.map((r) => r.value)).toEqual(['r0', 'r1', 'r2']);
  }, scaled(180_000));
});
