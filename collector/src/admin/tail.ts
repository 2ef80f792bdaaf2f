/**
 * Live tail: pushes a topic's new events to WebSocket clients.
 *
 * Costs nothing while nobody tails: the hub listens to the channel's `append` events only while
 * at least one client is connected. Clients hold no copies of events — each has a position (the
 * next offset to send) and reads from the channel when it is woken, one chunk at a time; clients
 * at the same position with the same filter share one serialised message.
 *
 * A slow client cannot grow the server's memory: while its socket holds more than `highWater`
 * bytes nothing more is read for it, and once it is more than `maxBehind` events behind, its
 * position jumps to the end and it is told what it missed (`{type:'gap', missed, from, to}`),
 * before the next events it gets.
 */
import type { WebSocket } from 'ws';
import type { TailMessage } from '../../../shared/src/api/events.ts';
import { ErrorCodes, errorMessage, isSluiceError } from '../../../shared/src/errors.ts';
import type { Channel } from '../channel/channel.ts';
import type { EventFilter } from '../consumers/filters.ts';
import { presentEvent, type BodyDecoder } from '../consumers/present.ts';
import { scan } from '../consumers/scan.ts';

export interface TailHubOptions {
  /** Bytes queued on a socket above which nothing more is read for it. */
  highWater?: number;
  /** Events behind the end above which a blocked client skips ahead. */
  maxBehind?: number;
  /** Events read per chunk. */
  chunk?: number;
  /** Ping interval (ms); a client that does not answer by the next ping is closed. */
  pingMs?: number;
}

interface CachedChunk {
  message: string;
  next: number;
  count: number;
}

interface Gap {
  missed: number;
  from: number;
  to: number;
}

export class TailClient {
  pos: number;
  sent = 0;
  closed = false;
  #pumping = false;
  #again = false;
  #scheduled = false;
  #gap: Gap | null = null;
  #missedTotal = 0;
  #lastProgressAt = 0;
  #scannedSinceProgress = 0;
  #alive = true;
  #ping: NodeJS.Timeout | null = null;

  constructor(
    readonly hub: TailHub,
    readonly topic: string,
    readonly socket: WebSocket,
    readonly filter: EventFilter,
    from: number,
    /** The topic's viewer schema, looked up on every read (a schema set meanwhile applies from then on). */
    readonly decoder: BodyDecoder | null = null,
  ) {
    this.pos = from;
  }

  get missed(): number {
    return this.#missedTotal;
  }

