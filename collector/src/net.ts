/** Listen addresses, TLS options and port checks shared by every network listener. */
import { Type } from '@sinclair/typebox';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList, createServer, isIP, Server as NetServer, type Socket } from 'node:net';
import tcpPortUsed from 'tcp-port-used';
import { EXPECTED, type ConfigProblem } from '../../shared/src/spec.ts';
import { LISTEN_EXPECTED, LISTEN_PATTERN } from './units.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

export const ListenSchema = (defaultValue: string, description: string) =>
  Type.String({ pattern: LISTEN_PATTERN, [EXPECTED]: LISTEN_EXPECTED, default: defaultValue, description: `${description} (host:port)` });

export const TlsSchema = Type.Optional(
  Type.Object(
    {
      cert: Type.String({ description: 'PEM certificate chain file' }),
      key: Type.String({ description: 'PEM private key file' }),
      ca: Type.Optional(Type.String({ description: 'PEM CA file: when set, clients must present a certificate signed by it' })),
    },
    { additionalProperties: false, description: 'TLS for this listener' },
  ),
);

export interface TlsConfig {
  cert: string;
  key: string;
  ca?: string;
}

export function parseListen(value: string): ListenAddress {
  const i = value.lastIndexOf(':');
  let host = value.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(value.slice(i + 1)) };
}

/**
 * Whether a host is a loopback address, decided on the parsed address only: an IPv4 address in
 * 127.0.0.0/8, the IPv6 `::1` (any spelling) or an IPv4-mapped 127.x address, or the literal
 * name `localhost`. Any other name is not loopback, however it starts (`127.0.0.1.nip.io`,
 * `127.evil.example`): a name can resolve, or be rebound, to anything.
 */
export function isLoopback(host: string): boolean {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost') return true;
  const zone = h.indexOf('%');
  if (zone !== -1) h = h.slice(0, zone);
  const family = isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/** 127.0.0.0/8 and ::1; node's BlockList also matches IPv4-mapped IPv6 (`::ffff:127.0.0.1`). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Node TLS options from a TlsConfig (files read now, so a missing file fails at start). */
export function tlsOptions(tls: TlsConfig): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean } {
  return {
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    ...(tls.ca ? { ca: readFileSync(tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Problems with a TLS block: files that cannot be read, a certificate without its key. */
export function checkTlsFiles(tls: Partial<TlsConfig> | undefined, path: string): ConfigProblem[] {
  if (!tls) return [];
  const problems: ConfigProblem[] = [];
  if (Boolean(tls.cert) !== Boolean(tls.key)) problems.push({ path: `${path}.tls`, message: 'cert and key go together' });
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = tls[key];
    if (!file) continue;
    try {
      readFileSync(file);
    } catch (error) {
      problems.push({ path: `${path}.tls.${key}`, message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    }
  }
  if (problems.length === 0) problems.push(...checkTlsContents(tls, path));
  return problems;
}

/** Files that are readable but not what they should be: found by `sluice check`, not at start. */
function checkTlsContents(tls: Partial<TlsConfig>, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  let cert: X509Certificate | undefined;
  let key: KeyObject | undefined;
  for (const which of ['ca', 'cert'] as const) {
    const file = tls[which];
    if (!file) continue;
    try {
      const parsed = new X509Certificate(readFileSync(file));
      if (which === 'cert') cert = parsed;
    } catch {
      problems.push({ path: `${path}.tls.${which}`, message: `${file} is not a PEM certificate (expected a "-----BEGIN CERTIFICATE-----" block)` });
    }
  }
  if (tls.key) {
    try {
      key = createPrivateKey(readFileSync(tls.key));
    } catch {
      problems.push({ path: `${path}.tls.key`, message: `${tls.key} is not a PEM private key (expected a "-----BEGIN … PRIVATE KEY-----" block, not encrypted)` });
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) problems.push({ path: `${path}.tls.key`, message: `${tls.key} is not the private key of the certificate ${tls.cert}` });
  return problems;
}

/** The address to connect to for "is something listening on host:port?": a wildcard means this machine. */
function probeHost(host: string): string | null {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return isLoopback(host) ? host : null;
}

/**
 * Whether a TCP port can be bound on host. First asks tcp-port-used whether something already
 * listens there (a connect, on this machine's own addresses only: a connect to another address
 * could wait for a network timeout), the common case, said plainly; then tries to bind it and
 * releases it, which also catches what a connect cannot see (no permission, not an address of
 * this machine, a port bound but not listening).
 */
export async function checkPortFree(address: ListenAddress, path: string): Promise<ConfigProblem[]> {
  if (address.port === 0) return [];
  const probe = probeHost(address.host);
  if (probe !== null && (await tcpPortUsed.check(address.port, probe).catch(() => false))) {
    return [{ path, message: `port ${address.port} already in use` }];
  }
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EADDRINUSE'
          ? `port ${address.port} already in use`
          : error.code === 'EADDRNOTAVAIL'
            ? `address ${address.host} is not an address of this machine`
            : error.code === 'EACCES'
              ? `no permission to listen on port ${address.port}`
              : `cannot listen on ${address.host}:${address.port}: ${error.message}`;
      resolve([{ path, message: why }]);
    });
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => server.close(() => resolve([])));
  });
}

/** A listen error as the message a user sees. */
export function listenError(path: string, address: ListenAddress, error: NodeJS.ErrnoException): Error {
  const why = error.code === 'EADDRINUSE' ? `port ${address.port} already in use` : `cannot listen on ${address.host}:${address.port}: ${error.message}`;
  return new Error(`${path}: ${why}`);
}

/**
 * The open connections of a listener, for a stop in which every request a client sent gets an
 * answer (issue #12 item 13). http.Server#close() has, since Node 19, closed idle keep-alive
 * connections at once — and a connection is idle between an answer and the client's next
 * request, so requests being sent at that moment were reset. Instead, at stop:
 * `stopAccepting()` (new connections are refused, so nothing is sent on them), answer what still
 * arrives on open connections with `Connection: close` (handlers ask `closing`), `drain(graceMs)`
 * until the clients have left or the grace ran out; only then close what is idle.
 */
export class ConnectionTracker {
  readonly #sockets = new Set<Socket>();
  readonly #server: NetServer;
  #closing = false;
  #closed: Promise<void> | null = null;

  constructor(server: NetServer) {
    this.#server = server;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** True once the stop began: answers should carry `Connection: close`. */
  get closing(): boolean {
    return this.#closing;
  }

  get open(): number {
    return this.#sockets.size;
  }

  /** Stops listening (net.Server#close, without http.Server#close's sweep of idle connections); resolves once every connection ended. */
  stopAccepting(): Promise<void> {
    this.#closing = true;
    this.#closed ??= new Promise<void>((resolve) => NetServer.prototype.close.call(this.#server, () => resolve()));
    return this.#closed;
  }

  /** Waits until every connection ended or `graceMs` passed. */
  async drain(graceMs: number): Promise<void> {
    const end = Date.now() + graceMs;
    while (this.#sockets.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }
}
