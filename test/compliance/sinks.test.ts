/**
 * The sink contract (docs/specs/sink.md), run against every registered sink with a real
 * destination: a real SinkRunner on a real channel file delivers to it, and the test reads what
 * the destination holds. Each sink must:
 * - deliver every event, in offset order;
 * - honour `rewound`: after a replay moves its cursor back, the events arrive again (a sink that
 *   de-duplicates downstream, as forward does with chunk ids, must make them new);
 * - surface a destination that is away in the runner's state, naming the destination;
 * - close idempotently.
 * A sink registered without a harness here fails the suite: a new sink comes with its contract
 * test. Kafka needs a broker: its harness runs when one can (test/kafka/broker.ts), else it says why.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../shared/src/event.ts';
import { builtinRegistries } from '../../collector/src/builtins.ts';
import type { Sink, SinkContext } from '../../collector/src/components.ts';
import { silentLogger } from '../../collector/src/log.ts';
import { SinkRunner } from '../../collector/src/sinks/runner.ts';
import { Receiver, testSinkContext } from '../../collector/src/sinks/testing.ts';
import { createTestContext, openTestChannel, readAll, waitUntil, type TestChannel } from '../../collector/src/sources/testing.ts';
import { validateSink } from '../../collector/src/config/load.ts';
import { validateConfig, type ConfigProblem } from '../../shared/src/spec.ts';
import { freePort } from '../helpers/process.ts';
import { createTopic, kafkaAvailable, kafkaSkipMessage, startBroker, type Broker } from '../kafka/broker.ts';

const registries = builtinRegistries();

/** A destination for one sink type: a config pointing at it, and what it holds. */
interface SinkHarness {
  /** The sink's config (without `type`). */
  config: Record<string, unknown>;
  /** Everything the destination holds so far, as text, in arrival order. */
  received(): Promise<string> | string;
  /** A config whose destination is away, and a text the error must contain (the destination). */
  away?: { config: Record<string, unknown>; names: string };
  /** Why there is no `away` case, when there is none. */
  noAway?: string;
  close(): Promise<void>;
}

type HarnessFactory = () => Promise<SinkHarness>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-compliance-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on (taken free, then left alone). */
async function nowhere(): Promise<number> {
  return freePort();
}

async function receiverHarness(config: (url: string) => Record<string, unknown>, awayConfig: (url: string) => Record<string, unknown>): Promise<SinkHarness> {
  const receiver = await Receiver.start();
  const port = await nowhere();
  return {
    config: config(receiver.url('/ingest')),
    received: () => receiver.accepted.map((r) => r.body.toString('latin1')).join('\n'),
    away: { config: awayConfig(`http://127.0.0.1:${port}/ingest`), names: `127.0.0.1:${port}` },
    close: () => receiver.stop(),
  };
}

let broker: Broker | undefined;
afterAll(async () => {
  await broker?.stop();
});

const harnesses: Record<string, HarnessFactory | { skip: string }> = {
  http: () => receiverHarness((url) => ({ url }), (url) => ({ url, timeout: '2s' })),
  otlp: () => receiverHarness((url) => ({ url }), (url) => ({ url, timeout: '2s' })),
  // Both members point at one receiver, so arrival order is the order the group sent in.
  failover: () =>
    receiverHarness(
      (url) => ({ sinks: { a: { type: 'http', url, priority: 2 }, b: { type: 'http', url, priority: 1 } } }),
      (url) => ({ sinks: { a: { type: 'http', url, priority: 2 }, b: { type: 'http', url, priority: 1 } } }),
    ),
  load_balance: () =>
    receiverHarness(
      (url) => ({ strategy: 'round_robin', sinks: { a: { type: 'http', url }, b: { type: 'http', url } } }),
      (url) => ({ strategy: 'round_robin', sinks: { a: { type: 'http', url }, b: { type: 'http', url } } }),
    ),
  file: async () => {
    const dir = tempDir();
    const blocked = join(tempDir(), 'not-a-folder');
    writeFileSync(blocked, 'a file where the sink wants a folder');
    return {
      config: { path: join(dir, '{topic}-{date}.ndjson') },
      received: () =>
        readdirSync(dir)
          .sort()
          .map((f) => readFileSync(join(dir, f), 'utf8'))
          .join(''),
      away: { config: { path: join(blocked, '{topic}-{date}.ndjson') }, names: blocked },
      close: async () => undefined,
    };
  },
  stdout: async () => {
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
      written.push(typeof chunk === 'string' ? chunk : fromUtf8(chunk));
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof process.stdout.write;
    return {
      config: {},
      received: () => written.join(''),
      noAway: 'stdout is never away in-process; a closed pipe (EPIPE) is covered by collector/src/sinks/stdout.test.ts',
      close: async () => {
        process.stdout.write = write;
      },
    };
  },
  // The peer is a real forward source (a Sluice hub) on its own channel file: it drops a chunk it
  // has seen, so a rewound sink that did not make its chunks new would deliver nothing again.
  forward: async () => {
    const hub = openTestChannel();
    const port = await freePort();
    const source = registries.sources.get('forward')!.create(sourceConfig('forward', { listen: `127.0.0.1:${port}` }) as never, createTestContext(hub.channel, { name: 'hub' }));
    await source.start();
    const away = await nowhere();
    return {
      config: { servers: [`127.0.0.1:${port}`] },
      received: () =>
        hub.channel
          .topics()
          .filter((t) => !t.name.startsWith('_'))
          .flatMap((t) => readAll(hub.channel, t.name).map((e) => fromUtf8(e.body)))
          .join('\n'),
      away: { config: { servers: [`127.0.0.1:${away}`] }, names: `127.0.0.1:${away}` },
      close: async () => {
        await source.stop();
        await hub.cleanup();
      },
    };
  },
  kafka: kafkaAvailable().ok
    ? async () => {
        broker ??= await startBroker();
        const { Kafka } = await import('kafkajs');
        const bootstrap = broker.bootstrap;
        await createTopic(bootstrap, TOPIC);
        const away = await nowhere();
        const seen: string[] = [];
        const consumer = new Kafka({ brokers: [bootstrap], logLevel: 0 }).consumer({ groupId: `compliance-${Date.now()}` });
        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value?.toString('latin1') ?? '') });
        return {
          config: { brokers: [bootstrap] },
          received: () => seen.join('\n'),
          away: { config: { brokers: [`127.0.0.1:${away}`], connect_timeout: '1s', request_timeout: '2s' }, names: `127.0.0.1:${away}` },
          close: () => consumer.disconnect(),
        };
      }
    : { skip: kafkaSkipMessage('kafka sink compliance') },
};

