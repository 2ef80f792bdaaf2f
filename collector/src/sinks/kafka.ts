/**
 * kafka sink: produces each batch to a Kafka cluster with acks=all (-1), through kafkajs's
 * idempotent producer (one request in flight per broker connection, sequence numbers per
 * partition: a retry inside the client does not duplicate). `send` resolves only once every
 * record of the batch was acknowledged by all in-sync replicas; the runner then advances the
 * cursor. A batch is one `sendBatch` call (split only when it would exceed `max_request_bytes`).
 *
 * Event → Kafka record (docs/kafka.md):
 *   topic      `topic` template: `{topic}` the Sluice topic, `{header.NAME}` a header's value
 *   key        the event key, or the header named by `key_header`
 *   value      the body bytes, as stored
 *   headers    every Sluice header (`headers: all`) as a UTF-8 Kafka header, or none
 *   timestamp  the event's ts (CreateTime)
 * Partitioning is Kafka's default: murmur2 of the key (as the Java client), round-robin without.
 *
 * Failures (kafka-client.ts names them): broker unreachable, unknown topic, authorization and
 * authentication failures are retriable — the events stay in the channel, the sink shows
 * `backing_off` with the reason until the cluster or the config is fixed; a record the broker
 * refuses for itself (message too large, invalid record) is not retriable and the batch is parked.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { CompressionTypes, Message, Producer, TopicMessages } from 'kafkajs';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { isValidTopic, type StoredEvent } from '../../../shared/src/event.ts';
import type { ConfigProblem } from '../../../shared/src/spec.ts';
import type { Sink, SinkSpec } from '../components.ts';
import { Size, toBytes } from '../units.ts';
import { classifyKafkaError, connectionProblems, createKafka, kafkaError, kafkajs, KafkaConnectionKeys } from '../kafka-client.ts';
import type { Logger } from '../log.ts';

const KafkaSinkConfig = Type.Object(
  {
    ...KafkaConnectionKeys,
    topic: Type.String({
      minLength: 1,
      default: '{topic}',
      description: 'Kafka topic of each event: `{topic}` is the Sluice topic, `{header.NAME}` the value of header NAME (e.g. `logs.{header.service}`)',
    }),
    key_header: Type.Optional(Type.String({ minLength: 1, description: 'Take the Kafka record key from this header instead of the event key (no header: no key)' })),
    headers: Type.Union([Type.Literal('all'), Type.Literal('none')], { default: 'all', description: '`all`: every Sluice header becomes a Kafka header; `none`: records carry no headers' }),
    compression: Type.Union([Type.Literal('none'), Type.Literal('gzip')], {
      default: 'none',
      description: 'Compression of record batches (kafkajs implements gzip itself; snappy, lz4 and zstd would need extra packages)',
    }),
    idempotent: Type.Boolean({ default: true, description: 'Use the idempotent producer (needs IDEMPOTENT_WRITE on the cluster when ACLs are on)' }),
    max_request_bytes: Size('Split a batch into requests of at most this many bytes (keep it under the brokers\' message.max.bytes, default 1MiB; a few hundred KiB measured fastest)', '512KiB'),
  },
  { additionalProperties: false },
);

export type KafkaSinkConfig = Static<typeof KafkaSinkConfig>;

/** Bytes a record adds beyond its key, value and headers (record batch framing, varints). */
const RECORD_OVERHEAD = 32;
const TEMPLATE = /\{(topic|header\.[^{}]+)\}/g;

type TopicOf = (event: StoredEvent, topic: string) => string;

/** Compiles the topic template; the plain `{topic}` and constant cases cost nothing per event. */
export function compileTopicTemplate(template: string): TopicOf {
  if (template === '{topic}') return (_event, topic) => topic;
  if (!template.includes('{')) return () => template;
  const parts: (string | { header: string } | { topic: true })[] = [];
  let last = 0;
  for (const m of template.matchAll(TEMPLATE)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push(m[1] === 'topic' ? { topic: true } : { header: m[1].slice('header.'.length) });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return (event, topic) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else if ('topic' in p) out += topic;
      else out += event.headers[p.header] ?? '';
    }
    return out;
  };
}

