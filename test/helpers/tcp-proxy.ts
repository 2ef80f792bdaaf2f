/**
 * A TCP proxy that stands in for the network between two real peers: it passes bytes both ways,
 * and can swallow what the server answers (acks lost on the way back) or cut every connection.
 * Nothing about the peers is simulated.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  /** While true, bytes from the server are read and dropped: the client never sees them. */
  swallowResponses = false;
  /** Bytes swallowed so far. */
  swallowed = 0;
  /** Bytes passed from the client to the server. */
  forwarded = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #target: { host: string; port: number };

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (client) => this.#pipe(client));
  }

  static async start(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** Points new connections elsewhere (e.g. a restarted server on another port). */
  retarget(target: { host: string; port: number }): void {
    this.#target = target;
  }

  /** Cuts every open connection, both sides at once. */
  cutAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  get connections(): number {
    return this.#sockets.size / 2;
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #pipe(client: Socket): void {
    const server = connect(this.#target);
    this.#sockets.add(client);
    this.#sockets.add(server);
    client.setNoDelay(true);
    server.setNoDelay(true);
    const close = () => {
      client.destroy();
      server.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(server);
    };
    client.on('data', (chunk: Buffer) => {
      this.forwarded += chunk.length;
      if (!server.write(chunk)) {
        client.pause();
        server.once('drain', () => client.resume());
      }
    });
    server.on('data', (chunk: Buffer) => {
      if (this.swallowResponses) {
        this.swallowed += chunk.length;
        return;
      }
      if (!client.write(chunk)) {
        server.pause();
        client.once('drain', () => server.resume());
      }
    });
    for (const s of [client, server]) {
      s.on('error', close);
      s.on('close', close);
      s.on('end', close);
    }
  }
}
