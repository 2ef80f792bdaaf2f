import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isRetriable, SluiceError } from '../../../shared/src/errors.ts';
import { makeEvent, type StoredEvent } from '../../../shared/src/event.ts';
import type { Sink, SinkContext } from '../components.ts';
import { failoverSink, loadBalanceSink, SinkGroup, type FailoverConfig } from './group.ts';
import { buildSink, Receiver, testSinkContext, until } from './testing.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(port?: number): Promise<Receiver> {
  const r = await Receiver.start({ port });
  cleanups.push(() => r.stop());
  return r;
}

function group(config: Record<string, unknown>, name = 'out'): Sink {
  const s = buildSink(config, name);
  cleanups.push(() => s.close());
  return s;
}

function batch(from: number, n: number, topic = 'web'): StoredEvent[] {
  return Array.from({ length: n }, (_, i) => ({ ...makeEvent(topic, JSON.stringify({ n: from + i }), { headers: { 'content-type': 'application/json' } }), offset: from + i }));
}

function offsets(r: Receiver): number[] {
  return r.items<{ offset: number }>().map((e) => e.offset);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

interface MemberView {
  name: string;
  healthy: boolean;
  lastError: string | null;
  sentBatches: number;
  priority?: number;
}

describe('failover sink', () => {
  it('moves to the standby when the primary dies mid-stream, and back once it returns', async () => {
    const primary = await receiver();
    const standby = await receiver();
    const out = group({
      type: 'failover',
      cooldown: '1s',
      max_cooldown: '1s',
      sinks: {
        // Written first but lower priority: priority decides, not the order.
        standby: { type: 'http', priority: 5, url: standby.url() },
        primary: { type: 'http', priority: 10, url: primary.url(), timeout: '5s' },
      },
    });
    for (let b = 0; b < 5; b++) await out.send(batch(b * 10, 10), 'web');
    // Batch 5 is in flight on the primary when it dies.
    primary.script = ['hang'];
    const inFlight = out.send(batch(50, 10), 'web');
    await until(() => primary.seen.length === 6);
    const port = primary.port;
    await primary.stop();
    await inFlight;
    for (let b = 6; b < 10; b++) await out.send(batch(b * 10, 10), 'web');
    expect(offsets(primary)).toEqual(range(0, 50));
    expect(offsets(standby)).toEqual(range(50, 100));

    const view = out.describe!() as { mode: string; active: string; members: MemberView[] };
    expect(view.mode).toBe('failover');
    expect(view.active).toBe('standby');
    expect(view.members.map((m) => [m.name, m.priority])).toEqual([['primary', 10], ['standby', 5]]);
    const down = view.members[0];
    expect(down.healthy).toBe(false);
    expect(down.lastError).toMatch(new RegExp(`^sink "out/primary": (connection refused by|connection closed by) 127\\.0\\.0\\.1:${port}`));
    expect(view.members[1]).toMatchObject({ healthy: true, sentBatches: 5 });

    // The primary comes back on the same port: after its cooldown it is first again.
    const back = await receiver(port);
    await new Promise((r) => setTimeout(r, 1100));
    for (let b = 10; b < 12; b++) await out.send(batch(b * 10, 10), 'web');
    expect(offsets(back)).toEqual(range(100, 120));
    expect((out.describe!() as { active: string }).active).toBe('primary');
    // Across all three: every event once.
    expect([...offsets(primary), ...offsets(standby), ...offsets(back)]).toEqual(range(0, 120));
  });

  it('when every member fails: retriable, naming each member\'s error, with a hint when to retry', async () => {
    const a = await receiver();
    const b = await receiver();
    a.script = [{ status: 503 }];
    const bPort = b.port;
    const bUrl = b.url();
    await b.stop();
    const out = group({ type: 'failover', cooldown: '1s', max_cooldown: '1s', sinks: { a: { type: 'http', url: a.url() }, b: { type: 'http', url: bUrl } } });
    const first = (await out.send(batch(0, 1), 'web').catch((e: unknown) => e)) as SluiceError;
    expect(first).toBeInstanceOf(SluiceError);
    expect(first.retriable).toBe(true);
    expect(first.message).toMatch(
      new RegExp(`^sink "out": no member took the batch — a: POST ${a.url().replace(/[.]/g, '\\.')} answered 503 Service Unavailable \\(skipped for \\d\\.\\ds\\); b: connection refused by 127\\.0\\.0\\.1:${bPort} \\(skipped for \\d\\.\\ds\\)$`),
    );
    expect(first.retryAfterMs).toBeGreaterThan(400);
    const second = (await out.send(batch(0, 1), 'web').catch((e: unknown) => e)) as SluiceError;
    expect(second.message).toMatch(/^sink "out": every member is cooling down — a: .*503.*; b: connection refused/);
    expect(second.retriable).toBe(true);
    expect(a.seen).toHaveLength(1);
  });

  it('honours a member\'s Retry-After as its cooldown', async () => {
    const a = await receiver();
    const b = await receiver();
    a.script = [{ status: 429, headers: { 'retry-after': '3' } }];
    const out = group({ type: 'failover', cooldown: '10ms', sinks: { a: { type: 'http', priority: 1, url: a.url() }, b: { type: 'http', url: b.url() } } });
    await out.send(batch(0, 1), 'web');
    const member = (out.describe!() as { members: (MemberView & { cooldownUntil: number })[] }).members[0];
    expect(member.cooldownUntil - Date.now()).toBeGreaterThan(2500);
    expect(offsets(b)).toEqual([0]);
  });

  it('a batch one member rejects goes to the next; rejected by all, it is not retriable (parked)', async () => {
    const a = await receiver();
    const b = await receiver();
    a.script = [{ status: 400, body: 'bad' }, { status: 400, body: 'bad' }];
    b.script = [{ status: 422, body: 'nope' }];
    const out = group({ type: 'failover', sinks: { a: { type: 'http', url: a.url() }, b: { type: 'http', url: b.url() } } });
    const error = (await out.send(batch(0, 1), 'web').catch((e: unknown) => e)) as SluiceError;
    expect(error.code).toBe(ErrorCodes.DESTINATION_REJECTED);
    expect(isRetriable(error)).toBe(false);
    expect(error.message).toBe(`sink "out": every member rejected the batch — a: POST ${a.url()} answered 400 Bad Request: bad; b: POST ${b.url()} answered 422 Unprocessable Entity: nope`);
    // A rejection does not put a member in cooldown: it is healthy, it just refused that batch.
    await out.send(batch(1, 1), 'web');
    expect(offsets(b)).toEqual([1]);
    expect((out.describe!() as { members: MemberView[] }).members.every((m) => m.healthy)).toBe(true);
  });
});

describe('load_balance sink', () => {
  it('rotates batches over the members, skips one that is down, and delivers every event once', async () => {
    const rs = [await receiver(), await receiver(), await receiver()];
    const out = group({
      type: 'load_balance',
      cooldown: '5s',
      sinks: { a: { type: 'http', url: rs[0].url() }, b: { type: 'http', url: rs[1].url() }, c: { type: 'http', url: rs[2].url() } },
    });
    for (let i = 0; i < 6; i++) await out.send(batch(i * 10, 10), 'web');
    expect(rs.map((r) => r.accepted.length)).toEqual([2, 2, 2]);
    expect(offsets(rs[0])).toEqual([...range(0, 10), ...range(30, 40)]);

    await rs[1].stop();
    for (let i = 6; i < 12; i++) await out.send(batch(i * 10, 10), 'web');
    // b failed once (that batch went on to c) and is skipped while cooling down.
    expect(rs[1].accepted).toHaveLength(2);
    expect(rs[0].accepted.length + rs[2].accepted.length).toBe(10);
    const all = rs.flatMap((r) => offsets(r)).sort((x, y) => x - y);
    expect(all).toEqual(range(0, 120));
    const view = out.describe!() as { strategy: string; members: MemberView[] };
    expect(view.strategy).toBe('round_robin');
    expect(view.members.map((m) => m.healthy)).toEqual([true, false, true]);
    expect(view.members[1].lastError).toMatch(/^sink "out\/b": connection (refused|reset|closed) /);
  });

  it('random: starts at a random member', async () => {
    const sent: string[] = [];
    const member = (name: string): Sink => ({
      send: async () => {
        sent.push(name);
      },
      close: async () => {},
    });
    const rolls = [0.9, 0.1, 0.5];
    const out = new SinkGroup({
      mode: 'load_balance',
      strategy: 'random',
      name: 'out',
      cooldownMs: 100,
      maxCooldownMs: 100,
      random: () => rolls.shift()!,
      members: ['a', 'b', 'c'].map((n) => ({ name: n, type: 'test', priority: 0, sink: member(n) })),
    });
    for (let i = 0; i < 3; i++) await out.send(batch(i, 1), 'web');
    expect(sent).toEqual(['c', 'a', 'b']);
  });

  it('round_robin by weight: smooth, and only over members not cooling down', async () => {
    const sent: string[] = [];
    const down = new Set<string>();
    const member = (name: string): Sink => ({
      send: async () => {
        if (down.has(name)) throw new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "out/${name}": connection refused by x:1`, { retriable: true });
        sent.push(name);
      },
      close: async () => {},
    });
    const out = new SinkGroup({
      mode: 'load_balance',
      name: 'out',
      cooldownMs: 60_000,
      maxCooldownMs: 60_000,
      members: [
        { name: 'a', type: 'test', priority: 0, weight: 3, sink: member('a') },
        { name: 'b', type: 'test', priority: 0, weight: 1, sink: member('b') },
        { name: 'c', type: 'test', priority: 0, weight: 2, sink: member('c') },
      ],
    });
    for (let i = 0; i < 12; i++) await out.send(batch(i, 1), 'web');
    expect(sent.filter((n) => n === 'a')).toHaveLength(6);
    expect(sent.filter((n) => n === 'b')).toHaveLength(2);
    expect(sent.filter((n) => n === 'c')).toHaveLength(4);
    // Smooth: the heavy member's batches are spread out, not sent in a run.
    expect(sent.slice(0, 6)).toEqual(['a', 'c', 'a', 'b', 'c', 'a']);
    sent.length = 0;
    down.add('a');
    for (let i = 0; i < 30; i++) await out.send(batch(i, 1), 'web');
    expect(sent.filter((n) => n === 'a')).toHaveLength(0);
    expect(sent).toHaveLength(30);
    // The first of these went to a, failed, and moved on to b; then b and c share 1:2.
    expect(sent.filter((n) => n === 'c').length).toBeGreaterThanOrEqual(19);
    expect(sent.filter((n) => n === 'c').length).toBeLessThanOrEqual(20);
  });

  it('a programmer error in a member is not swallowed', async () => {
    const out = new SinkGroup({
      mode: 'failover',
      name: 'out',
      cooldownMs: 100,
      maxCooldownMs: 100,
      members: [{ name: 'a', type: 'test', priority: 0, sink: { send: () => Promise.reject(new TypeError('x is undefined')), close: async () => {} } }],
    });
    await expect(out.send(batch(0, 1), 'web')).rejects.toThrow(TypeError);
  });
});

describe('group configs', () => {
  it('children() gives each member\'s config and path for validation through the registry', () => {
    expect(
      failoverSink.children({
        cooldown: '1s',
        max_cooldown: '30s',
        sinks: { a: { type: 'http', priority: 3, url: 'http://x' }, b: { type: 'file', priority: 0, path: './o/{topic}/{date}.ndjson' } },
      } as unknown as FailoverConfig),
    ).toEqual([
      { name: 'a', path: 'sinks.a', config: { type: 'http', url: 'http://x' } },
      { name: 'b', path: 'sinks.b', config: { type: 'file', path: './o/{topic}/{date}.ndjson' } },
    ]);
    expect(loadBalanceSink.children({ strategy: 'random', cooldown: '1s', max_cooldown: '30s', sinks: { a: { type: 'stdout', weight: 2 } } })).toEqual([{ name: 'a', path: 'sinks.a', config: { type: 'stdout' } }]);
  });

  it('builds members with their path and a name under the group, nesting included', () => {
    const calls: [string, string][] = [];
    const base = testSinkContext('edge');
    const spy = (ctx: SinkContext): SinkContext => ({
      ...ctx,
      createSink(config, path, name) {
        calls.push([path, name]);
        const { type, ...rest } = config;
        if (type === 'failover') return failoverSink.create({ cooldown: '1s', max_cooldown: '1s', ...rest } as never, spy({ ...ctx, name }));
        return base.createSink(config, path, name);
      },
    });
    const out = failoverSink.create(
      { cooldown: '1s', max_cooldown: '1s', sinks: { inner: { type: 'failover', priority: 0, sinks: { leaf: { type: 'stdout' } } } as never } },
      spy(testSinkContext('edge')),
    );
    expect(calls).toEqual([
      ['sinks.edge.sinks.inner', 'edge/inner'],
      ['sinks.edge.sinks.inner.sinks.leaf', 'edge/inner/leaf'],
    ]);
    void out.close();
  });
});
