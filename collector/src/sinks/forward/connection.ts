/**
 * One connection from a forward sink to a forward server: TCP or TLS, the optional shared-key
 * handshake, and acks matched to the chunks written. Several chunks may be in flight; a server
 * acknowledges them in order (a Sluice hub stores one frame of a connection after another), but
 * acks are matched by chunk id, so any order is accepted.
 *
 * Every failure is a retriable SluiceError naming the server (the runner backs off and the sink
 * reconnects); after one, the connection is unusable and every chunk in flight is rejected.
 */
import { createHash, getRandomValues } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectOptions } from 'node:tls';
import { ErrorCodes, errorMessage, SluiceError } from '../../../../shared/src/errors.ts';
import {
  checkPong,
  createPing,
  createResponseDecoder,
  createSalt,
  encodePing,
  type ForwardDecoder,
  type PingFrame,
  type ResponseFrame,
} from '../../../../shared/src/protocol/forward/index.ts';

const sha512Hex = (data: Uint8Array): string => createHash('sha512').update(data).digest('hex');

export interface ServerAddress {
  host: string;
  port: number;
}

export interface Credentials {
  hostname: string;
  sharedKey: string;
  username?: string;
  password?: string;
}

export interface ConnectOptions {
  /** For messages: `sink "hub"`. */
  who: string;
  connectTimeoutMs: number;
  /** TLS options (servername, ca, cert, key, rejectUnauthorized); undefined: plain TCP. */
  tls?: TlsConnectOptions;
  /** With a shared key the server must open with HELO and accept our PING. */
  credentials?: Credentials;
}

interface Waiter {
  resolve(): void;
  reject(error: SluiceError): void;
  timer: NodeJS.Timeout;
}

const CONNECTION_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused by',
  ECONNRESET: 'connection reset by',
  EPIPE: 'connection closed by',
  ECONNABORTED: 'connection aborted by',
  EHOSTUNREACH: 'no route to',
  ENETUNREACH: 'network unreachable for',
  ETIMEDOUT: 'connection timed out to',
};

