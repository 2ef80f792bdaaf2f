/**
 * Keeps stream listeners (syslog TCP/TLS, forward) serving real clients when others hold
 * connections without sending: one peer may hold at most `maxPerPeer` connections (by remote IP),
 * a connection that sends nothing for `idleTimeoutMs` is closed, and so is one that holds an
 * incomplete frame (no frame completed) for `frameTimeoutMs`. (TLS and shared-key handshakes have
 * their own timeouts, set by the sources.)
 *
 * Invariants:
 * - a connection the source itself stopped reading (back-pressure: its batch is being committed
 *   or the channel refuses) is never timed out: its silence is ours, and its clocks restart when
 *   it is read again;
 * - closing for a timeout loses nothing acknowledged: what completed was stored (and, for forward,
 *   acked) already; the incomplete frame was never acknowledged, so the client resends it;
 * - checks run on one timer per listener (a sweep every quarter of the shorter timeout, 50 ms to
 *   5 s), never per event; closures are logged as one summary line per sweep and reason.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';

export type CloseReason = 'idle' | 'incomplete_frame' | 'per_peer_limit' | 'max_connections' | 'handshake';

export interface GuardSettings {
  /** For messages: `source "syslog"`. */
  who: string;
  /** 0: no idle timeout. */
  idleTimeoutMs: number;
  /** 0: no frame timeout. */
  frameTimeoutMs: number;
  maxPerPeer: number;
  log: Logger;
  /** Run sweeps on a timer (default); tests drive `sweep(now)` themselves. */
  timer?: boolean;
}

/** What the guard needs to know about one connection. */
export interface GuardedConnection {
  readonly socket: Socket;
  /** Whether bytes of an unfinished frame are buffered (or being skipped). */
  partial(): boolean;
  /** Frames completed so far on this connection (progress). */
  frames(): number;
}

interface Tracked {
  conn: GuardedConnection;
  peer: string;
  lastData: number;
  /** When we first saw it stuck in the same incomplete frame, or 0. */
  partialSince: number;
  lastFrames: number;
}

const WARN_WINDOW_MS = 10_000;

