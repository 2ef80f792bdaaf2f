/**
 * What the Kafka sink and source share: the connection part of their config (brokers, client id,
 * timeouts, TLS, SASL), the kafkajs client built from it, and the translation of kafkajs errors
 * into SluiceErrors whose messages name what a user can act on — broker unreachable, unknown
 * topic, not authorized, authentication failed, message too large.
 *
 * The client is kafkajs 2 (docs/decisions/kafka-client.md): pure JavaScript, no native build, and
 * every API Sluice uses is implemented at a version Kafka 4.x still accepts (KIP-896; proved by
 * test/kafka/kafkajs-compat.test.ts). Its own retries are kept short: the sink runner (and the
 * source's loop) does the retrying, with backoff and a visible state.
 */
import { Type, type Static } from '@sinclair/typebox';
import { readFileSync } from 'node:fs';
import { checkTlsFiles } from './net.ts';
import type { ConnectionOptions } from 'node:tls';
import type * as KafkaJs from 'kafkajs';
import type { Kafka, KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import { createRequire } from 'node:module';
import { ErrorCodes, SluiceError } from '../../shared/src/errors.ts';
import { EXPECTED, type ConfigProblem } from '../../shared/src/spec.ts';
import { ADDRESS_EXPECTED, ADDRESS_PATTERN, Duration, toMs } from './units.ts';
import type { Logger } from './log.ts';

export const KafkaConnectionKeys = {
  brokers: Type.Array(Type.String({ pattern: ADDRESS_PATTERN, [EXPECTED]: ADDRESS_EXPECTED }), {
    minItems: 1,
    description: 'Bootstrap brokers (host:port); the rest of the cluster is found from their metadata',
    examples: [['127.0.0.1:9092']],
  }),
  client_id: Type.Optional(Type.String({ minLength: 1, description: 'Kafka client.id (default: `sluice-<collector id>`), shown in broker logs and quotas' })),
  connect_timeout: Duration('Give up connecting to a broker after this long', '10s'),
  request_timeout: Duration('Give up on a request (produce, fetch, commit) after this long', '30s'),
  tls: Type.Optional(
    Type.Object(
      {
        ca: Type.Optional(Type.String({ description: 'PEM file of the CA(s) to trust for the brokers\' certificates (default: the system\'s)' })),
        cert: Type.Optional(Type.String({ description: 'PEM client certificate chain file (mutual TLS)' })),
        key: Type.Optional(Type.String({ description: 'PEM private key file of the client certificate' })),
        servername: Type.Optional(Type.String({ description: 'Server name for SNI and certificate checks, when it differs from the broker host' })),
        insecure: Type.Boolean({ default: false, description: 'Accept any broker certificate (testing only: anyone on the path can read and change the data)' }),
      },
      { additionalProperties: false, description: 'Connect with TLS (`tls: {}` for the system CAs)' },
    ),
  ),
  sasl: Type.Optional(
    Type.Object(
      {
        mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')], { description: 'SASL mechanism' }),
        username: Type.String({ minLength: 1, description: 'SASL user name' }),
        password: Type.String({ description: 'SASL password (PLAIN sends it as is: use it with tls)' }),
      },
      { additionalProperties: false, description: 'SASL authentication' },
    ),
  ),
};

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is used
const ConnectionSchema = Type.Object(KafkaConnectionKeys);
export type KafkaConnectionConfig = Static<typeof ConnectionSchema>;

const load = createRequire(import.meta.url);

/**
 * The kafkajs module, loaded the first time a Kafka source or sink is created: a collector whose
 * config names no Kafka component never loads it (docs/decisions/runtime-build.md). Synchronous
 * (kafkajs is CommonJS), so the components' factories stay synchronous.
 */
export function kafkajs(): typeof KafkaJs {
  return load('kafkajs') as typeof KafkaJs;
}

/** A kafkajs client for `config`; TLS files are read now, so a missing one fails at start. */
export function createKafka(config: KafkaConnectionConfig, options: { path: string; collectorId: string; log: Logger; retries?: number }): Kafka {
  let ssl: ConnectionOptions | undefined;
  if (config.tls) {
    const read = (key: 'ca' | 'cert' | 'key') => {
      const file = config.tls?.[key];
      if (!file) return undefined;
      try {
        return readFileSync(file);
      } catch (error) {
        throw new SluiceError(ErrorCodes.CONFIG_INVALID, `${options.path}.tls.${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
          where: `${options.path}.tls.${key}`,
          cause: error,
        });
      }
    };
    ssl = { ca: read('ca'), cert: read('cert'), key: read('key'), servername: config.tls.servername, rejectUnauthorized: !config.tls.insecure };
  }
  const sasl: SASLOptions | undefined = config.sasl
    ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions)
    : undefined;
  const log = options.log;
  const { Kafka, logLevel } = kafkajs();
  const kafkaConfig: KafkaConfig = {
    brokers: [...config.brokers],
    clientId: config.client_id ?? `sluice-${options.collectorId}`,
    connectionTimeout: toMs(config.connect_timeout),
    requestTimeout: toMs(config.request_timeout),
    ssl,
    sasl,
    // kafkajs retries a failed request this many times (100 ms … 1 s apart) before it gives up;
    // past that, Sluice's own backoff takes over and the state shows why.
    retry: { retries: options.retries ?? 2, initialRetryTime: 100, maxRetryTime: 1000 },
    // kafkajs logs at error level for every retried request: keep warnings and worse at debug,
    // Sluice reports the outcome (the sink's state, the source's log line).
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.WARN) log.debug({ kafkajs: namespace, ...rest }, `kafkajs: ${message}`);
      },
  };
  return new Kafka(kafkaConfig);
}

export function connectionProblems(config: KafkaConnectionConfig, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  problems.push(...checkTlsFiles(config.tls, path));
  return problems;
}

// ─── Errors ───────────────────────────────────────────────────────────────────────────────

interface KafkaJsErrorLike {
  name?: string;
  message?: string;
  type?: string;
  code?: string | number;
  retriable?: boolean;
  broker?: string;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown[];
}

/** Every error in a kafkajs error's chain (retries-exceeded wrappers, aggregate errors). */
function chain(error: unknown): KafkaJsErrorLike[] {
  const out: KafkaJsErrorLike[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && out.length < 32) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || out.includes(e as KafkaJsErrorLike)) continue;
    const k = e as KafkaJsErrorLike;
    out.push(k);
    if (k.cause) queue.push(k.cause);
    if (k.originalError) queue.push(k.originalError);
    if (Array.isArray(k.errors)) queue.push(...k.errors);
  }
  return out;
}

/** The Kafka protocol error types in an error's chain (`UNKNOWN_TOPIC_OR_PARTITION`, …). */
export function kafkaErrorTypes(error: unknown): string[] {
  return chain(error)
    .map((e) => e.type)
    .filter((t): t is string => typeof t === 'string');
}

const AUTHORIZATION = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED']);
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/** Rejections of the records themselves: sending them again cannot succeed. */
const BAD_RECORDS = new Set(['INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP', 'INVALID_TOPIC_EXCEPTION', 'UNSUPPORTED_FOR_MESSAGE_FORMAT', 'UNSUPPORTED_COMPRESSION_TYPE']);

export type KafkaProblem = 'too_large' | 'unknown_topic' | 'not_authorized' | 'authentication' | 'unreachable' | 'bad_records' | 'other';

export function classifyKafkaError(error: unknown): KafkaProblem {
  const all = chain(error);
  const types = all.map((e) => e.type ?? '');
  if (types.some((t) => TOO_LARGE.has(t))) return 'too_large';
  if (types.some((t) => AUTHORIZATION.has(t))) return 'not_authorized';
  if (types.includes('UNKNOWN_TOPIC_OR_PARTITION')) return 'unknown_topic';
  if (types.some((t) => BAD_RECORDS.has(t))) return 'bad_records';
  if (all.some((e) => e.name === 'KafkaJSSASLAuthenticationError' || e.type === 'SASL_AUTHENTICATION_FAILED' || e.type === 'ILLEGAL_SASL_STATE' || e.type === 'UNSUPPORTED_SASL_MECHANISM')) {
    return 'authentication';
  }
  if (
    all.some(
      (e) =>
        e.name === 'KafkaJSConnectionError' ||
        e.name === 'KafkaJSConnectionClosedError' ||
        e.name === 'KafkaJSBrokerNotFound' ||
        e.name === 'KafkaJSRequestTimeoutError' ||
        e.name === 'KafkaJSMetadataNotLoaded' ||
        ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'].includes(String(e.code)),
    )
  ) {
    return 'unreachable';
  }
  return 'other';
}

/** The innermost message of a kafkajs error chain (the wrappers only say "retries exceeded"). */
function rootMessage(error: unknown): string {
  const all = chain(error);
  for (let i = all.length - 1; i >= 0; i--) if (all[i].message) return all[i].message!;
  return String(error);
}

/**
 * A SluiceError for a failed produce/consume, named by what the user can do about it.
 * `what` says what was attempted (`sink "k": producing 500 events to "orders"`).
 */
export function kafkaError(error: unknown, what: string, brokers: readonly string[], topics: readonly string[] = []): SluiceError {
  if (error instanceof SluiceError) return error;
  const problem = classifyKafkaError(error);
  const root = rootMessage(error);
  const topicList = topics.length > 0 ? topics.map((t) => `"${t}"`).join(', ') : 'the topic';
  const where = brokers.join(',');
  switch (problem) {
    case 'unreachable':
      return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${what}: broker unreachable (${brokers.join(', ')}): ${root}`, { retriable: true, cause: error, where });
    case 'unknown_topic':
      return new SluiceError(
        ErrorCodes.DESTINATION_UNAVAILABLE,
        `${what}: unknown topic ${topicList}: the cluster has no such topic and does not create it (create it, or set auto.create.topics.enable=true on the brokers); retrying`,
        { retriable: true, cause: error, where },
      );
    case 'not_authorized':
      return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${what}: authorization failed for ${topicList} (${kafkaErrorTypes(error).join(', ')}): grant the Sluice principal access in the cluster's ACLs; retrying`, {
        retriable: true,
        cause: error,
        where,
      });
    case 'authentication':
      return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${what}: SASL authentication failed: ${root} (check sasl.mechanism, username and password); retrying`, {
        retriable: true,
        cause: error,
        where,
      });
    case 'too_large':
      return new SluiceError(ErrorCodes.DESTINATION_REJECTED, `${what}: message too large: the broker refused it (${root}); raise the topic's max.message.bytes or lower the event size`, {
        retriable: false,
        cause: error,
        where,
      });
    case 'bad_records':
      return new SluiceError(ErrorCodes.DESTINATION_REJECTED, `${what}: the broker rejected the records: ${root}`, { retriable: false, cause: error, where });
    default:
      return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${what}: ${root}`, { retriable: true, cause: error, where });
  }
}
