/**
 * The forward source: a Fluent Forward protocol v1 server (docs/protocols/forward.md) — the hub
 * side of edge → hub, and the way Fluent Bit, fluentd, Docker's fluentd driver and fluent-logger
 * clients send to Sluice. Message, Forward, PackedForward and CompressedPackedForward frames; one
 * `ingest` per frame; `{ack: chunk}` only after the frame's events committed (connection.ts).
 *
 * Tag → topic: the tag is the topic when it is a valid topic name; otherwise, with
 * `invalid_tags: map`, characters other than letters, digits, '.', '_' and '-' become '_' (and it
 * is cut to 249 characters), or with `refuse` the frame closes the connection. A fixed `topic`
 * overrides tags. Whenever the topic differs from the tag, the tag is kept in the `fluent.tag`
 * header.
 *
 * Duplicates: every chunk id is stored in the channel's state table (namespace `forward.chunks`)
 * in the same transaction as the chunk's events, so a chunk re-sent after a lost ack is
 * acknowledged again but stored once. Ids older than `dedupe_window` are pruned; the first prune
 * runs one interval after start, so a hub that was down for days still recognises the retries
 * that arrive when it comes back.
 */
import { Type, type Static } from '@sinclair/typebox';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { errorMessage } from '../../../../shared/src/errors.ts';
import { isValidTopic, TOPIC_PATTERN } from '../../../../shared/src/event.ts';
import type { ConfigProblem } from '../../../../shared/src/spec.ts';
import type { Source, SourceContext, SourceNetworkStats, SourceSpec } from '../../components.ts';
import { Duration, Size, toBytes, toMs } from '../../units.ts';
import { checkPortFree, checkTlsFiles, ListenSchema, listenError, parseListen, TlsSchema, tlsOptions, type ListenAddress } from '../../net.ts';
import { ConnectionGuard } from '../connection-guard.ts';
import { CHUNK_NAMESPACE, ForwardConnection, type ConnectionSettings, type ForwardStats, type HandshakeSettings } from './connection.ts';

