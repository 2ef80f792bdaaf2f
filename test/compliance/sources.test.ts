/**
 * The source contract (docs/specs/source.md), run against every registered source with a real
 * producer (fetch, a raw fluent-forward client, a syslog TCP client, file appends) and a real
 * channel file behind `ctx.ingest`. Each source must:
 * - store what a producer sent, in order, and acknowledge it only after `ingest` resolved — while
 *   the commit is held back, no acknowledgement may have reached the producer (rule 1);
 * - refuse with a retryable answer, storing nothing, when the channel refuses (rule 2);
 * - answer bad input with an error that says what was wrong, and keep serving (rule 5);
 * - fail `start()` naming its config path when its port is taken, and release its ports on
 *   `stop()` (rules 6, 7).
 * Protocols without acknowledgements (syslog, tail, the generator) take the checks that apply and
 * say which do not. A source registered without a harness fails the suite.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceError } from '../../shared/src/errors.ts';
import { fromUtf8, utf8, type EventDraft } from '../../shared/src/event.ts';
import { createResponseDecoder, encodePackedForward, eventToEntry } from '../../shared/src/protocol/forward/index.ts';
import { validateConfig } from '../../shared/src/spec.ts';
import { builtinRegistries } from '../../collector/src/builtins.ts';
import type { IngestOptions, IngestResult, Source } from '../../collector/src/components.ts';
import { createLogger } from '../../collector/src/log.ts';
import { createTestContext, openTestChannel, readAll, waitUntil, type TestChannel } from '../../collector/src/sources/testing.ts';
import { freePort } from '../helpers/process.ts';
import { createTopic, kafkaAvailable, kafkaSkipMessage, startBroker, type Broker } from '../kafka/broker.ts';

const registries = builtinRegistries();

/** What a producer got back for what it sent. */
type Outcome = 'acked' | 'refused' | 'sent' | `answered ${string}`;

interface SourceHarness {
  config: Record<string, unknown>;
  /** The topic its events land in. */
  topic: string;
  /** Sends events `event-<from>;` … as one request/frame/write; resolves with the producer's answer. */
  produce(from: number, n: number): Promise<Outcome>;
  /** The protocol acknowledges (HTTP answers, forward acks): the ack checks apply. */
  acks: boolean;
  /** Sends malformed input; resolves with the status and the error message the producer got back. */
  bad?(): Promise<{ status: number; message: string }>;
  /** Why there is no bad-input check, when there is none. */
  noBad?: string;
  /** TCP and UDP ports it listens on. */
  ports: { tcp: number[]; udp: number[] };
  close?(): Promise<void>;
}

type HarnessFactory = () => Promise<SourceHarness>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-compliance-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `event-${from + i};`);

async function httpOutcome(response: Promise<Response>): Promise<Outcome> {
  const res = await response;
  const text = await res.text();
  if (res.ok) return 'acked';
  if (res.status === 503 || res.status === 429) return 'refused';
  return `answered ${res.status} ${text}`;
}

