/**
 * The connection guard over real sockets, with its clock driven by the test (sweep(now)), so
 * nothing depends on how fast the machine is: per-peer limits, stuck frames, idleness, progress,
 * and the invariant that a connection the source paused itself is never timed out.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.ts';
import { waitUntil } from './testing.ts';
import { ConnectionGuard } from './connection-guard.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface State {
  partial: boolean;
  frames: number;
}

/** A server whose accepted sockets the guard admits and tracks; state per accepted socket is the test's to set. */
async function serve(guard: ConnectionGuard): Promise<{ port: number; accepted: { socket: Socket; state: State }[] }> {
  const accepted: { socket: Socket; state: State }[] = [];
  const server: Server = createServer((socket) => {
    socket.on('error', () => undefined);
    if (!guard.admit(socket)) return;
    const state = { partial: false, frames: 0 };
    guard.track({ socket, partial: () => state.partial, frames: () => state.frames });
    accepted.push({ socket, state });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const a of accepted) a.socket.destroy();
    server.close(() => resolve());
  }));
  cleanups.push(() => guard.stop());
  return { port: (server.address() as { port: number }).port, accepted };
}

async function client(port: number): Promise<{ socket: Socket; closed: () => boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  let closed = false;
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  cleanups.push(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  return { socket, closed: () => closed };
}

const guard = (idle: number, frame: number, perPeer = 100) =>
  new ConnectionGuard({ who: 'source "t"', idleTimeoutMs: idle, frameTimeoutMs: frame, maxPerPeer: perPeer, log: silentLogger, timer: false });

describe('ConnectionGuard', () => {
  it('refuses connections over the per-peer limit and admits again once one closes', async () => {
    const g = guard(0, 0, 2);
    const { port, accepted } = await serve(g);
    const a = await client(port);
    await client(port);
    const third = await client(port);
    await waitUntil(() => third.closed(), 5000, 'the third connection to be refused');
    expect(g.closed.per_peer_limit).toBe(1);
    expect(accepted).toHaveLength(2);
    a.socket.destroy();
    await waitUntil(() => g.open === 1, 5000, 'the closed connection to be forgotten');
    const fourth = await client(port);
    await waitUntil(() => accepted.length === 3, 5000, 'the fourth connection to be admitted');
    expect(fourth.closed()).toBe(false);
  });

  it('closes a connection stuck in an incomplete frame, but not one that keeps completing frames', async () => {
    const g = guard(0, 1000);
    const { port, accepted } = await serve(g);
    const stuck = await client(port);
    const busy = await client(port);
    await waitUntil(() => accepted.length === 2, 5000, 'both connections');
    for (const a of accepted) a.state.partial = true;
    const t0 = Date.now();
    g.sweep(t0);
    accepted[1].state.frames++; // busy completes a frame between checks (and is mid-frame again)
    g.sweep(t0 + 600);
    accepted[1].state.frames++;
    g.sweep(t0 + 1200);
    await waitUntil(() => stuck.closed(), 5000, 'the stuck connection to be closed');
    expect(busy.closed()).toBe(false);
    expect(g.closed).toMatchObject({ incomplete_frame: 1, idle: 0 });
  });

  it('closes a silent connection after idle_timeout; data restarts the clock', async () => {
    const g = guard(1000, 0);
    const { port, accepted } = await serve(g);
    const silent = await client(port);
    const talker = await client(port);
    await waitUntil(() => accepted.length === 2, 5000, 'both connections');
    talker.socket.write('x');
    await new Promise((r) => setTimeout(r, 50));
    const talkedAt = Date.now();
    g.sweep(talkedAt + 999);
    expect(silent.closed()).toBe(false);
    g.sweep(talkedAt + 5000);
    await waitUntil(() => silent.closed() && talker.closed(), 5000, 'both closed once idle');
    expect(g.closed.idle).toBe(2);
  });

  it('never times out a connection the source paused (back-pressure); its clocks restart on resume', async () => {
    const g = guard(1000, 1000);
    const { port, accepted } = await serve(g);
    const held = await client(port);
    await waitUntil(() => accepted.length === 1, 5000, 'the connection');
    const { socket, state } = accepted[0];
    state.partial = true;
    socket.pause();
    const t0 = Date.now();
    g.sweep(t0 + 60_000);
    g.sweep(t0 + 120_000);
    expect(held.closed()).toBe(false);
    socket.resume();
    g.sweep(t0 + 120_001);
    expect(held.closed()).toBe(false);
    g.sweep(t0 + 121_001);
    await waitUntil(() => held.closed(), 5000, 'the connection to be closed a full timeout after resuming');
    expect(g.closed.incomplete_frame).toBe(1);
  });
});
