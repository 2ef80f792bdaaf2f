/**
 * kafka source: consumes Kafka topics (by name or by pattern) in a consumer group into the
 * channel.
 *
 * Kafka record → event (docs/kafka.md):
 *   topic    `topic` template: `{topic}` the Kafka topic (default), e.g. `kafka.{topic}`
 *   key      the record key as UTF-8; a key that is not valid UTF-8 is base64 with header
 *            `kafka.key_encoding: base64`
 *   ts       the record timestamp (CreateTime or LogAppendTime, as the topic is configured)
 *   headers  every Kafka header as UTF-8 (a repeated header keeps its last value), plus
 *            `kafka.topic`, `kafka.partition`, `kafka.offset` unless `metadata_headers: false`;
 *            `content-type` from `content_type` when the record has none
 *   body     the value bytes; a null value (tombstone) is an empty body with `kafka.tombstone: true`
 *
 * Delivery: at-least-once. Offsets are committed to Kafka (manual commits, never automatic) only
 * after `ctx.ingest` resolved, i.e. after the channel transaction holding the events committed.
 * The same transaction stores, in channel state namespace `kafka:<source>`, key
 * `<group>/<topic>/<partition>`, the next offset to read. After a crash between the channel
 * commit and the Kafka commit the group re-delivers those records; the source skips the ones
 * below the stored offset, so the channel gets each record once. (The stored offset is ignored
 * when the partition's high watermark is below it: the topic was deleted and re-created.)
 *
 * Back-pressure: while the channel refuses (`CHANNEL_FULL`), the batch is retried with backoff,
 * heartbeats keep the membership, and no more is fetched for that partition: nothing is dropped.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { ErrorCodes, errorMessage, isRetriable, isSluiceError } from '../../../shared/src/errors.ts';
import { isValidTopic, type EventDraft, type Headers } from '../../../shared/src/event.ts';
import type { ConfigProblem } from '../../../shared/src/spec.ts';
import type { StateWrite } from '../channel/channel.ts';
import type { Source, SourceContext, SourceSpec } from '../components.ts';
import { Duration, toMs } from '../units.ts';
import { connectionProblems, createKafka, kafkaError, KafkaConnectionKeys } from '../kafka-client.ts';
import { Backoff, sleep } from '../retry.ts';

const KafkaSourceConfig = Type.Object(
  {
    ...KafkaConnectionKeys,
    group_id: Type.String({ minLength: 1, description: 'Consumer group id; collectors with the same group share the partitions' }),
    topics: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Kafka topics to consume, by name' }),
    topic_pattern: Type.Optional(
      Type.String({ minLength: 1, description: 'Also consume every topic whose whole name matches this regex (matched against the topics that exist at start)' }),
    ),
    start_from: Type.Union([Type.Literal('earliest'), Type.Literal('latest')], {
      default: 'latest',
      description: 'Where a group with no committed offset for a partition starts',
    }),
    topic: Type.String({ minLength: 1, default: '{topic}', description: 'Sluice topic of the events: `{topic}` is the Kafka topic (e.g. `kafka.{topic}`)' }),
    metadata_headers: Type.Boolean({ default: true, description: 'Add headers `kafka.topic`, `kafka.partition` and `kafka.offset` to every event' }),
    content_type: Type.Optional(Type.String({ minLength: 1, description: 'Header `content-type` of events whose Kafka record has none (e.g. application/json)' })),
    partitions_concurrently: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'Partitions ingested at the same time (order per partition is kept either way)' }),
    session_timeout: Duration('The group drops a member not heard from for this long', '30s'),
    max_bytes_per_partition: Type.Integer({ minimum: 1024, default: 1024 * 1024, description: 'Most bytes fetched per partition per request (one fetch is one channel append)' }),
  },
  { additionalProperties: false },
);

export type KafkaSourceConfig = Static<typeof KafkaSourceConfig>;

const KEY_ENCODING = 'kafka.key_encoding';

export class KafkaSource implements Source {
  readonly #config: KafkaSourceConfig;
  readonly #ctx: SourceContext;
  readonly #namespace: string;
  readonly #consumer: Consumer;
  readonly #mapTopic: (topic: string) => string;
  readonly #stop = new AbortController();
  /** Next offset to read per `<topic>/<partition>`, as stored in the channel (the dedupe floor). */
  readonly #stored = new Map<string, bigint>();
  readonly stats = { events: 0, batches: 0, skipped: 0, commitFailures: 0 };
  #joining: Promise<void> = Promise.resolve();
  #joined = false;
  /** Offset commits to Kafka, in order. */
  #commits: Promise<void> = Promise.resolve();

  constructor(config: KafkaSourceConfig, ctx: SourceContext) {
    this.#config = config;
    this.#ctx = ctx;
    this.#namespace = `kafka:${ctx.name}`;
    const template = config.topic;
    this.#mapTopic = template === '{topic}' ? (t) => t : (t) => template.replaceAll('{topic}', t);
    const kafka = createKafka(config, { path: `sources.${ctx.name}`, collectorId: ctx.collectorId, log: ctx.log, retries: 5 });
    this.#consumer = kafka.consumer({
      groupId: config.group_id,
      sessionTimeout: toMs(config.session_timeout),
      heartbeatInterval: Math.max(100, Math.floor(toMs(config.session_timeout) / 10)),
      maxBytesPerPartition: config.max_bytes_per_partition,
      allowAutoTopicCreation: false,
      // a crashed run is restarted by kafkajs with backoff; nothing was committed for it
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 30_000, restartOnFailure: async () => !this.#stop.signal.aborted },
    });
    ctx.signal.addEventListener('abort', () => this.#stop.abort(), { once: true });
  }

  /**
   * Resolves at once: joining the group happens in the background, retried with backoff, so a
   * collector starts (and its other sources take events) while Kafka is unreachable.
   */
  async start(): Promise<void> {
    const prefix = `${this.#config.group_id}/`;
    for (const { key, value } of this.#ctx.channel.listState(this.#namespace)) {
      if (key.startsWith(prefix) && /^\d+$/.test(value)) this.#stored.set(key.slice(prefix.length), BigInt(value));
    }
    this.#consumer.on(this.#consumer.events.CRASH, (e) => {
      const { error, restart } = e.payload;
      this.#ctx.log.error({ err: errorMessage(error), restart }, kafkaError(error, `source "${this.#ctx.name}": consumer crashed${restart ? ', restarting' : ''}`, this.#config.brokers).message);
    });
    this.#joining = this.#join();
  }

  /** Whether the consumer has joined and runs (for tests and diagnostics). */
  get joined(): boolean {
    return this.#joined;
  }

  async #join(): Promise<void> {
    const what = `source "${this.#ctx.name}": joining group "${this.#config.group_id}"`;
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    const topics: (string | RegExp)[] = [...this.#config.topics];
    if (this.#config.topic_pattern) topics.push(new RegExp(`^(?:${this.#config.topic_pattern})$`));
    while (!this.#stop.signal.aborted) {
      try {
        await this.#consumer.connect();
        await this.#consumer.subscribe({ topics, fromBeginning: this.#config.start_from === 'earliest' });
        await this.#consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.#config.partitions_concurrently,
          eachBatch: (payload) => this.#eachBatch(payload),
        });
        this.#joined = true;
        if (backoff.attempt > 0) this.#ctx.log.info({}, `source "${this.#ctx.name}": consuming from Kafka again`);
        return;
      } catch (error) {
        await this.#consumer.disconnect().catch(() => undefined);
        const delay = backoff.next();
        this.#ctx.log.error({ err: errorMessage(error) }, `${kafkaError(error, what, this.#config.brokers, this.#config.topics).message}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${backoff.attempt})`);
        if (!(await sleep(delay, this.#stop.signal))) return;
      }
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#joining;
    await this.#commits;
    await this.#consumer.disconnect();
  }

  endpoints(): string[] {
    const what = [...this.#config.topics, ...(this.#config.topic_pattern ? [`/${this.#config.topic_pattern}/`] : [])].join(', ');
    return [`kafka://${this.#config.brokers.join(',')} ${what} (group ${this.#config.group_id})`];
  }

  async #eachBatch({ batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const id = `${topic}/${partition}`;
    let floor = this.#stored.get(id) ?? -1n;
    if (floor > BigInt(batch.highWatermark)) {
      // the partition has fewer records than we stored: it is not the one we read (re-created)
      this.#ctx.log.warn({ topic, partition, stored: String(floor), high: batch.highWatermark }, `source "${this.#ctx.name}": ${id} is behind the offset stored in the channel; the topic was re-created? reading it anew`);
      floor = -1n;
    }
    const drafts: EventDraft[] = [];
    const draftOffsets: string[] = [];
    const sluiceTopic = this.#mapTopic(topic);
    for (const message of batch.messages) {
      if (BigInt(message.offset) < floor) {
        this.stats.skipped++;
        continue;
      }
      drafts.push(this.#toDraft(message, sluiceTopic, topic, partition));
      draftOffsets.push(message.offset);
    }
    if (drafts.length < batch.messages.length) {
      this.#ctx.log.info(
        { topic, partition, skipped: batch.messages.length - drafts.length },
        `source "${this.#ctx.name}": skipped ${batch.messages.length - drafts.length} re-delivered records of ${id} already in the channel (below offset ${floor})`,
      );
    }
    const last = batch.messages[batch.messages.length - 1].offset;
    // control records (transactions) may follow the last message: the next offset is past them
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    if (drafts.length > 0) {
      // Usually one append. The channel refuses for good an append larger than all of it (a
      // fetch returns at least one whole record batch, whatever max_bytes_per_partition says):
      // then the batch goes in halves, each with the offset stored up to where it ends.
      const pending: [number, number][] = [[0, drafts.length]];
      const backoff = new Backoff({ initialMs: 50, maxMs: 2000 });
      while (pending.length > 0) {
        if (!isRunning() || isStale() || this.#stop.signal.aborted) return; // not committed: re-delivered later
        const [from, to] = pending[0];
        const upTo = to === drafts.length ? next : draftOffsets[to];
        const state: StateWrite[] = [{ namespace: this.#namespace, key: `${this.#config.group_id}/${id}`, value: upTo }];
        try {
          await this.#ctx.ingest(from === 0 && to === drafts.length ? drafts : drafts.slice(from, to), { state });
          this.#stored.set(id, BigInt(upTo));
          this.stats.events += to - from;
          pending.shift();
          backoff.reset();
        } catch (error) {
          if (isSluiceError(error) && error.code === ErrorCodes.TOO_LARGE && to - from > 1) {
            const mid = (from + to) >> 1;
            pending.splice(0, 1, [from, mid], [mid, to]);
            continue;
          }
          if (!isRetriable(error)) throw error;
          const delay = backoff.next();
          if (backoff.attempt === 1) this.#ctx.log.warn({ topic, partition, err: errorMessage(error) }, `source "${this.#ctx.name}": channel refuses events; pausing ${id}`);
          if (!(await sleep(delay, this.#stop.signal))) return;
          await heartbeat(); // throws on a rebalance: the batch is then re-delivered to the new owner
        }
      }
    }
    this.stats.batches++;
    this.#stored.set(id, BigInt(next));
    resolveOffset(last);
    // The Kafka commit runs while the next fetch is on its way (commits stay in order: one chain).
    // Waiting for it would add a round trip per batch and protect nothing: the events are in the
    // channel with their offset, so a re-delivery after a lost commit is skipped.
    this.#commits = this.#commits.then(() =>
      commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] }).catch((error: unknown) => {
        this.stats.commitFailures++;
        this.#ctx.log.warn({ topic, partition, err: errorMessage(error) }, `source "${this.#ctx.name}": committing offset ${next} of ${id} to Kafka failed (the next batch commits again)`);
      }),
    );
  }

  #toDraft(message: KafkaMessage, topic: string, kafkaTopic: string, partition: number): EventDraft {
    const headers: Headers = {};
    if (message.headers) {
      for (const name in message.headers) {
        const v = message.headers[name];
        if (v === undefined) continue;
        const value = Array.isArray(v) ? v[v.length - 1] : v;
        headers[name] = typeof value === 'string' ? value : value.toString('utf8');
      }
    }
    if (this.#config.content_type && headers['content-type'] === undefined) headers['content-type'] = this.#config.content_type;
    if (this.#config.metadata_headers) {
      headers['kafka.topic'] = kafkaTopic;
      headers['kafka.partition'] = String(partition);
      headers['kafka.offset'] = message.offset;
    }
    let key: string | null = null;
    if (message.key) {
      key = message.key.toString('utf8');
      if (!Buffer.from(key, 'utf8').equals(message.key)) {
        key = message.key.toString('base64');
        headers[KEY_ENCODING] = 'base64';
      }
    }
    if (message.value === null) headers['kafka.tombstone'] = 'true';
    const body = message.value ?? new Uint8Array(0);
    return { topic, ts: Number(message.timestamp), key, headers, body };
  }
}

export const kafkaSource: SourceSpec<typeof KafkaSourceConfig> = {
  kind: 'source',
  name: 'kafka',
  summary: 'Consumes Kafka topics in a consumer group into the channel (offsets committed after the channel commit)',
  config: KafkaSourceConfig,
  examples: [
    { title: 'One topic from the beginning', config: { brokers: ['127.0.0.1:9092'], group_id: 'sluice', topics: ['orders'], start_from: 'earliest' } },
    {
      title: 'Every `logs.*` topic into `kafka.<topic>`, JSON bodies, over TLS with SCRAM',
      config: {
        brokers: ['kafka-1.example.com:9093'],
        group_id: 'sluice-hub',
        topic_pattern: 'logs\\..*',
        topic: 'kafka.{topic}',
        content_type: 'application/json',
        tls: { ca: '/etc/sluice/kafka-ca.pem' },
        sasl: { mechanism: 'scram-sha-256', username: 'sluice', password: 'change-me' },
      },
    },
  ],
  create: (config, ctx) => new KafkaSource(config, ctx),
  async preflight(config, path) {
    const problems: ConfigProblem[] = connectionProblems(config, path);
    if (config.topics.length === 0 && !config.topic_pattern) problems.push({ path: `${path}.topics`, message: 'name at least one topic, or set topic_pattern' });
    if (config.topic_pattern) {
      try {
        new RegExp(config.topic_pattern);
      } catch (error) {
        problems.push({ path: `${path}.topic_pattern`, message: `not a regex: ${errorMessage(error)}` });
      }
    }
    for (const t of config.topics) {
      if (!isValidTopic(t)) problems.push({ path: `${path}.topics`, message: `"${t}" is not a valid Kafka topic name` });
      else if (!isValidTopic(config.topic.replaceAll('{topic}', t))) problems.push({ path: `${path}.topic`, message: `maps "${t}" to an invalid Sluice topic "${config.topic.replaceAll('{topic}', t)}"` });
    }
    return problems;
  },
};