export function formatServer(s: ServerAddress): string {
  return `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
}

export class ServerConnection {
  readonly server: string;
  readonly #socket: Socket;
  readonly #who: string;
  readonly #decoder: ForwardDecoder<ResponseFrame> = createResponseDecoder({ maxFrameBytes: 1024 * 1024 });
  readonly #waiters = new Map<string, Waiter>();
  #failure: SluiceError | null = null;
  /** During the handshake: who gets the next HELO / PONG, and what came before anyone asked. */
  #handshakeWaiter: { resolve(frame: ResponseFrame): void; reject(error: SluiceError): void } | null = null;
  #handshaking = false;
  /** The server closed or reset the connection (not us, not a timeout). */
  #closedByPeer = false;
  readonly #early: ResponseFrame[] = [];
  /**
   * The Sluice level the server's acks announced (0: none, not a Sluice hub): 1 — it stores
   * `_sluice_body` records verbatim; 2 — it also takes stored record batches as they are.
   */
  sluiceLevel = 0;

  /** The server's acks said it is a Sluice hub: it stores `_sluice_body` records verbatim. */
  get sluiceHub(): boolean {
    return this.sluiceLevel >= 1;
  }

  private constructor(socket: Socket, server: string, who: string) {
    this.#socket = socket;
    this.server = server;
    this.#who = who;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.#failure === null && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) this.#closedByPeer = true;
      this.#fail(this.#connectionError(error));
    });
    socket.on('close', () => {
      this.#closedByPeer = this.#failure === null;
      this.#fail(this.#error(`connection closed by ${this.server} before every chunk was acknowledged`));
    });
  }

  /** Connects (and passes the handshake when credentials are given), or rejects with a retriable error. */
  static async open(address: ServerAddress, options: ConnectOptions): Promise<ServerConnection> {
    const server = formatServer(address);
    const socket = options.tls
      ? tlsConnect({ host: address.host, port: address.port, servername: isIp(address.host) ? undefined : address.host, ...options.tls })
      : netConnect({ host: address.host, port: address.port });
    const ready = options.tls ? 'secureConnect' : 'connect';
    const errorOf = (error: NodeJS.ErrnoException) => connectionError(options.who, server, error);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${options.who}: connection timed out to ${server} (${options.connectTimeoutMs} ms)`, { retriable: true, where: server }));
      }, options.connectTimeoutMs);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve();
      });
      const onError = (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(errorOf(error));
      };
      socket.once('error', onError);
    });
    const connection = new ServerConnection(socket, server, options.who);
    if (options.credentials) {
      connection.#handshaking = true;
      try {
        await connection.#handshake(options.credentials, options.connectTimeoutMs);
      } catch (error) {
        connection.close();
        throw error;
      } finally {
        connection.#handshaking = false;
      }
    }
    return connection;
  }

  get usable(): boolean {
    return this.#failure === null;
  }

  /**
   * Writes a frame (one buffer, or its parts in order) and resolves on `{ack: chunk}`; rejects on
   * timeout or connection loss (then the connection is closed).
   */
  request(frame: Uint8Array | readonly Uint8Array[], chunk: string, ackTimeoutMs: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(this.#error(`no ack from ${this.server} within ${ackTimeoutMs} ms`));
      }, ackTimeoutMs);
      this.#waiters.set(chunk, { resolve, reject, timer });
      if (frame instanceof Uint8Array) this.#socket.write(frame);
      else {
        this.#socket.cork();
        for (const part of frame) this.#socket.write(part);
        this.#socket.uncork();
      }
    });
  }

  /** Writes a frame (one buffer, or its parts in order) and resolves once it was handed to the OS (require_ack: false). */
  write(frame: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const parts = frame instanceof Uint8Array ? [frame] : frame;
    return new Promise<void>((resolve, reject) => {
      this.#socket.cork();
      for (let i = 0; i < parts.length - 1; i++) this.#socket.write(parts[i]);
      this.#socket.write(parts[parts.length - 1], (error) => (error ? reject(this.#failure ?? this.#connectionError(error)) : resolve()));
      this.#socket.uncork();
    });
  }

  close(): void {
    this.#fail(this.#error(`connection to ${this.server} closed by the sink`));
  }

  async #handshake(credentials: Credentials, timeoutMs: number): Promise<void> {
    const helo = await this.#next(timeoutMs, 'HELO (is shared_key set on the server?)');
    if (helo.kind !== 'helo') throw this.#error(`expected HELO from ${this.server}, got ${helo.kind.toUpperCase()}`);
    const salt = createSalt(getRandomValues(new Uint8Array(16)));
    const ping: PingFrame = createPing(
      helo,
      { hostname: credentials.hostname, sharedKey: credentials.sharedKey, salt, username: credentials.username, password: credentials.password },
      sha512Hex,
    );
    this.#socket.write(encodePing(ping));
    let pong: ResponseFrame;
    try {
      pong = await this.#next(timeoutMs, 'PONG');
    } catch (error) {
      // Fluent Bit closes without a PONG when it refuses a PING (its log says why).
      if (this.#closedByPeer) {
        throw this.#refused(`it closed the connection after our PING without answering PONG (a wrong shared_key, or a user it does not know; its log says which)`);
      }
      throw error;
    }
    if (pong.kind !== 'pong') throw this.#error(`expected PONG from ${this.server}, got ${pong.kind.toUpperCase()}`);
    if (!pong.authResult) throw this.#refused(pong.reason || 'no reason given');
    const result = checkPong(pong, ping, helo, credentials.sharedKey, sha512Hex);
    if (!result.ok) throw this.#refused(result.reason);
  }

  /** A handshake the server refused (or failed on our side): named as such in logs and the sink's state. */
  #refused(reason: string): SluiceError {
    return new SluiceError(
      ErrorCodes.UNAUTHORIZED,
      `${this.#who}: ${this.server} refused the shared_key handshake: ${reason} (check shared_key, self_hostname, username and password on both sides)`,
      { retriable: true, where: this.server },
    );
  }

  /** The next handshake frame (HELO, PONG), or the connection's failure. */
  #next(timeoutMs: number, what: string): Promise<ResponseFrame> {
    const early = this.#early.shift();
    if (early) return Promise.resolve(early);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<ResponseFrame>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(this.#error(`no ${what} from ${this.server} within ${timeoutMs} ms`)), timeoutMs);
      this.#handshakeWaiter = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  #onData(chunk: Buffer): void {
    let frames: ResponseFrame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#fail(this.#error(`${this.server} sent something that is not a forward response: ${errorMessage(error)}`));
      return;
    }
    for (const frame of frames) {
      if (frame.kind === 'ack') {
        if (frame.sluice !== undefined && frame.sluice > this.sluiceLevel) this.sluiceLevel = frame.sluice;
        const waiter = this.#waiters.get(frame.chunk);
        if (!waiter) continue; // an ack for a chunk we gave up on
        this.#waiters.delete(frame.chunk);
        clearTimeout(waiter.timer);
        waiter.resolve();
      } else if (this.#handshaking) {
        const waiter = this.#handshakeWaiter;
        this.#handshakeWaiter = null;
        if (waiter) waiter.resolve(frame);
        else this.#early.push(frame);
      } else if (frame.kind === 'helo') {
        this.#fail(this.#error(`${this.server} asks for the shared-key handshake (HELO): set shared_key on this sink`));
        return;
      } else {
        this.#fail(this.#error(`${this.server} sent an unexpected ${frame.kind.toUpperCase()}`));
        return;
      }
    }
  }

  #fail(error: SluiceError): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#socket.destroy();
    for (const waiter of this.#waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#waiters.clear();
    const handshake = this.#handshakeWaiter;
    this.#handshakeWaiter = null;
    handshake?.reject(error);
  }

  #error(message: string): SluiceError {
    return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${this.#who}: ${message}`, { retriable: true, where: this.server });
  }

  #connectionError(error: NodeJS.ErrnoException): SluiceError {
    return connectionError(this.#who, this.server, error);
  }
}

function connectionError(who: string, server: string, error: NodeJS.ErrnoException): SluiceError {
  const code = error.code ?? '';
  let why: string;
  if (CONNECTION_ERRORS[code]) why = `${CONNECTION_ERRORS[code]} ${server}`;
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') why = `cannot resolve ${server} (${code})`;
  else if (/CERT|SSL|TLS|self[- ]signed|certificate/i.test(`${code} ${error.message}`)) {
    why = `TLS with ${server} failed: ${error.message} (set tls.ca to the CA that signed the server's certificate)`;
  } else why = `connection to ${server} failed: ${error.message}${code ? ` (${code})` : ''}`;
  return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${who}: ${why}`, { retriable: true, cause: error, where: server });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
