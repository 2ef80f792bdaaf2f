/**
 * Test support for sinks: a real HTTP receiver that can be told to fail in the ways servers do
 * (status codes, closed connections, no answer), and a SinkContext whose `createSink` builds
 * members through the registry as the runtime does. Not used in production code.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { validateConfig } from '../../../shared/src/spec.ts';
import type { Sink, SinkContext } from '../components.ts';
import { silentLogger } from '../log.ts';
import { builtinRegistries } from '../builtins.ts';
import { scaled } from '../../../test/helpers/children.ts';

/** What the receiver does with one request. */
export type Behaviour =
  | 'ok'
  /** Reads the request, then destroys the connection without answering. */
  | 'close'
  /** Reads the request and never answers. */
  | 'hang'
  | { status: number; headers?: Record<string, string>; body?: string };

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The body after gunzip when Content-Encoding is gzip. */
  body: Buffer;
  /** NDJSON lines or JSON array items, parsed. */
  items: unknown[];
}

export class Receiver {
  /** Requests answered 2xx (the ones the sink may count as delivered), in arrival order. */
  readonly accepted: ReceivedRequest[] = [];
  /** Every request, whatever the answer. */
  readonly seen: ReceivedRequest[] = [];
  /** Behaviour per request, consumed in order; `ok` when empty. */
  script: Behaviour[] = [];
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly protocol: 'http' | 'https';

  private constructor(server: http.Server, protocol: 'http' | 'https') {
    this.#server = server;
    this.protocol = protocol;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.#handle(req, res));
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('secureConnection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(options: { port?: number; tls?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<Receiver> {
    const server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }) : http.createServer();
    const receiver = new Receiver(server, options.tls ? 'https' : 'http');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    return receiver;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  url(path = '/ingest'): string {
    return `${this.protocol}://127.0.0.1:${this.port}${path}`;
  }

  /** Items of every accepted request, in order. */
  items<T = Record<string, unknown>>(): T[] {
    return this.accepted.flatMap((r) => r.items as T[]);
  }

  /** Stops listening and cuts every open connection (a server that dies). */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const text = body.toString('utf8');
      const type = req.headers['content-type'] ?? '';
      const items = type.includes('ndjson')
        ? text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown)
        : text && !type.includes('protobuf')
          ? (JSON.parse(text) as unknown[])
          : [];
      const request: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, items };
      this.seen.push(request);
      const behaviour = this.script.shift() ?? 'ok';
      if (behaviour === 'close') {
        req.socket.destroy();
        return;
      }
      if (behaviour === 'hang') return;
      if (behaviour === 'ok') {
        this.accepted.push(request);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      if (behaviour.status >= 200 && behaviour.status < 300) this.accepted.push(request);
      res.writeHead(behaviour.status, behaviour.headers ?? {}).end(behaviour.body ?? '');
    });
  }
}

const { sinks } = builtinRegistries();

/** A SinkContext for tests; `createSink` validates members against the built-in sinks, as the runtime does. */
export function testSinkContext(name: string, signal: AbortSignal = new AbortController().signal): SinkContext {
  return {
    name,
    log: silentLogger,
    signal,
    collectorId: 'edge-1',
    createSink(config: Record<string, unknown>, path: string, memberName: string): Sink {
      const { type, ...rest } = config;
      const spec = sinks.get(String(type));
      if (!spec) throw new SluiceError(ErrorCodes.CONFIG_INVALID, `${path}.type: unknown sink type "${String(type)}"`);
      const { value, problems } = validateConfig(spec.config, rest, path);
      if (!value) throw new SluiceError(ErrorCodes.CONFIG_INVALID, problems.map((p) => `${p.path}: ${p.message}`).join('; '));
      return spec.create(value, testSinkContext(memberName, signal));
    },
  };
}

/** Builds a registered sink from `{ type, ...config }` with defaults filled in. */
export function buildSink(config: Record<string, unknown>, name = 'test', signal?: AbortSignal): Sink {
  return testSinkContext(name, signal).createSink(config, `sinks.${name}`, name);
}

/** Polls until `check` holds. */
export async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + scaled(timeoutMs);
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${scaled(timeoutMs)}ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
