/**
 * The syslog source: RFC 5424 and RFC 3164 (parse.ts) over UDP, TCP (RFC 6587 framing,
 * framing.ts) and TLS (RFC 5425). One event per message: body = the MSG text (`text/plain`),
 * the rest in headers (see docs/sources.md):
 *   syslog.format    rfc5424 | rfc3164 | none (no PRI: facility user, severity notice)
 *   syslog.facility  kern, user, …, local7        syslog.severity  emerg … debug
 *   syslog.host, syslog.app, syslog.procid, syslog.msgid   when the message has them
 *   syslog.sd.<SD-ID>.<PARAM>                               RFC 5424 structured data
 *   syslog.peer      the sender's IP address
 * Event time: the message's timestamp when it has one (`timestamp: message`), else arrival.
 *
 * Back-pressure: TCP stops reading a connection while its batch is being committed and while
 * the channel refuses (retrying with backoff), so senders block instead of losing messages.
 * UDP cannot push back: datagrams the channel refuses are dropped and counted.
 */
import { Type, type Static } from '@sinclair/typebox';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, isIPv6, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { ErrorCodes, errorMessage, isRetriable, isSluiceError } from '../../../../shared/src/errors.ts';
import { ContentTypes, TOPIC_PATTERN, type EventDraft, type Headers } from '../../../../shared/src/event.ts';
import { formatBytes } from '../../../../shared/src/format.ts';
import type { ConfigProblem } from '../../../../shared/src/spec.ts';
import type { Source, SourceContext, SourceNetworkStats, SourceSpec } from '../../components.ts';
import { Duration, Size, toBytes, toMs } from '../../units.ts';
import { checkPortFree, checkTlsFiles, ListenSchema, listenError, parseListen, TlsSchema, tlsOptions, type ListenAddress } from '../../net.ts';
import { Backoff, sleep } from '../../retry.ts';
import { ConnectionGuard } from '../connection-guard.ts';
import { SyslogFramer } from './framing.ts';
import { FACILITIES, parseSyslog, SEVERITIES } from './parse.ts';
import { rmemMax, udpKernelDrops } from './udp-drops.ts';

const SyslogConfig = Type.Object(
  {
    listen: ListenSchema('127.0.0.1:5514', 'Address to listen on, for every protocol'),
    protocols: Type.Array(Type.Union([Type.Literal('udp'), Type.Literal('tcp')]), {
      default: ['udp', 'tcp'],
      minItems: 1,
      uniqueItems: true,
      description: 'Transports to accept on `listen`; with `tls`, tcp means TLS (RFC 5425)',
    }),
    topic: Type.String({ pattern: TOPIC_PATTERN.source, default: 'syslog', description: 'Topic of every event' }),
    tls: TlsSchema,
    framing: Type.Union([Type.Literal('auto'), Type.Literal('octet_counting'), Type.Literal('newline')], {
      default: 'auto',
      description: 'TCP framing (RFC 6587): auto-detected per message, or forced',
    }),
    max_message_bytes: Type.Integer({ minimum: 64, default: 65536, description: 'Longer messages are truncated to this many bytes' }),
    max_connections: Type.Integer({ minimum: 1, default: 1000, description: 'TCP connections accepted at once; more are refused' }),
    max_connections_per_peer: Type.Integer({
      minimum: 1,
      default: 100,
      description: 'TCP connections one remote IP address may hold at once; more from it are refused, so one peer cannot take every slot',
    }),
    idle_timeout: Duration('Close a TCP connection that has sent nothing for this long (0: never); senders reconnect on their own', '10m'),
    frame_timeout: Duration('Close a TCP connection that holds an incomplete message this long without completing one (0: never)', '30s'),
    handshake_timeout: Duration('With tls: close a connection whose TLS handshake has not finished within this long', '10s'),
    timestamp: Type.Union([Type.Literal('message'), Type.Literal('received')], {
      default: 'message',
      description: "Event time: the message's own timestamp (arrival time when it has none), or arrival time",
    }),
    udp_receive_buffer_bytes: Size(
      'SO_RCVBUF asked for the UDP socket: a burst larger than this is dropped by the kernel (counted). Linux caps it at net.core.rmem_max; what was granted is logged at start and shown in /metrics (0: the kernel default)',
      '8MiB',
    ),
  },
  { additionalProperties: false },
);

