/**
 * Live tail over a real WebSocket: follows appends, filters, costs nothing while nobody tails,
 * and skips a slow client ahead (telling it what it missed) instead of buffering for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ApiEvent, TailMessage } from '../../../shared/src/api/events.ts';
import { makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { tailHubOf } from './routes/tail.ts';
import { adminFixture, type AdminFixture } from './testing.ts';
import { scaled } from '../../../test/helpers/children.ts';

const fixtures: AdminFixture[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const f of fixtures.splice(0)) await f.close();
});

async function listening(options: Parameters<typeof adminFixture>[0] = {}): Promise<{ f: AdminFixture; url: string }> {
  const f = await adminFixture(options);
  fixtures.push(f);
  const address = await f.app.listen({ host: '127.0.0.1', port: 0 });
  return { f, url: address.replace(/^http/, 'ws') };
}

function events(topic: string, from: number, n: number, body = (i: number) => `{"i":${i}}`): EventDraft[] {
  return Array.from({ length: n }, (_, k) => makeEvent(topic, body(from + k), { headers: { 'content-type': 'application/json', parity: (from + k) % 2 ? 'odd' : 'even' } }));
}

interface Client {
  ws: WebSocket;
  messages: TailMessage[];
  received(): ApiEvent[];
  next(type: TailMessage['type']): Promise<TailMessage>;
  closed: Promise<{ code: number }>;
}

function connect(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  const messages: TailMessage[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as TailMessage);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number }>((r) => ws.on('close', (code) => r({ code })));
  const client: Client = {
    ws,
    messages,
    closed,
    received: () => messages.flatMap((m) => (m.type === 'events' ? m.events : [])),
    next: (type) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} message; got ${messages.map((m) => m.type).join(', ')}`)), 10_000);
        const check = () => {
          const m = messages.find((x) => x.type === type);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else waiters.push(check);
        };
        check();
      }),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + scaled(timeoutMs);
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('live tail', () => {
  it('follows new events from the end, in order, once each; listens to the channel only while someone tails', async () => {
    const { f, url } = await listening();
    const channel = f.collector.channel;
    await channel.append({ events: events('logs', 0, 10) });
    const baseline = channel.subscribers('append');
    expect(tailHubOf(f.collector)!.listening).toBe(false);

    const c = await connect(`${url}/api/v1/topics/logs/tail`);
    const hello = await c.next('hello');
    expect(hello).toMatchObject({ type: 'hello', topic: 'logs', from: 10, high: 10, exists: true, filtered: false });
    expect(channel.subscribers('append')).toBe(baseline + 1);
    for (let i = 10; i < 1010; i += 100) await channel.append({ events: events('logs', i, 100) });
    await until(() => c.received().length >= 1000, 'the tail to deliver 1000 events');
    expect(c.received().map((e) => e.offset)).toEqual(Array.from({ length: 1000 }, (_, i) => 10 + i));
    expect(c.received()[0]).toMatchObject({ body: { i: 10 }, bodyEncoding: 'json' });

    c.ws.close();
    await c.closed;
    await until(() => channel.subscribers('append') === baseline, 'the hub to stop listening');
    expect(tailHubOf(f.collector)!.listening).toBe(false);
  });

  it('catches up from an offset, then follows; with a filter only matching events arrive', async () => {
    const { f, url } = await listening();
    const channel = f.collector.channel;
    await channel.append({ events: events('logs', 0, 100) });
    const c = await connect(`${url}/api/v1/topics/logs/tail?from=90&header=parity:odd`);
    expect(await c.next('hello')).toMatchObject({ from: 90, filtered: true });
    await channel.append({ events: events('logs', 100, 10) });
    await until(() => c.received().length >= 10, 'matching events');
    expect(c.received().map((e) => e.offset)).toEqual([91, 93, 95, 97, 99, 101, 103, 105, 107, 109]);
    const last = await connect(`${url}/api/v1/topics/logs/tail?last=3`);
    await until(() => last.received().length >= 3, 'last 3');
    expect(last.received().map((e) => e.offset)).toEqual([107, 108, 109]);
  });

  it('a bad filter or start gets an error message and the socket is closed', async () => {
    const { f, url } = await listening();
    await f.collector.channel.append({ events: events('logs', 0, 5) });
    const bad = await connect(`${url}/api/v1/topics/logs/tail?bodyRegex=(`);
    expect(await bad.next('error')).toMatchObject({ error: { code: 'SLUICE_BAD_INPUT' } });
    expect((await bad.closed).code).toBe(1008);
    const beyond = await connect(`${url}/api/v1/topics/logs/tail?from=6`);
    expect(await beyond.next('error')).toMatchObject({ error: { code: 'SLUICE_OFFSET_OUT_OF_RANGE', message: 'topic "logs": offset 6 is beyond the end (high watermark 5)' } });
  });

  it('a slow client is skipped ahead and told how many events it missed; the server does not buffer for it', async () => {
    const highWater = 64 * 1024;
    const { f, url } = await listening({ tail: { highWater, maxBehind: 2000, chunk: 200 } });
    const channel = f.collector.channel;
    await channel.append({ events: events('logs', 0, 1) });
    const c = await connect(`${url}/api/v1/topics/logs/tail`);
    await c.next('hello');
    // The client stops reading: the kernel's buffers fill, then the server's.
    (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const pad = 'x'.repeat(400);
    let maxBuffered = 0;
    const total = 60_000;
    for (let i = 1; i <= total; i += 1000) {
      await channel.append({ events: events('logs', i, 1000, (n) => `{"i":${n},"pad":"${pad}"}`) });
      await new Promise((r) => setTimeout(r, 5));
      for (const s of tailHubOf(f.collector)!.snapshot()) maxBuffered = Math.max(maxBuffered, s.bufferedAmount);
    }
    const [state] = tailHubOf(f.collector)!.snapshot();
    expect(state.missed).toBeGreaterThan(0);
    // Memory held for the client: at most the high-water mark plus one chunk's message (~200 × 500 B).
    expect(maxBuffered).toBeLessThan(highWater + 200 * 1024);
    (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await channel.append({ events: events('logs', total + 1, 10) });
    const high = total + 11;
    await until(() => c.received().at(-1)?.offset === high - 1, 'the tail to reach the end');
    const gaps = c.messages.filter((m): m is Extract<TailMessage, { type: 'gap' }> => m.type === 'gap');
    expect(gaps.length).toBeGreaterThan(0);
    // Every offset from the start to the end was either delivered once or reported missed.
    const delivered = c.received().map((e) => e.offset);
    expect(new Set(delivered).size).toBe(delivered.length);
    const missed = gaps.reduce((a, g) => a + g.missed, 0);
    expect(delivered.length + missed).toBe(high - 1);
    for (const g of gaps) expect(delivered.some((o) => o >= g.from && o < g.to)).toBe(false);
    expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
  });
});