export class KafkaSink implements Sink {
  readonly #config: KafkaSinkConfig;
  readonly #name: string;
  readonly #log: Logger;
  readonly #producer: Producer;
  readonly #topicOf: TopicOf;
  readonly #maxRequestBytes: number;
  readonly #compression: CompressionTypes;
  #connected: Promise<void> | null = null;
  #records = 0;
  #requests = 0;
  #failures = 0;
  #lastError: string | null = null;
  #lastProblem: string | null = null;

  constructor(config: KafkaSinkConfig, options: { name: string; collectorId: string; log: Logger }) {
    this.#config = config;
    this.#name = options.name;
    this.#log = options.log;
    this.#topicOf = compileTopicTemplate(config.topic);
    this.#maxRequestBytes = toBytes(config.max_request_bytes);
    const { CompressionTypes, Partitioners } = kafkajs();
    this.#compression = config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    const kafka = createKafka(config, { path: `sinks.${options.name}`, collectorId: options.collectorId, log: options.log });
    this.#producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: config.idempotent,
      // The idempotent producer keeps order across its own retries only with one request in
      // flight per connection (kafkajs does not track several sequence windows).
      maxInFlightRequests: config.idempotent ? 1 : undefined,
      allowAutoTopicCreation: true,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  async send(events: readonly StoredEvent[], topic: string): Promise<void> {
    if (events.length === 0) return;
    const what = `sink "${this.#name}": producing ${events.length} events of "${topic}" (offsets ${events[0].offset}–${events[events.length - 1].offset})`;
    const requests = this.#toRequests(events, topic, what);
    try {
      await this.#connect();
      for (const request of requests) await this.#sendRequest(request);
      this.#records += events.length;
      this.#lastProblem = null;
    } catch (error) {
      this.#failures++;
      const targets = [...new Set(requests.flatMap((r) => r.map((t) => t.topic)))];
      const failure = kafkaError(error, what, this.#config.brokers, targets);
      this.#lastError = failure.message;
      this.#lastProblem = classifyKafkaError(error);
      if (this.#lastProblem === 'unreachable') {
        // the next attempt starts from a fresh connection (the old one may be half dead)
        this.#connected = null;
      }
      throw failure;
    }
  }

  async close(): Promise<void> {
    this.#connected = null;
    await this.#producer.disconnect();
  }

  describe(): Record<string, unknown> {
    return {
      brokers: this.#config.brokers,
      topic: this.#config.topic,
      idempotent: this.#config.idempotent,
      compression: this.#config.compression,
      records: this.#records,
      requests: this.#requests,
      failures: this.#failures,
      lastError: this.#lastError,
      lastProblem: this.#lastProblem,
    };
  }

  #connect(): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((error: unknown) => {
      this.#connected = null;
      throw error;
    });
    return this.#connected;
  }

  /** Sends one request; a request refused as too large is split in halves until one record is left. */
  async #sendRequest(request: TopicMessages[]): Promise<void> {
    this.#requests++;
    try {
      await this.#producer.sendBatch({ topicMessages: request, acks: -1, compression: this.#compression, timeout: undefined });
    } catch (error) {
      const count = request.reduce((n, t) => n + t.messages.length, 0);
      if (classifyKafkaError(error) !== 'too_large' || count <= 1) throw error;
      const [a, b] = halve(request);
      this.#log.debug({ sink: this.#name, records: count }, 'kafka refused a request as too large; splitting it');
      await this.#sendRequest(a);
      await this.#sendRequest(b);
    }
  }

  /** Turns the batch into Kafka records grouped by target topic, in requests of at most max_request_bytes. */
  #toRequests(events: readonly StoredEvent[], topic: string, what: string): TopicMessages[][] {
    const requests: TopicMessages[][] = [];
    let current = new Map<string, Message[]>();
    let bytes = 0;
    const keyHeader = this.#config.key_header;
    const withHeaders = this.#config.headers === 'all';
    for (const event of events) {
      const target = this.#topicOf(event, topic);
      if (!isValidTopic(target)) {
        throw new SluiceError(
          ErrorCodes.DESTINATION_REJECTED,
          `${what}: event ${event.offset} maps to the invalid Kafka topic "${target}" (topic template "${this.#config.topic}"; a header it names may be missing)`,
          { retriable: false, where: `sinks.${this.#name}.topic` },
        );
      }
      const key = keyHeader === undefined ? event.key : (event.headers[keyHeader] ?? null);
      const value = Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength);
      let size = RECORD_OVERHEAD + value.length + (key === null ? 0 : Buffer.byteLength(key));
      let headers: Record<string, string> | undefined;
      if (withHeaders) {
        headers = event.headers;
        for (const name in headers) size += name.length + headers[name].length + 2;
      }
      if (bytes > 0 && bytes + size > this.#maxRequestBytes) {
        requests.push(toTopicMessages(current));
        current = new Map();
        bytes = 0;
      }
      bytes += size;
      let list = current.get(target);
      if (!list) current.set(target, (list = []));
      list.push({ key, value, headers, timestamp: String(event.ts) });
    }
    if (current.size > 0) requests.push(toTopicMessages(current));
    return requests;
  }
}