export type SyslogSourceConfig = Static<typeof SyslogConfig>;

/** Events per ingest call, and UDP events allowed to wait for the channel before datagrams are dropped. */
const MAX_BATCH = 2000;
const UDP_MAX_QUEUED = 20_000;

export class SyslogSource implements Source {
  readonly #config: SyslogSourceConfig;
  readonly #ctx: SourceContext;
  readonly #address: ListenAddress;
  readonly #stop = new AbortController();
  readonly #connections = new Set<Socket>();
  readonly #inFlight = new Set<Promise<void>>();
  #tcp: Server | null = null;
  #udp: UdpSocket | null = null;
  #tcpPort = 0;
  #udpPort = 0;
  #udpQueue: EventDraft[] = [];
  #udpQueued = 0;
  #udpFlushScheduled = false;
  #lastDropLog = 0;
  #lastTruncLog = 0;
  /** udpDropped: every UDP message lost — in the kernel (receive buffer full), our queue, or refused by the channel. */
  readonly stats = { udpDropped: 0, truncated: 0, connections: 0 };
  readonly #udpLost = { kernel: 0, queue: 0, channel: 0 };
  #udpBufferBytes = 0;
  #kernelTimer: NodeJS.Timeout | null = null;
  readonly #guard: ConnectionGuard;

