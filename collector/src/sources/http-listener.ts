/**
 * The listener of a source that speaks HTTP (the http and otlp sources): an HTTP or HTTPS server
 * on the configured address, each request handled by the source, and a shutdown in which every
 * request a client sent gets an answer (ConnectionTracker): the listener closes, requests in
 * flight finish, requests arriving on open keep-alive connections during the grace period are
 * the source's to refuse (`stopping`), and only connections still idle after it are closed.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SourceContext } from '../components.ts';
import { ConnectionTracker, listenError, parseListen, tlsOptions, type TlsConfig } from '../net.ts';

const SHUTDOWN_GRACE_MS = 1000;

export class HttpListener {
  readonly address: ReturnType<typeof parseListen>;
  readonly #inFlight = new Set<Promise<void>>();
  #connections: ConnectionTracker | null = null;
  #server: Server | null = null;
  #stopping = false;
  #port = 0;

  constructor(
    private readonly options: { listen: string; tls?: TlsConfig; ctx: SourceContext; handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> },
  ) {
    this.address = parseListen(options.listen);
  }

  /** The bound port (useful with `:0`). */
  get port(): number {
    return this.#port;
  }

  /** True from the start of stop(): answers should refuse new work and say `Connection: close`. */
  get stopping(): boolean {
    return this.#stopping;
  }

  async start(): Promise<void> {
    const { ctx, tls } = this.options;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const p = this.options.handle(req, res);
      this.#inFlight.add(p);
      void p.finally(() => this.#inFlight.delete(p));
    };
    const server = tls ? createHttpsServer(tlsOptions(tls), handler) : createHttpServer(handler);
    server.keepAliveTimeout = 65_000;
    this.#connections = new ConnectionTracker(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(`sources.${ctx.name}.listen`, this.address, error)));
      server.listen({ host: this.address.host, port: this.address.port }, () => resolve());
    });
    server.on('error', (error) => ctx.log.error({ err: error }, `source "${ctx.name}": server error`));
    const addr = server.address();
    this.#port = typeof addr === 'object' && addr ? addr.port : this.address.port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#stopping = true;
    this.#server = null;
    const connections = this.#connections!;
    const closed = connections.stopAccepting();
    await connections.drain(SHUTDOWN_GRACE_MS);
    await Promise.allSettled([...this.#inFlight]);
    server.close(); // now http.Server#close: closes what is still idle and clears its timers
    const timer = setTimeout(() => server.closeAllConnections(), 2000);
    await closed;
    clearTimeout(timer);
  }

  /** `http(s)://host:port<path>` for the start-up banner. */
  endpoint(path: string): string {
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${this.#port || this.address.port}${path}`;
  }
}