function toTopicMessages(byTopic: Map<string, Message[]>): TopicMessages[] {
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Splits a request into two with about half the records each, keeping order within each topic. */
function halve(request: TopicMessages[]): [TopicMessages[], TopicMessages[]] {
  const flat = request.flatMap((t) => t.messages.map((m) => [t.topic, m] as const));
  const mid = Math.ceil(flat.length / 2);
  const group = (part: (readonly [string, Message])[]) => {
    const map = new Map<string, Message[]>();
    for (const [topic, m] of part) {
      let list = map.get(topic);
      if (!list) map.set(topic, (list = []));
      list.push(m);
    }
    return toTopicMessages(map);
  };
  return [group(flat.slice(0, mid)), group(flat.slice(mid))];
}

export const kafkaSink: SinkSpec<typeof KafkaSinkConfig> = {
  kind: 'sink',
  name: 'kafka',
  summary: 'Produces events to Apache Kafka topics (acks=all, idempotent producer, TLS and SASL)',
  config: KafkaSinkConfig,
  examples: [
    { title: 'Every topic to the Kafka topic of the same name', config: { brokers: ['127.0.0.1:9092'] } },
    {
      title: 'To a topic named by a header, keyed by another header, gzip, over TLS with SCRAM',
      config: {
        brokers: ['kafka-1.example.com:9093', 'kafka-2.example.com:9093'],
        topic: 'logs.{header.service}',
        key_header: 'host',
        compression: 'gzip',
        tls: { ca: '/etc/sluice/kafka-ca.pem' },
        sasl: { mechanism: 'scram-sha-512', username: 'sluice-edge', password: 'change-me' },
      },
    },
  ],
  create: (config, ctx) => new KafkaSink(config, { name: ctx.name, collectorId: ctx.collectorId, log: ctx.log }),
  async preflight(config, path) {
    const problems: ConfigProblem[] = connectionProblems(config, path);
    const constant = !config.topic.includes('{');
    if (constant && !isValidTopic(config.topic)) problems.push({ path: `${path}.topic`, message: `"${config.topic}" is not a valid Kafka topic name (1–249 letters, digits, '.', '_', '-')` });
    for (const m of config.topic.matchAll(/\{([^{}]*)\}/g)) {
      if (m[1] !== 'topic' && !m[1].startsWith('header.')) problems.push({ path: `${path}.topic`, message: `unknown placeholder {${m[1]}}: use {topic} or {header.NAME}` });
    }
    return problems;
  },
};
