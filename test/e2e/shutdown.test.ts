/**
 * Shutdown answers (issue #12 item 13): SIGTERM to a real `sluice start` process while several
 * keep-alive clients post to its http source and produce through its admin (consumer) API. Every request that was sent gets an HTTP answer —
 * 200 if stored, 503 + Retry-After (and Connection: close) while stopping — never a reset
 * connection; a connection refused after the listener closed is fine (nothing was sent). After a
 * restart every event answered 200 is there, once, in order, and nothing answered 503 is.
 */
import { Agent, request } from 'node:http';
import { afterAll, expect, it } from 'vitest';
import { freePort, removeDir, scaled, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const CLIENTS = 8;
const EVENTS_PER_POST = 20;
/** A wait for `until()`, which scales it with the load itself. */
const WAIT_MS = 60_000;

const dir = tempDir('sluice-shutdown-');
const running: CollectorProcess[] = [];
const agents: Agent[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  for (const a of agents) a.destroy();
  removeDir(dir);
});

type Outcome = { status: number; connection: string | undefined; retryAfter: string | undefined } | { error: string; sent: boolean };

/** One POST on a keep-alive agent; `sent` tells whether the whole request was written before the error. */
function post(agent: Agent, port: number, path: string, body: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let sent = false;
    const req = request({ agent, host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, retryAfter: res.headers['retry-after'] }));
      res.once('error', (error: NodeJS.ErrnoException) => resolve({ error: `${error.code ?? ''} ${error.message}`, sent: true }));
    });
    req.once('finish', () => (sent = true));
    req.once('error', (error: NodeJS.ErrnoException) => resolve({ error: `${error.code ?? ''} ${error.message}`, sent }));
    req.end(body);
  });
}

function body(client: number, from: number): string {
  const items: string[] = [];
  for (let i = 0; i < EVENTS_PER_POST; i++) items.push(`{"client":${client},"seq":${from + i}}`);
  return `[${items.join(',')}]`;
}

/** The same events as a produce request of the admin (consumer) API. */
function produceBody(client: number, from: number): string {
  const items: string[] = [];
  for (let i = 0; i < EVENTS_PER_POST; i++) items.push(`{"value":{"client":${client},"seq":${from + i}}}`);
  return `{"events":[${items.join(',')}]}`;
}

it('SIGTERM under load from keep-alive clients (http source and admin produce API): every sent request gets an answer, every 200 is kept', async () => {
  const ports = { admin: await freePort(), http: await freePort() };
  const config = `admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ./data
sources:
  web:
    type: http
    listen: 127.0.0.1:${ports.http}
`;
  const collector = await startCollector({ config, dir });
  running.push(collector);

  // Clients 0…CLIENTS-1 post to the http source (topic cN); as many again produce through the admin API (topic aN).
  const targets = Array.from({ length: 2 * CLIENTS }, (_, i) =>
    i < CLIENTS
      ? { topic: `c${i}`, port: ports.http, path: `/c${i}`, body: (from: number) => body(i, from) }
      : { topic: `a${i}`, port: ports.admin, path: `/api/v1/topics/a${i}/events`, body: (from: number) => produceBody(i, from) },
  );
  const acked = new Array<number>(targets.length).fill(0);
  const answers = { ok: 0, unavailable: 0, refused: 0 };
  const broken: string[] = [];
  let requests = 0;
  const clients = targets.map(async (target, i) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    for (;;) {
      const outcome = await post(agent, target.port, target.path, target.body(acked[i]));
      requests++;
      if ('status' in outcome) {
        if (outcome.status === 200) {
          acked[i] += EVENTS_PER_POST;
          answers.ok++;
        } else if (outcome.status === 503) {
          answers.unavailable++;
          expect(outcome.retryAfter).toBeDefined();
          expect(outcome.connection).toBe('close');
        } else {
          broken.push(`client ${i}: HTTP ${outcome.status}`);
        }
      } else if (!outcome.sent && /ECONNREFUSED/.test(outcome.error)) {
        answers.refused++;
        return; // the listener is closed: nothing was sent, the client would retry elsewhere
      } else {
        broken.push(`client ${i}: ${outcome.error} (request ${outcome.sent ? 'sent' : 'not fully sent'})`);
        if (!outcome.sent) return;
      }
    }
  });

  await until(() => requests >= 400, { timeoutMs: WAIT_MS, what: '400 requests before SIGTERM' });
  collector.proc.kill('SIGTERM');
  await Promise.all(clients);
  expect(await collector.exited).toBe(0);
  expect(broken).toEqual([]);
  expect(answers.refused).toBe(targets.length);
  console.log(`shutdown e2e: ${requests} requests: ${answers.ok} × 200, ${answers.unavailable} × 503 while stopping, ${answers.refused} connections refused after the listener closed`);

  // Every 200 is kept, once, in order; nothing answered 503 was stored.
  const again = await startCollector({ config, dir });
  running.push(again);
  for (let i = 0; i < targets.length; i++) {
    const seqs: number[] = [];
    for (let from = 0; ; ) {
      const page = await again.api<{ events: { body: { seq: number } }[]; next: number }>(`/api/v1/topics/${targets[i].topic}/events?from=${from}&limit=10000&raw=false`);
      if (page.events.length === 0) break;
      for (const e of page.events) seqs.push(e.body.seq);
      from = page.next;
    }
    expect(seqs.length, targets[i].topic).toBe(acked[i]);
    expect(seqs.every((s, k) => s === k), `${targets[i].topic}: seqs 0…${acked[i] - 1} in order`).toBe(true);
  }
  expect(await again.stop()).toBe(0);
}, scaled(3 * WAIT_MS));