const ForwardConfig = Type.Object(
  {
    listen: ListenSchema('127.0.0.1:24224', 'Address to listen on'),
    tls: TlsSchema,
    shared_key: Type.Optional(
      Type.String({ minLength: 1, description: 'Require the shared-key handshake (HELO/PING/PONG) with this key before any event frame' }),
    ),
    self_hostname: Type.Optional(
      Type.String({ minLength: 1, description: 'Our hostname in the handshake (default: collector.id); it must differ from the client\'s' }),
    ),
    users: Type.Array(
      Type.Object(
        {
          username: Type.String({ minLength: 1, description: 'User name' }),
          password: Type.String({ minLength: 1, description: 'Password' }),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'With shared_key: also require one of these users (the handshake\'s username/password)' },
    ),
    topic: Type.Optional(
      Type.String({ pattern: TOPIC_PATTERN.source, description: 'Topic for every event, whatever the tag (the tag goes to the `fluent.tag` header)' }),
    ),
    invalid_tags: Type.Union([Type.Literal('map'), Type.Literal('refuse')], {
      default: 'map',
      description: 'A tag that is not a valid topic name: `map` replaces other characters than letters, digits, `.`, `_`, `-` with `_` (the tag goes to the `fluent.tag` header); `refuse` closes the connection',
    }),
    max_frame_bytes: Size('Largest frame accepted; a larger one closes the connection (checked from its header, before it is buffered)', '16MiB'),
    max_decompressed_bytes: Size('Largest CompressedPackedForward entry stream after gunzip', '64MiB'),
    max_connections: Type.Integer({ minimum: 1, default: 1000, description: 'Connections accepted at once; more are refused' }),
    max_connections_per_peer: Type.Integer({
      minimum: 1,
      default: 250,
      description: 'Connections one remote IP address may hold at once (Docker\'s fluentd driver opens one per container); more from it are refused, so one peer cannot take every slot',
    }),
    idle_timeout: Duration('Close a connection that has sent nothing (not even a heartbeat) for this long (0: never); clients reconnect on their own', '10m'),
    frame_timeout: Duration('Close a connection that holds an incomplete frame this long without completing one (0: never); it was not acknowledged, so the client resends it', '60s'),
    handshake_timeout: Duration('Close a connection whose TLS handshake, or (with shared_key) whose answer to HELO, has not come within this long', '10s'),
    dedupe_window: Duration('Remember stored chunk ids this long: a chunk re-sent within it is acknowledged but not stored again', '24h'),
  },
  { additionalProperties: false },
);

export type ForwardSourceConfig = Static<typeof ForwardConfig>;

/** How long a connection whose chunk the channel refused stops reading before it is closed. */
const REFUSED_PAUSE_MS = 1000;
/** At most this many connection warnings per window; the rest are counted and summarised. */
const WARN_BURST = 20;
const WARN_WINDOW_MS = 10_000;

/** The topic for a tag (see the top of this file), or null when there is none. */
export function tagToTopic(tag: string): string | null {
  if (isValidTopic(tag)) return tag;
  const mapped = tag.replace(/[^A-Za-z0-9._-]/gu, '_').slice(0, 249);
  return isValidTopic(mapped) ? mapped : null;
}

export class ForwardSource implements Source {
  readonly #config: ForwardSourceConfig;
  readonly #ctx: SourceContext;
  readonly #address: ListenAddress;
  readonly #stop = new AbortController();
  readonly #connections = new Set<ForwardConnection>();
  readonly #settings: ConnectionSettings;
  readonly #windowMs: number;
  readonly #guard: ConnectionGuard;
  #server: Server | null = null;
  #port = 0;
  #pruneTimer: NodeJS.Timeout | null = null;
  #warnWindowStart = 0;
  #warnings = 0;
  #suppressed = 0;
  readonly stats: ForwardStats = { connections: 0, frames: 0, events: 0, duplicates: 0, refused: 0, backPressured: 0, handshakeTimeouts: 0 };

  constructor(config: ForwardSourceConfig, ctx: SourceContext) {
    const problem = usersProblem(config, `sources.${ctx.name}`);
    if (problem) throw new Error(`${problem.path}: ${problem.message}`);
    this.#config = config;
    this.#ctx = ctx;
    this.#address = parseListen(config.listen);
    this.#windowMs = toMs(config.dedupe_window);
    ctx.signal.addEventListener('abort', () => this.#stop.abort(), { once: true });
    this.#guard = new ConnectionGuard({
      who: `source "${ctx.name}"`,
      idleTimeoutMs: toMs(config.idle_timeout),
      frameTimeoutMs: toMs(config.frame_timeout),
      maxPerPeer: config.max_connections_per_peer,
      log: ctx.log,
    });
    const handshake: HandshakeSettings | null = config.shared_key
      ? {
          hostname: config.self_hostname ?? ctx.collectorId,
          sharedKey: config.shared_key,
          users: new Map(config.users.map((u) => [u.username, u.password])),
          timeoutMs: toMs(config.handshake_timeout),
        }
      : null;
    const fixed = config.topic;
    const refuse = config.invalid_tags === 'refuse';
    this.#settings = {
      ctx,
      maxFrameBytes: toBytes(config.max_frame_bytes),
      maxDecompressedBytes: toBytes(config.max_decompressed_bytes),
      handshake,
      topicOf(tag) {
        if (fixed !== undefined) return { topic: fixed };
        if (isValidTopic(tag)) return { topic: tag };
        const mapped = refuse ? null : tagToTopic(tag);
        if (mapped === null) {
          return { refuse: `tag ${JSON.stringify(tag.length > 80 ? `${tag.slice(0, 80)}…` : tag)} is not a valid topic name${refuse ? ' (invalid_tags: refuse)' : ' and cannot be mapped to one'}` };
        }
        return { topic: mapped };
      },
      refusedPauseMs: REFUSED_PAUSE_MS,
      warn: (message, fields) => this.#warn(message, fields),
      stats: this.stats,
      signal: this.#stop.signal,
    };
  }

  /** The bound port (useful with `:0`). */
  get port(): number {
    return this.#port;
  }

  /** Connections and closures, for `/metrics` and the sources API. */
  network(): SourceNetworkStats {
    return { connections: this.#guard.open, closed: { ...this.#guard.closed, handshake: this.#guard.closed.handshake + this.stats.handshakeTimeouts } };
  }

  async start(): Promise<void> {
    const onSocket = (socket: Socket) => {
      if (!this.#config.tls && !this.#guard.admit(socket)) return;
      this.#accept(socket);
    };
    const server = this.#config.tls
      ? createTlsServer({ ...tlsOptions(this.#config.tls), handshakeTimeout: toMs(this.#config.handshake_timeout) }, onSocket).on('tlsClientError', (error, socket) => this.#guard.tlsFailed(error, socket))
      : createTcpServer(onSocket);
    // With TLS the per-peer limit is checked on the raw socket, before the handshake costs anything.
    if (this.#config.tls) server.on('connection', (socket: Socket) => this.#guard.admit(socket));
    server.maxConnections = this.#config.max_connections;
    server.on('drop', (data?: { remoteAddress?: string }) => this.#guard.noteFull(data?.remoteAddress, this.#config.max_connections));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(`sources.${this.#ctx.name}.listen`, this.#address, error)));
      server.listen({ host: this.#address.host, port: this.#address.port }, () => resolve());
    });
    server.on('error', (error) => this.#ctx.log.error({ err: errorMessage(error) }, `source "${this.#ctx.name}": forward server error`));
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
    // The first prune waits a whole interval: after a long outage, edges retry first.
    const interval = Math.min(3_600_000, Math.max(1000, Math.floor(this.#windowMs / 24)));
    this.#pruneTimer = setInterval(() => this.pruneChunkIds(), interval);
    this.#pruneTimer.unref();
  }

  endpoints(): string[] {
    const host = this.#address.host.includes(':') ? `[${this.#address.host}]` : this.#address.host;
    const auth = this.#config.shared_key ? ` (shared key${this.#config.users.length > 0 ? ' and users' : ''})` : '';
    return [`${this.#config.tls ? 'tls' : 'tcp'}://${host}:${this.#port || this.#address.port}${auth}`];
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    this.#guard.stop();
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    // Stop reading; frames already read are stored and acknowledged (or given up if the channel stays full).
    for (const c of this.#connections) c.pause();
    const grace = setTimeout(() => this.#stop.abort(), 5000);
    await Promise.allSettled([...this.#connections].map((c) => c.idle));
    clearTimeout(grace);
    for (const c of this.#connections) c.destroy();
    await closed;
  }

  /** Forgets chunk ids older than `dedupe_window`; returns how many. */
  pruneChunkIds(now = Date.now()): number {
    try {
      const n = this.#ctx.channel.pruneState(CHUNK_NAMESPACE, now - this.#windowMs);
      if (n > 0) this.#ctx.log.debug({ pruned: n }, `forward: forgot ${n} chunk ids older than ${this.#config.dedupe_window}`);
      return n;
    } catch (error) {
      this.#ctx.log.warn({ err: errorMessage(error) }, `source "${this.#ctx.name}": pruning forward chunk ids failed: ${errorMessage(error)}`);
      return 0;
    }
  }

  #accept(socket: Socket): void {
    if (!this.#server || socket.destroyed) {
      socket.destroy();
      return;
    }
    this.stats.connections++;
    const connection = new ForwardConnection(socket, this.#settings);
    this.#connections.add(connection);
    this.#guard.track({ socket, partial: () => connection.partial, frames: () => connection.progress });
    socket.on('close', () => this.#connections.delete(connection));
  }

  #warn(message: string, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (now - this.#warnWindowStart >= WARN_WINDOW_MS) {
      if (this.#suppressed > 0) {
        this.#ctx.log.warn({ suppressed: this.#suppressed }, `forward: ${this.#suppressed} more connection warnings in the last ${WARN_WINDOW_MS / 1000}s were not logged`);
      }
      this.#warnWindowStart = now;
      this.#warnings = 0;
      this.#suppressed = 0;
    }
    if (this.#warnings < WARN_BURST) {
      this.#warnings++;
      this.#ctx.log.warn(fields, message);
    } else {
      this.#suppressed++;
    }
  }
}

function usersProblem(config: ForwardSourceConfig, path: string): ConfigProblem | null {
  if (config.users.length > 0 && !config.shared_key) {
    return { path: `${path}.users`, message: 'users need shared_key: the username/password check is part of the shared-key handshake' };
  }
  return null;
}

async function preflight(config: ForwardSourceConfig, path: string): Promise<ConfigProblem[]> {
  const problems = [...checkTlsFiles(config.tls, path)];
  const users = usersProblem(config, path);
  if (users) problems.push(users);
  problems.push(...(await checkPortFree(parseListen(config.listen), `${path}.listen`)));
  return problems;
}

export const forwardSource: SourceSpec<typeof ForwardConfig> = {
  kind: 'source',
  name: 'forward',
  summary: 'Receives the Fluent Forward protocol (Sluice edges, Fluent Bit, fluentd, Docker, fluent-logger) over TCP or TLS, with acks after commit',
  config: ForwardConfig,
  examples: [
    { title: 'Defaults: a hub on 127.0.0.1:24224, tag = topic', config: { listen: '127.0.0.1:24224' } },
    {
      title: 'A hub for remote edges: TLS, shared key and users',
      config: {
        listen: '0.0.0.0:24224',
        tls: { cert: '/etc/sluice/hub.pem', key: '/etc/sluice/hub-key.pem' },
        shared_key: 'change-me-long-random',
        self_hostname: 'hub-1',
        users: [{ username: 'edge', password: 'edge-secret' }],
      },
    },
    { title: 'Docker containers\' logs into one topic, tags kept in a header', config: { listen: '127.0.0.1:24225', topic: 'docker', max_frame_bytes: '4MiB' } },
  ],
  create: (config, ctx) => new ForwardSource(config, ctx),
  preflight,
};