export function formatPeer(socket: Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms} ms`;
}

export class ConnectionGuard {
  /** Connections closed or refused, by reason (for `/metrics` and the sources API). */
  readonly closed: Record<CloseReason, number> = { idle: 0, incomplete_frame: 0, per_peer_limit: 0, max_connections: 0, handshake: 0 };
  readonly #s: GuardSettings;
  readonly #perPeer = new Map<string, number>();
  readonly #tracked = new Map<Socket, Tracked>();
  #timer: NodeJS.Timeout | null = null;
  #refusedInWindow = 0;
  #refusedWindowStart = 0;
  #refusedPeers = new Set<string>();
  #lastFullLog = 0;
  #lastTlsLog = 0;
  #tlsSuppressed = 0;

  constructor(settings: GuardSettings) {
    this.#s = settings;
    const timeouts = [settings.idleTimeoutMs, settings.frameTimeoutMs].filter((t) => t > 0);
    const every = timeouts.length > 0 ? Math.min(5000, Math.max(50, Math.floor(Math.min(...timeouts) / 4))) : 5000;
    if (settings.timer !== false) {
      this.#timer = setInterval(() => this.sweep(), every);
      this.#timer.unref();
    }
  }

  /** Open connections. */
  get open(): number {
    return this.#tracked.size;
  }

  /**
   * Counts a new connection against its peer's limit; false (and the socket destroyed) when
   * the peer already holds `maxPerPeer`. Call it with the raw TCP socket, first thing (for TLS
   * from the server's 'connection' event, so a refused peer costs no handshake).
   */
  admit(socket: Socket): boolean {
    const ip = socket.remoteAddress ?? '';
    const count = this.#perPeer.get(ip) ?? 0;
    if (count >= this.#s.maxPerPeer) {
      this.closed.per_peer_limit++;
      this.#noteRefusal(ip);
      socket.destroy();
      return false;
    }
    this.#perPeer.set(ip, count + 1);
    socket.once('close', () => {
      const n = (this.#perPeer.get(ip) ?? 1) - 1;
      if (n <= 0) this.#perPeer.delete(ip);
      else this.#perPeer.set(ip, n);
    });
    return true;
  }

  /**
   * Counts a connection the server refused at `max_connections` (its 'drop' event); logs the
   * first of every 10 s, since it means real clients are being turned away.
   */
  noteFull(remote: string | undefined, max: number): void {
    this.closed.max_connections++;
    const now = Date.now();
    if (now - this.#lastFullLog < WARN_WINDOW_MS) return;
    this.#lastFullLog = now;
    this.#s.log.warn(
      { peer: remote, reason: 'max_connections', refused: this.closed.max_connections },
      `${this.#s.who}: refused a connection from ${remote ?? 'a client'}: max_connections (${max}) are open (${this.closed.max_connections} refused so far); raise max_connections, or lower max_connections_per_peer / idle_timeout if a few peers hold them`,
    );
  }

  /**
   * A TLS handshake that failed (Node's tlsClientError): closes the socket — with a listener for
   * that event Node leaves it open, so a silent client would hold its slot forever — counts a
   * timeout, and logs at most one warning per 10 s. A client that hung up (or was refused by the
   * per-peer limit) before finishing is only a debug line.
   */
  tlsFailed(error: Error & { code?: string }, socket: Socket): void {
    socket.destroy();
    if (/timed? ?out/i.test(error.message)) this.closed.handshake++;
    const peer = socket.remoteAddress ?? 'a client';
    if (error.code === 'ECONNRESET') {
      this.#s.log.debug({ peer, err: error.message }, `${this.#s.who}: TLS client ${peer} went away during the handshake`);
      return;
    }
    const now = Date.now();
    if (now - this.#lastTlsLog < WARN_WINDOW_MS) {
      this.#tlsSuppressed++;
      return;
    }
    this.#lastTlsLog = now;
    const more = this.#tlsSuppressed > 0 ? ` (${this.#tlsSuppressed} more failed handshakes not logged)` : '';
    this.#tlsSuppressed = 0;
    this.#s.log.warn({ peer, err: error.message }, `${this.#s.who}: TLS handshake with ${peer} failed: ${error.message}${more}`);
  }

  /** Watches an admitted connection for idleness and stuck frames. */
  track(conn: GuardedConnection): void {
    const entry: Tracked = { conn, peer: formatPeer(conn.socket), lastData: Date.now(), partialSince: 0, lastFrames: 0 };
    this.#tracked.set(conn.socket, entry);
    conn.socket.on('data', () => (entry.lastData = Date.now()));
    conn.socket.once('close', () => this.#tracked.delete(conn.socket));
  }

  /** One pass over the connections (the timer runs it; tests may too). */
  sweep(now = Date.now()): void {
    const closing: Record<'idle' | 'incomplete_frame', string[]> = { idle: [], incomplete_frame: [] };
    for (const [socket, t] of this.#tracked) {
      if (socket.destroyed) continue;
      if (socket.isPaused()) {
        // Our own back-pressure: the silence is ours. Clocks restart when reading resumes.
        t.lastData = now;
        t.partialSince = 0;
        continue;
      }
      const frames = t.conn.frames();
      if (!t.conn.partial() || frames !== t.lastFrames) {
        t.lastFrames = frames;
        t.partialSince = t.conn.partial() ? now : 0;
      } else if (t.partialSince === 0) {
        t.partialSince = now;
      }
      if (this.#s.frameTimeoutMs > 0 && t.partialSince > 0 && now - t.partialSince >= this.#s.frameTimeoutMs) {
        closing.incomplete_frame.push(t.peer);
        this.closed.incomplete_frame++;
        socket.destroy();
      } else if (this.#s.idleTimeoutMs > 0 && now - t.lastData >= this.#s.idleTimeoutMs) {
        closing.idle.push(t.peer);
        this.closed.idle++;
        socket.destroy();
      }
    }
    const example = (peers: string[]) => `${peers.slice(0, 3).join(', ')}${peers.length > 3 ? `, … (${peers.length - 3} more)` : ''}`;
    if (closing.incomplete_frame.length > 0) {
      const n = closing.incomplete_frame.length;
      this.#s.log.warn(
        { closed: n, reason: 'incomplete_frame' },
        `${this.#s.who}: closed ${n} connection${n === 1 ? '' : 's'} holding an incomplete frame for ${formatDuration(this.#s.frameTimeoutMs)} (frame_timeout): ${example(closing.incomplete_frame)}; nothing of those frames was stored or acknowledged`,
      );
    }
    if (closing.idle.length > 0) {
      const n = closing.idle.length;
      this.#s.log.info({ closed: n, reason: 'idle' }, `${this.#s.who}: closed ${n} connection${n === 1 ? '' : 's'} idle for ${formatDuration(this.#s.idleTimeoutMs)} (idle_timeout): ${example(closing.idle)}`);
    }
    this.#flushRefusals(now);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#flushRefusals(Number.POSITIVE_INFINITY);
  }

  #noteRefusal(ip: string): void {
    const now = Date.now();
    if (this.#refusedWindowStart === 0) {
      this.#refusedWindowStart = now;
      // the first refusal of a window is logged at once, the rest summarised
      this.#s.log.warn(
        { peer: ip, reason: 'per_peer_limit' },
        `${this.#s.who}: refused a connection from ${ip}: it already holds ${this.#s.maxPerPeer} connections (max_connections_per_peer)`,
      );
      return;
    }
    this.#refusedInWindow++;
    this.#refusedPeers.add(ip);
  }

  #flushRefusals(now: number): void {
    if (this.#refusedWindowStart === 0 || now - this.#refusedWindowStart < WARN_WINDOW_MS) return;
    if (this.#refusedInWindow > 0) {
      const peers = [...this.#refusedPeers];
      this.#s.log.warn(
        { refused: this.#refusedInWindow, reason: 'per_peer_limit' },
        `${this.#s.who}: refused ${this.#refusedInWindow} more connections over max_connections_per_peer (${this.#s.maxPerPeer}) from ${peers.slice(0, 3).join(', ')}${peers.length > 3 ? ` and ${peers.length - 3} more peers` : ''}`,
      );
    }
    this.#refusedWindowStart = 0;
    this.#refusedInWindow = 0;
    this.#refusedPeers = new Set();
  }
}