const TOPIC = 'compliance';
const EVENTS = 30;

/** A sink config as `sluice start` resolves it (defaults filled, runner keys apart); throws on problems. */
function sinkConfig(type: string, config: Record<string, unknown>): Record<string, unknown> {
  const problems: ConfigProblem[] = [];
  const resolved = validateSink(registries, 'c', { type, ...config }, 'sinks.c', problems);
  if (!resolved) throw new Error(`sinks.c: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return resolved.config;
}

/** A source config with its defaults filled; throws on problems. */
function sourceConfig(type: string, config: Record<string, unknown>): Record<string, unknown> {
  const { value, problems } = validateConfig(registries.sources.get(type)!.config, config, `sources.${type}`);
  if (!value) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  return value as Record<string, unknown>;
}

function sinkContext(name: string, channel: TestChannel['channel']): SinkContext {
  return { ...testSinkContext(name), channel };
}

/** Event numbers (`event-<n>;`: the `;` ends the number in binary encodings too) in the order the destination holds them. */
function numbers(text: string): number[] {
  return [...text.matchAll(/event-(\d+);/g)].map((m) => Number(m[1]));
}

async function appendEvents(channel: TestChannel['channel'], from: number, n: number): Promise<void> {
  await channel.append({ events: Array.from({ length: n }, (_, i) => ({ topic: TOPIC, ts: Date.now(), key: null, headers: { 'content-type': 'text/plain' }, body: utf8(`event-${from + i};`) })) });
}

function runner(name: string, sink: Sink, channel: TestChannel['channel'], onRejected: 'park' | 'stop' = 'park'): SinkRunner {
  const r = new SinkRunner({
    name,
    sink,
    channel,
    log: silentLogger,
    topics: [TOPIC],
    batch: { maxEvents: 10, maxBytes: 1 << 20, maxWaitMs: 10 },
    retry: { initialMs: 20, maxMs: 200 },
    startFrom: 'earliest',
    onRejected,
  });
  cleanups.push(() => r.stop());
  return r;
}

function build(type: string, config: Record<string, unknown>, channel: TestChannel['channel']): Sink {
  const spec = registries.sinks.get(type)!;
  return spec.create(sinkConfig(type, config) as never, sinkContext('c', channel));
}

describe('sink compliance (docs/specs/sink.md)', () => {
  it('every registered sink has a compliance harness', () => {
    expect(registries.sinks.names().filter((n) => !(n in harnesses))).toEqual([]);
  });

  for (const name of registries.sinks.names()) {
    const factory = harnesses[name];
    if (!factory) continue;
    if ('skip' in factory) {
      it.skip(`${name}: ${factory.skip}`, () => undefined);
      continue;
    }
    describe(name, () => {
      it('delivers every event in offset order, and again after a replay rewinds it (rewound)', async () => {
        const harness = await factory();
        cleanups.push(() => harness.close());
        const store = openTestChannel();
        cleanups.push(() => store.cleanup());
        await appendEvents(store.channel, 0, EVENTS);
        const sink = build(name, harness.config, store.channel);
        const r = runner('c', sink, store.channel);
        r.start();
        const expected = Array.from({ length: EVENTS }, (_, i) => i);
        await waitUntil(async () => numbers(await harness.received()).length >= EVENTS, 20_000, `${name}: ${EVENTS} events at the destination`);
        expect(numbers(await harness.received())).toEqual(expected);

        // A replay: someone else moves the cursor back to 0; the runner tells the sink, which sends again.
        store.channel.moveCursors([{ consumer: r.consumer, topic: TOPIC, spec: { offset: 0 } }], false);
        await waitUntil(async () => numbers(await harness.received()).length >= 2 * EVENTS, 20_000, `${name}: the replayed events at the destination`);
        expect(numbers(await harness.received())).toEqual([...expected, ...expected]);
        await sink.close();
      });

      it('shows a destination that is away in its state, naming it; close is idempotent', async () => {
        const harness = await factory();
        cleanups.push(() => harness.close());
        if (!harness.away) {
          expect(harness.noAway, `${name}: a harness without an away case says why`).toBeTruthy();
          return;
        }
        const store = openTestChannel();
        cleanups.push(() => store.cleanup());
        await appendEvents(store.channel, 0, 3);
        const sink = build(name, harness.away.config, store.channel);
        const r = runner('c', sink, store.channel, 'stop');
        r.start();
        await waitUntil(() => r.status().lastError !== null, 30_000, `${name}: an error in the runner's state`);
        const { state, lastError } = r.status();
        expect(['backing_off', 'failed']).toContain(state);
        expect(lastError!.message).toContain(harness.away.names);
        expect(r.status().sentEvents).toBe(0);
        await r.stop();
        await sink.close();
        await expect(sink.close()).resolves.toBeUndefined();
      });
    });
  }
});