  send(message: TailMessage | string, onSent?: () => void): void {
    if (this.closed) return;
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message), (error) => {
      if (error) this.close();
      else onSent?.();
    });
  }

  /** Runs `pump` soon (once, however often it is asked). */
  wake(): void {
    if (this.closed || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.pump();
    });
  }

  startPing(ms: number): void {
    this.socket.on('pong', () => {
      this.#alive = true;
    });
    this.#ping = setInterval(() => {
      if (!this.#alive) {
        this.socket.terminate();
        return;
      }
      this.#alive = false;
      this.socket.ping();
    }, ms);
    this.#ping.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.#ping) clearInterval(this.#ping);
    this.hub.remove(this);
    if (this.socket.readyState === this.socket.OPEN) this.socket.close();
  }

  #skip(from: number, to: number): void {
    if (to <= from) return;
    this.#missedTotal += to - from;
    if (this.#gap && this.#gap.to === from) {
      this.#gap.to = to;
      this.#gap.missed += to - from;
    } else {
      if (this.#gap) this.send({ type: 'gap', ...this.#gap });
      this.#gap = { missed: to - from, from, to };
    }
    this.pos = to;
  }

  /** Sends what the client has not seen yet, as long as its socket keeps up. */
  async pump(): Promise<void> {
    if (this.closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      const { channel, highWater, maxBehind, chunk } = this.hub;
      for (let rounds = 0; !this.closed; rounds++) {
        const info = channel.topic(this.topic);
        if (!info) break;
        // Retention removed events this client had not seen yet: a gap too.
        if (this.pos < info.low) this.#skip(this.pos, info.low);
        const blocked = this.socket.bufferedAmount > highWater;
        if (this.#gap && !blocked) {
          this.send({ type: 'gap', ...this.#gap });
          this.#gap = null;
        }
        if (this.pos >= info.high) break;
        if (blocked) {
          if (info.high - this.pos > maxBehind) this.#skip(this.pos, info.high);
          // The callback of a send in flight wakes us once the socket drains.
          break;
        }
        if (rounds > 0 && rounds % 8 === 0) await new Promise((r) => setImmediate(r));
        let c: CachedChunk;
        try {
          c = await this.#readChunk(chunk, info.high);
        } catch (error) {
          // A damaged range is said and passed over like a gap; anything else ends this tail (never the process).
          const code = isSluiceError(error) ? error.code : ErrorCodes.INTERNAL;
          this.send({ type: 'error', error: { code, message: errorMessage(error) } });
          const damaged = code === ErrorCodes.CHANNEL_CORRUPT ? channel.damagedAt(this.topic, this.pos) : undefined;
          if (!damaged) {
            this.close();
            break;
          }
          this.#skip(this.pos, damaged.last + 1);
          continue;
        }
        if (this.closed) break;
        if (c.count > 0) {
          this.sent += c.count;
          this.send(c.message, () => this.wake());
          this.#scannedSinceProgress = 0;
        } else if (this.filter.active) {
          this.#scannedSinceProgress += c.next - this.pos;
          const now = Date.now();
          if (now - this.#lastProgressAt >= 1000) {
            this.#lastProgressAt = now;
            this.send({ type: 'progress', next: c.next, scanned: this.#scannedSinceProgress });
            this.#scannedSinceProgress = 0;
          }
        }
        if (c.next <= this.pos) break;
        this.pos = c.next;
      }
    } finally {
      this.#pumping = false;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    }
  }

  async #readChunk(chunk: number, high: number): Promise<CachedChunk> {
    const key = `${this.topic}\u0000${this.pos}\u0000${this.filter.signature}\u0000${this.decoder?.signature ?? ''}`;
    const cached = this.hub.cacheGet(key);
    if (cached) return cached;
    let result: CachedChunk;
    if (this.filter.active) {
      const page = await scan(this.hub.channel, {
        topic: this.topic,
        direction: 'forward',
        start: this.pos,
        end: high,
        limit: chunk,
        filter: this.filter,
        bounds: { maxRows: chunk * 8, maxMs: 50 },
      });
      result = { message: eventsMessage(page.events, page.next, this.decoder), next: page.next, count: page.events.length };
    } else {
      const events = this.hub.channel.read(this.topic, this.pos, { maxEvents: chunk });
      const next = events.length > 0 ? events[events.length - 1].offset + 1 : this.pos;
      result = { message: eventsMessage(events, next, this.decoder), next, count: events.length };
    }
    this.hub.cachePut(key, result);
    return result;
  }
}

function eventsMessage(events: Parameters<typeof presentEvent>[0][], next: number, decoder: BodyDecoder | null): string {
  if (events.length === 0) return '';
  return JSON.stringify({ type: 'events', events: events.map((e) => presentEvent(e, { decoder })), next });
}

export class TailHub {
  readonly highWater: number;
  readonly maxBehind: number;
  readonly chunk: number;
  readonly pingMs: number;
  readonly #topics = new Map<string, Set<TailClient>>();
  readonly #cache = new Map<string, CachedChunk>();
  #unsubscribe: (() => void) | null = null;
  #onAppend = (topic: string) => {
    const clients = this.#topics.get(topic);
    if (clients) for (const c of clients) c.wake();
  };

  constructor(
    readonly channel: Channel,
    options: TailHubOptions = {},
  ) {
    this.highWater = options.highWater ?? 1024 * 1024;
    this.maxBehind = options.maxBehind ?? 10_000;
    this.chunk = options.chunk ?? 500;
    this.pingMs = options.pingMs ?? 30_000;
  }

  /** How many clients are tailing (all topics). */
  get clients(): number {
    let n = 0;
    for (const set of this.#topics.values()) n += set.size;
    return n;
  }

  /** Whether the hub is listening to the channel (only while someone tails). */
  get listening(): boolean {
    return this.#unsubscribe !== null;
  }

  add(topic: string, socket: WebSocket, filter: EventFilter, from: number, decoder: BodyDecoder | null = null): TailClient {
    const client = new TailClient(this, topic, socket, filter, from, decoder);
    let set = this.#topics.get(topic);
    if (!set) this.#topics.set(topic, (set = new Set()));
    set.add(client);
    if (!this.#unsubscribe) this.#unsubscribe = this.channel.onAppend(this.#onAppend);
    socket.on('close', () => client.close());
    socket.on('error', () => client.close());
    client.startPing(this.pingMs);
    return client;
  }

  remove(client: TailClient): void {
    const set = this.#topics.get(client.topic);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.#topics.delete(client.topic);
    if (this.#topics.size === 0 && this.#unsubscribe) {
      this.#unsubscribe();
      this.#unsubscribe = null;
      this.#cache.clear();
    }
  }

  /** Every client's position and counters, for tests and diagnostics. */
  snapshot(): { topic: string; pos: number; sent: number; missed: number; bufferedAmount: number }[] {
    const out = [];
    for (const [topic, set] of this.#topics) for (const c of set) out.push({ topic, pos: c.pos, sent: c.sent, missed: c.missed, bufferedAmount: c.socket.bufferedAmount });
    return out;
  }

  cacheGet(key: string): CachedChunk | undefined {
    return this.#cache.get(key);
  }

  cachePut(key: string, value: CachedChunk): void {
    if (this.#cache.size >= 32) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, value);
  }

  close(): void {
    for (const set of [...this.#topics.values()]) for (const c of [...set]) c.close();
  }
}