/** A raw fluent-forward client: one PackedForward chunk, then the ack — or the connection closed without one. */
async function forwardSend(port: number, bytes: Uint8Array, chunk?: string): Promise<Outcome> {
  const socket: Socket = netConnect({ host: '127.0.0.1', port });
  cleanups.push(() => void socket.destroy());
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const decoder = createResponseDecoder();
  return new Promise<Outcome>((resolve) => {
    socket.on('data', (data: Buffer) => {
      for (const frame of decoder.push(data)) if (frame.kind === 'ack' && frame.chunk === chunk) resolve('acked');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve('refused'));
    socket.write(bytes);
  });
}

let broker: Broker | undefined;
let kafkaTopics = 0;
afterAll(async () => {
  await broker?.stop();
});

const harnesses: Record<string, HarnessFactory | { skip: string }> = {
  http: async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    return {
      config: { listen: `127.0.0.1:${port}` },
      topic: 'orders',
      acks: true,
      produce: (from, n) =>
        httpOutcome(fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines(from, n).map((l) => JSON.stringify({ m: l })).join('\n') })),
      bad: async () => {
        const res = await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"m": "event-0;",' });
        // The admin API's error shape: { error: { code, message } }.
        return { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message };
      },
      ports: { tcp: [port], udp: [] },
    };
  },
  otlp: async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/v1/logs`;
    const request = (from: number, n: number) => ({
      resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: {}, logRecords: lines(from, n).map((l) => ({ timeUnixNano: '1700000000000000000', body: { stringValue: l } })) }] }],
    });
    return {
      config: { listen: `127.0.0.1:${port}` },
      topic: 'otlp',
      acks: true,
      produce: (from, n) => httpOutcome(fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request(from, n)) })),
      bad: async () => {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs": [' });
        // OTLP's error shape: a google.rpc.Status, { code, message }.
        return { status: res.status, message: ((await res.json()) as { message: string }).message };
      },
      ports: { tcp: [port], udp: [] },
    };
  },
  forward: async () => {
    const port = await freePort();
    let chunks = 0;
    return {
      config: { listen: `127.0.0.1:${port}` },
      topic: 'edge.logs',
      acks: true,
      produce: (from, n) => {
        const chunk = `chunk-${++chunks}`;
        const events: EventDraft[] = lines(from, n).map((l, i) => ({ topic: 'edge.logs', ts: 1_700_000_000_000 + i, key: null, headers: { 'content-type': 'text/plain' }, body: utf8(l) }));
        return forwardSend(port, encodePackedForward('edge.logs', events.map((e) => eventToEntry(e)), { chunk }), chunk);
      },
      noBad: 'a malformed frame closes that connection only (the protocol has no error reply); collector/src/sources/forward/forward.test.ts and test/e2e/forward-fuzz.test.ts check the message and that other connections go on',
      ports: { tcp: [port], udp: [] },
    };
  },
  syslog: async () => {
    const port = await freePort();
    return {
      config: { listen: `127.0.0.1:${port}`, protocols: ['tcp', 'udp'] },
      topic: 'syslog',
      acks: false,
      produce: async (from, n) => {
        const socket = netConnect({ host: '127.0.0.1', port });
        cleanups.push(() => void socket.destroy());
        await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
        const text = lines(from, n)
          .map((l) => `<13>1 2026-01-01T00:00:00Z host app - - - ${l}\n`)
          .join('');
        await new Promise<void>((resolve) => socket.end(text, resolve));
        return 'sent';
      },
      noBad: 'syslog has no reply: what does not parse as RFC 5424 is stored as RFC 3164 or raw text (docs/bad-input.md)',
      ports: { tcp: [port], udp: [port] },
    };
  },
  tail: async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, '');
    return {
      config: { paths: [join(dir, '*.log')], topic: 'app', read_from: 'start', poll_interval_ms: 20 },
      topic: 'app',
      acks: false,
      produce: async (from, n) => {
        appendFileSync(file, lines(from, n).map((l) => `${l}\n`).join(''));
        return 'sent';
      },
      noBad: 'a file has no malformed input: every line is an event',
      ports: { tcp: [], udp: [] },
    };
  },
  generator: async () => ({
    config: { topic: 'gen', rate: 0, count: 20, batch: 10, format: 'text', message: 'event-{seq};' },
    topic: 'gen',
    acks: false,
    produce: async () => 'sent',
    noBad: 'the generator takes no input',
    ports: { tcp: [], udp: [] },
  }),
  // Kafka's acknowledgement is the committed group offset, stored with the events in one
  // transaction: test/kafka/source.test.ts checks it (and back-pressure) across a kill -9.
  kafka: kafkaAvailable().ok
    ? async () => {
        broker ??= await startBroker();
        const { Kafka } = await import('kafkajs');
        const topic = `compliance-${++kafkaTopics}`;
        await createTopic(broker.bootstrap, topic);
        const producer = new Kafka({ brokers: [broker.bootstrap], logLevel: 0 }).producer();
        await producer.connect();
        return {
          config: { brokers: [broker.bootstrap], group_id: topic, topics: [topic], start_from: 'earliest', topic: 'from-kafka' },
          topic: 'from-kafka',
          acks: false,
          produce: async (from, n) => {
            await producer.send({ topic, messages: lines(from, n).map((value) => ({ value })) });
            return 'sent';
          },
          noBad: 'a Kafka record has no malformed form: its value is stored as it is',
          ports: { tcp: [], udp: [] },
          close: () => producer.disconnect(),
        };
      }
    : { skip: kafkaSkipMessage('kafka source compliance') },
};

/** A source built through its spec, on a channel whose commits a test can hold back or refuse. */
interface Running {
  source: Source;
  store: TestChannel;
  /** Resolves the next time `ingest` is entered. */
  entered: () => boolean;
  hold(): void;
  release(): void;
  refuse(on: boolean): void;
  logs: string[];
}

async function run(type: string, harness: SourceHarness, start = true): Promise<Running> {
  const store = openTestChannel();
  cleanups.push(() => store.cleanup());
  const logs: string[] = [];
  const log = createLogger({ level: 'warn', destination: new Writable({ write: (chunk: Buffer, _e, done) => (logs.push(chunk.toString()), done()) }) });
  const ctx = createTestContext(store.channel, { name: 'c', log });
  let gate: Promise<void> | null = null;
  let open: () => void = () => undefined;
  let refusing = false;
  let calls = 0;
  const ingest = ctx.ingest.bind(ctx);
  const gated = Object.assign(ctx, {
    async ingest(events: EventDraft[], options?: IngestOptions): Promise<IngestResult> {
      calls++;
      if (gate) await gate;
      if (refusing) throw new SluiceError(ErrorCodes.CHANNEL_FULL, 'channel full (compliance test)', { retriable: true, retryAfterMs: 50 });
      return ingest(events, options);
    },
  });
  if (harness.close) cleanups.push(() => harness.close!());
  const spec = registries.sources.get(type)!;
  const { value, problems } = validateConfig(spec.config, harness.config, `sources.c`);
  if (!value) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  const source = spec.create(value as never, gated);
  let stopped = false;
  cleanups.push(async () => {
    ctx.controller.abort();
    if (!stopped) await source.stop();
  });
  const originalStop = source.stop.bind(source);
  source.stop = async () => {
    stopped = true;
    ctx.controller.abort();
    await originalStop();
  };
  if (start) await source.start();
  return {
    source,
    store,
    entered: () => calls > 0,
    hold: () => {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    release: () => {
      gate = null;
      open();
    },
    refuse: (on) => void (refusing = on),
    logs,
  };
}

/** Event numbers (`event-<n>;`) of the stored events of `topic`, in offset order. */
function stored(store: TestChannel, topic: string): number[] {
  return readAll(store.channel, topic).flatMap((e) => [...fromUtf8(e.body).matchAll(/event-(\d+);/g)].map((m) => Number(m[1])));
}

function listen(port: number, udp: boolean): Promise<{ close(): Promise<void> }> {
  if (udp) {
    const socket = createSocket('udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => resolve({ close: () => new Promise<void>((r) => socket.close(() => r())) }));
    });
  }
  const server: Server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ close: () => new Promise<void>((r) => server.close(() => r())) }));
  });
}

describe('source compliance (docs/specs/source.md)', () => {
  it('every registered source has a compliance harness', () => {
    expect(registries.sources.names().filter((n) => !(n in harnesses))).toEqual([]);
  });

  for (const name of registries.sources.names()) {
    const factory = harnesses[name];
    if (!factory) continue;
    if ('skip' in factory) {
      it.skip(`${name}: ${factory.skip}`, () => undefined);
      continue;
    }
    describe(name, () => {
      it('stores what it was sent, in order, and acknowledges only after the commit', async () => {
        const harness = await factory();
        const r = await run(name, harness);
        if (!harness.acks) {
          await harness.produce(0, 10);
          await harness.produce(10, 10);
          await waitUntil(() => stored(r.store, harness.topic).length >= 20, 20_000, `${name}: 20 events stored`);
          const got = stored(r.store, harness.topic);
          expect(got).toEqual([...got].sort((a, b) => a - b));
          expect(new Set(got).size).toBe(20);
          return;
        }
        r.hold();
        let answered = false;
        const first = harness.produce(0, 10).then((o) => ((answered = true), o));
        await waitUntil(r.entered, 20_000, `${name}: ingest called`);
        // The commit is held back: nothing may have told the producer its events are stored.
        expect(answered).toBe(false);
        r.release();
        expect(await first).toBe('acked');
        expect(stored(r.store, harness.topic)).toEqual(lines(0, 10).map((_, i) => i));
        expect(await harness.produce(10, 10)).toBe('acked');
        expect(stored(r.store, harness.topic)).toEqual(lines(0, 20).map((_, i) => i));
      });

      it('refuses with a retryable answer and stores nothing when the channel refuses', async () => {
        const harness = await factory();
        if (!harness.acks) return; // no answer to give: covered by each source's back-pressure tests
        const r = await run(name, harness);
        r.refuse(true);
        expect(await harness.produce(0, 5)).toBe('refused');
        expect(stored(r.store, harness.topic)).toEqual([]);
        r.refuse(false);
        expect(await harness.produce(5, 5)).toBe('acked');
        expect(stored(r.store, harness.topic)).toEqual([5, 6, 7, 8, 9]);
      });

      it('answers bad input with an error naming what was wrong, and keeps serving', async () => {
        const harness = await factory();
        if (!harness.bad) {
          expect(harness.noBad, `${name}: a harness without a bad-input case says why`).toBeTruthy();
          return;
        }
        const r = await run(name, harness);
        const { status, message } = await harness.bad();
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
        expect(message).toMatch(/JSON/i);
        expect(stored(r.store, harness.topic)).toEqual([]);
        expect(await harness.produce(0, 3)).toBe('acked');
      });

      it('fails start() naming its config path when its port is taken, and frees its ports on stop()', async () => {
        const harness = await factory();
        const { tcp, udp } = harness.ports;
        if (tcp.length + udp.length > 0) {
          const taken = await listen(tcp[0] ?? udp[0], tcp.length === 0);
          const blocked = await run(name, harness, false);
          await expect(blocked.source.start()).rejects.toThrow(/sources\.c/);
          await blocked.source.stop();
          await taken.close();
        }
        const r = await run(name, harness);
        await r.source.stop();
        for (const port of tcp) await (await listen(port, false)).close();
        for (const port of udp) await (await listen(port, true)).close();
        await expect(r.source.stop()).resolves.toBeUndefined();
      });
    });
  }
});