  constructor(config: SyslogSourceConfig, ctx: SourceContext) {
    const problem = tlsUdpProblem(config, `sources.${ctx.name}`);
    if (problem) throw new Error(`${problem.path}: ${problem.message}`);
    this.#config = config;
    this.#ctx = ctx;
    this.#address = parseListen(config.listen);
    ctx.signal.addEventListener('abort', () => this.#stop.abort(), { once: true });
    this.#guard = new ConnectionGuard({
      who: `source "${ctx.name}"`,
      idleTimeoutMs: toMs(config.idle_timeout),
      frameTimeoutMs: toMs(config.frame_timeout),
      maxPerPeer: config.max_connections_per_peer,
      log: ctx.log,
    });
  }

  /** Connections, closures and UDP losses, for `/metrics` and the sources API. */
  network(): SourceNetworkStats {
    const out: SourceNetworkStats = { connections: this.#guard.open, closed: { ...this.#guard.closed } };
    if (this.#udp || this.#udpBufferBytes > 0) {
      this.#readKernelDrops();
      out.udpDropped = { ...this.#udpLost };
      out.udpReceiveBufferBytes = this.#udpBufferBytes;
    }
    return out;
  }

  get tcpPort(): number {
    return this.#tcpPort;
  }

  get udpPort(): number {
    return this.#udpPort;
  }

  async start(): Promise<void> {
    const where = `sources.${this.#ctx.name}.listen`;
    try {
      if (this.#config.protocols.includes('tcp')) await this.#startTcp(where);
      // With port 0, UDP takes the port TCP got, so one address serves both.
      if (this.#config.protocols.includes('udp')) await this.#startUdp(where);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  endpoints(): string[] {
    const host = this.#address.host.includes(':') ? `[${this.#address.host}]` : this.#address.host;
    const out: string[] = [];
    if (this.#tcp) out.push(`${this.#config.tls ? 'tls' : 'tcp'}://${host}:${this.#tcpPort}`);
    if (this.#udp) out.push(`udp://${host}:${this.#udpPort}`);
    return out;
  }

  async stop(): Promise<void> {
    const tcp = this.#tcp;
    const udp = this.#udp;
    this.#tcp = null;
    this.#udp = null;
    this.#guard.stop();
    if (this.#kernelTimer) clearInterval(this.#kernelTimer);
    const closed = tcp ? new Promise<void>((r) => tcp.close(() => r())) : Promise.resolve();
    if (udp) {
      this.#readKernelDrops(udp);
      await new Promise<void>((r) => udp.close(() => r()));
      this.#flushUdp();
    }
    // Connections stop reading; what was read is committed (or given up if the channel stays full).
    for (const socket of this.#connections) socket.pause();
    const grace = setTimeout(() => this.#stop.abort(), 5000);
    await Promise.allSettled([...this.#inFlight]);
    clearTimeout(grace);
    for (const socket of this.#connections) socket.destroy();
    await closed;
  }

  // ─── TCP / TLS ────────────────────────────────────────────────────────────────────────────

  async #startTcp(where: string): Promise<void> {
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
      server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(where, this.#address, error)));
      server.listen({ host: this.#address.host, port: this.#address.port }, () => resolve());
    });
    server.on('error', (error) => this.#ctx.log.error({ err: errorMessage(error) }, `source "${this.#ctx.name}": TCP server error`));
    this.#tcpPort = (server.address() as { port: number }).port;
    this.#tcp = server;
  }

  #accept(socket: Socket): void {
    if (socket.destroyed) return; // refused by the per-peer limit (TLS)
    this.#connections.add(socket);
    this.stats.connections++;
    socket.setKeepAlive(true, 60_000);
    const framer = new SyslogFramer({ maxMessageBytes: this.#config.max_message_bytes, mode: this.#config.framing });
    const peer = socket.remoteAddress ?? '';
    let messages = 0;
    this.#guard.track({ socket, partial: () => framer.partial, frames: () => messages });
    const deliver = (frames: Buffer[]) => {
      messages += frames.length;
      const events = this.#toEvents(frames, peer);
      if (framer.truncated > 0) {
        this.#noteTruncated(framer.truncated, framer.lastTruncatedSize, `${socket.remoteAddress}:${socket.remotePort}`);
        framer.truncated = 0;
      }
      if (events.length === 0) return;
      socket.pause();
      const done = this.#ingestTcp(events, socket).then(() => {
        if (!socket.destroyed && this.#tcp) socket.resume();
      });
      this.#inFlight.add(done);
      void done.finally(() => this.#inFlight.delete(done));
    };
    socket.on('data', (chunk: Buffer) => deliver(framer.push(chunk)));
    socket.on('end', () => deliver(framer.end()));
    socket.on('error', (error) => this.#ctx.log.debug({ err: errorMessage(error), peer }, 'syslog connection error'));
    socket.on('close', () => this.#connections.delete(socket));
  }

  /** Commits a connection's batch, retrying while the channel refuses; the socket stays paused meanwhile. */
  async #ingestTcp(events: EventDraft[], socket: Socket): Promise<void> {
    const backoff = new Backoff({ initialMs: 50, maxMs: 2000 });
    let size = MAX_BATCH;
    for (let start = 0; start < events.length; ) {
      const batch = start === 0 && events.length <= size ? events : events.slice(start, start + size);
      for (;;) {
        try {
          await this.#ctx.ingest(batch);
          backoff.reset();
          start += batch.length;
          break;
        } catch (error) {
          if (isSluiceError(error) && error.code === ErrorCodes.TOO_LARGE && batch.length > 1) {
            size = Math.max(1, batch.length >> 1); // larger than the whole channel: send it in halves
            break;
          }
          if (!isRetriable(error)) {
            this.#ctx.log.error({ err: errorMessage(error), peer: socket.remoteAddress }, `source "${this.#ctx.name}": cannot store syslog messages; closing the connection`);
            socket.destroy();
            return;
          }
          const delay = backoff.next();
          if (backoff.attempt === 1 || backoff.attempt % 20 === 0) {
            this.#ctx.log.warn({ err: errorMessage(error) }, `source "${this.#ctx.name}": channel refuses messages; pausing the connection, retrying in ${delay} ms (attempt ${backoff.attempt})`);
          }
          if (!(await sleep(delay, this.#stop.signal))) return;
        }
      }
    }
  }

  // ─── UDP ──────────────────────────────────────────────────────────────────────────────────

  async #startUdp(where: string): Promise<void> {
    const asked = toBytes(this.#config.udp_receive_buffer_bytes);
    const socket = createSocket({ type: isIPv6(this.#address.host) ? 'udp6' : 'udp4', recvBufferSize: asked });
    const port = this.#address.port === 0 && this.#tcpPort ? this.#tcpPort : this.#address.port;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error: NodeJS.ErrnoException) => reject(listenError(where, { ...this.#address, port }, error)));
      socket.bind({ address: this.#address.host, port, exclusive: true }, () => resolve());
    });
    socket.on('error', (error) => this.#ctx.log.error({ err: errorMessage(error) }, `source "${this.#ctx.name}": UDP socket error`));
    socket.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo.address));
    this.#udpPort = socket.address().port;
    this.#udp = socket;
    this.#reportBuffer(socket, asked);
    // Kernel drops are read from /proc every second (and when metrics are scraped), never per message.
    this.#kernelTimer = setInterval(() => this.#readKernelDrops(), 1000);
    this.#kernelTimer.unref();
  }

  /** Logs the receive buffer the kernel granted, with what to do when it capped the request. */
  #reportBuffer(socket: UdpSocket, asked: number): void {
    let granted = 0;
    try {
      granted = socket.getRecvBufferSize();
    } catch {
      return;
    }
    const max = rmemMax();
    // Linux doubles SO_RCVBUF for its bookkeeping and reports the doubled value: we show the size asked for.
    const usable = process.platform === 'linux' ? granted / 2 : granted;
    this.#udpBufferBytes = usable;
    if (usable + 1 < asked) {
      this.#ctx.log.warn(
        { asked, granted, rmemMax: max },
        `source "${this.#ctx.name}": UDP receive buffer: asked for ${formatBytes(asked)}, the kernel granted ${formatBytes(usable)}${max !== null ? ` (net.core.rmem_max is ${formatBytes(max)})` : ''}; bursts beyond it are dropped by the kernel (counted in /metrics). Raise it: sysctl -w net.core.rmem_max=${asked}`,
      );
    } else {
      this.#ctx.log.info({ asked, granted }, `source "${this.#ctx.name}": UDP receive buffer ${formatBytes(usable)} (as asked)`);
    }
  }

  /** Folds the kernel's drop count for our UDP socket into the counters; warns when it grew. */
  #readKernelDrops(socket = this.#udp): void {
    if (!socket) return;
    const drops = udpKernelDrops(this.#address.host, this.#udpPort);
    if (drops === null || drops <= this.#udpLost.kernel) return;
    const added = drops - this.#udpLost.kernel;
    this.#udpLost.kernel = drops;
    this.#dropUdp(added, `the kernel dropped them: the socket's receive buffer (${formatBytes(this.#udpBufferBytes)}) was full; raise udp_receive_buffer_bytes and net.core.rmem_max`, null);
  }

  #onDatagram(msg: Buffer, peer: string): void {
    if (this.#udpQueued >= UDP_MAX_QUEUED) {
      this.#dropUdp(1, 'too many messages waiting for the channel', 'queue');
      return;
    }
    const frame = msg.length > this.#config.max_message_bytes ? msg.subarray(0, this.#config.max_message_bytes) : msg;
    if (frame !== msg) this.#noteTruncated(1, msg.length, peer);
    this.#udpQueue.push(this.#toEvent(frame, peer));
    this.#udpQueued++;
    if (this.#udpQueue.length >= MAX_BATCH) this.#flushUdp();
    else if (!this.#udpFlushScheduled) {
      this.#udpFlushScheduled = true;
      setImmediate(() => this.#flushUdp());
    }
  }

  #flushUdp(): void {
    this.#udpFlushScheduled = false;
    const batch = this.#udpQueue;
    if (batch.length === 0) return;
    this.#udpQueue = [];
    const done = this.#ctx.ingest(batch).then(
      () => undefined,
      (error: unknown) => this.#dropUdp(batch.length, errorMessage(error), 'channel'),
    );
    const tracked = done.finally(() => {
      this.#udpQueued -= batch.length;
      this.#inFlight.delete(tracked);
    });
    this.#inFlight.add(tracked);
  }

  /** Counts truncated messages; logs the first of every 10 s with its size, the limit and the sender. */
  #noteTruncated(n: number, size: number, peer: string): void {
    this.stats.truncated += n;
    const now = Date.now();
    if (now - this.#lastTruncLog < 10_000) return;
    this.#lastTruncLog = now;
    const what = size > 0 ? `a message of ${size} bytes` : 'a message of more than max_message_bytes (no LF within it)';
    this.#ctx.log.warn(
      { peer, size: size > 0 ? size : undefined, max: this.#config.max_message_bytes, truncated: this.stats.truncated },
      `source "${this.#ctx.name}": ${what} from ${peer} was truncated to max_message_bytes (${this.#config.max_message_bytes}); ${this.stats.truncated} truncated so far`,
    );
  }

  /** Counts lost UDP messages (`where` null: the kernel count was already updated). */
  #dropUdp(n: number, why: string, where: 'queue' | 'channel' | null): void {
    this.stats.udpDropped += n;
    if (where) this.#udpLost[where] += n;
    const now = Date.now();
    if (now - this.#lastDropLog >= 10_000) {
      this.#lastDropLog = now;
      this.#ctx.log.warn({ dropped: this.stats.udpDropped }, `source "${this.#ctx.name}": dropping UDP syslog messages (${why}); ${this.stats.udpDropped} dropped so far — UDP cannot wait, use TCP for back-pressure`);
    }
  }

  // ─── Events ───────────────────────────────────────────────────────────────────────────────

  #toEvents(frames: Buffer[], peer: string): EventDraft[] {
    const out: EventDraft[] = new Array(frames.length);
    for (let i = 0; i < frames.length; i++) out[i] = this.#toEvent(frames[i], peer);
    return out;
  }

  #toEvent(frame: Buffer, peer: string): EventDraft {
    const now = Date.now();
    const m = parseSyslog(frame, now);
    const headers: Headers = {
      'content-type': ContentTypes.text,
      'syslog.format': m.format,
      'syslog.facility': FACILITIES[m.facility] ?? String(m.facility),
      'syslog.severity': SEVERITIES[m.severity],
    };
    if (m.host !== null) headers['syslog.host'] = m.host;
    if (m.app !== null) headers['syslog.app'] = m.app;
    if (m.procid !== null) headers['syslog.procid'] = m.procid;
    if (m.msgid !== null) headers['syslog.msgid'] = m.msgid;
    if (m.sd !== null) for (const k in m.sd) headers[`syslog.sd.${k}`] = m.sd[k];
    if (peer) headers['syslog.peer'] = peer;
    const ts = this.#config.timestamp === 'message' && m.ts !== null && Number.isFinite(m.ts) ? m.ts : now;
    return { topic: this.#config.topic, ts, key: null, headers, body: m.message };
  }
}

function tlsUdpProblem(config: SyslogSourceConfig, path: string): ConfigProblem | null {
  if (config.tls && config.protocols.includes('udp')) {
    return { path: `${path}.protocols`, message: 'tls applies to TCP only and UDP would stay plaintext: use protocols: [tcp] (and another syslog source for UDP)' };
  }
  return null;
}

async function preflight(config: SyslogSourceConfig, path: string): Promise<ConfigProblem[]> {
  const problems = [...checkTlsFiles(config.tls, path)];
  const tlsUdp = tlsUdpProblem(config, path);
  if (tlsUdp) problems.push(tlsUdp);
  const address = parseListen(config.listen);
  if (config.protocols.includes('tcp')) problems.push(...(await checkPortFree(address, `${path}.listen`)));
  if (config.protocols.includes('udp')) problems.push(...(await checkUdpPortFree(address, `${path}.listen`)));
  return problems;
}

function checkUdpPortFree(address: ListenAddress, path: string): Promise<ConfigProblem[]> {
  if (address.port === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(address.host) ? 'udp6' : 'udp4');
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      const why = error.code === 'EADDRINUSE' ? `UDP port ${address.port} already in use` : `cannot bind UDP ${address.host}:${address.port}: ${error.message}`;
      resolve([{ path, message: why }]);
    });
    socket.bind({ address: address.host, port: address.port, exclusive: true }, () => socket.close(() => resolve([])));
  });
}

export const syslogSource: SourceSpec<typeof SyslogConfig> = {
  kind: 'source',
  name: 'syslog',
  summary: 'Receives syslog (RFC 5424 and 3164, auto-detected) over UDP, TCP (octet-counted or newline-framed) and TLS',
  config: SyslogConfig,
  examples: [
    { title: 'Defaults: UDP and TCP on 127.0.0.1:5514', config: { listen: '127.0.0.1:5514', protocols: ['udp', 'tcp'] } },
    { title: 'All interfaces, TCP only, arrival time as event time', config: { listen: '0.0.0.0:514', protocols: ['tcp'], topic: 'syslog.edge', timestamp: 'received' } },
    { title: 'Syslog over TLS (RFC 5425)', config: { listen: '0.0.0.0:6514', protocols: ['tcp'], tls: { cert: '/etc/sluice/cert.pem', key: '/etc/sluice/key.pem' } } },
  ],
  create: (config, ctx) => new SyslogSource(config, ctx),
  preflight,
};

