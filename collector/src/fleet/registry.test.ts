/**
 * The hub's fleet registry against a real channel file: whoever can forward to a hub can write to
 * `_sluice.fleet`, so malformed, oversized and too many reports are ignored (counted), never kept;
 * what it keeps survives a reopen of the channel (cursor and state are committed together).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FLEET_TOPIC, type EdgeReport } from '../../../shared/src/api/fleet.ts';
import { Channel } from '../channel/channel.ts';
import { FLEET_LIMITS, FleetRegistry } from './registry.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function report(id: string, over: Partial<EdgeReport> = {}): EdgeReport {
  return {
    kind: 'sluice.fleet.report',
    edge: { id, host: 'h', version: '0.1.0', configHash: null, startedAt: 1, adminUrl: null },
    at: Date.now(),
    intervalMs: 30_000,
    topics: [{ topic: 'logs', backlogEvents: 5, storedBytes: 100, oldestUndeliveredSeconds: 2 }],
    sinks: [],
    channel: { bytes: 0, maxBytes: 1, fill: 0, diskFreeBytes: null, refusing: false },
    counters: { received: 0, accepted: 0, rejected: 0, dropped: 0 },
    ...over,
  };
}

const event = (body: string) => ({ topic: FLEET_TOPIC, ts: Date.now(), key: null, headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode(body) });

describe('FleetRegistry', () => {
  it('ignores malformed, oversized and non-numeric reports, and edges past its limit; keeps the rest across a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fleet-'));
    dirs.push(dir);
    const file = join(dir, 'channel.db');
    let channel = Channel.open({ file, retentionIntervalMs: 0, integrityScan: false });
    const hostile = [
      'not json',
      JSON.stringify({ kind: 'sluice.fleet.report' }),
      JSON.stringify(report('x'.repeat(FLEET_LIMITS.idLength + 1))),
      JSON.stringify(report('nan', { topics: [{ topic: 'a', backlogEvents: 'lots' as unknown as number, storedBytes: 0, oldestUndeliveredSeconds: 0 }] })),
      JSON.stringify(report('nullsink', { sinks: [null as unknown as EdgeReport['sinks'][number]] })),
      JSON.stringify({ ...report('noedge'), edge: null }),
      JSON.stringify(report('big', { sinks: [{ name: 'y'.repeat(FLEET_LIMITS.reportBytes), type: 't', state: 's', lag: 0, lagSeconds: 0, lastError: null }] })),
    ];
    await channel.append({ events: [event(JSON.stringify(report('edge-1'))), ...hostile.map(event)] });
    let registry = new FleetRegistry(channel, { staleAfter: 3 });
    expect(registry.poll()).toBe(1);
    expect(registry.ignored).toBe(hostile.length);
    expect(registry.edges().map((e) => e.id)).toEqual(['edge-1']);
    expect(registry.edge('edge-1')).toMatchObject({ backlogEvents: 5, state: 'behind', reports: 1 });

    // Reopened (as after a kill -9): the edge is known, and its report is not taken twice.
    await channel.close();
    channel = Channel.open({ file, retentionIntervalMs: 0, integrityScan: false });
    registry = new FleetRegistry(channel, { staleAfter: 3 });
    expect(registry.poll()).toBe(0);
    expect(registry.edge('edge-1')).toMatchObject({ reports: 1, backlogEvents: 5 });
    await channel.close();
  });

  it('writes at most every 10 s: after a crash it re-reads exactly the reports it had not written, counting none twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fleet-'));
    dirs.push(dir);
    const file = join(dir, 'channel.db');
    const open = () => Channel.open({ file, retentionIntervalMs: 0, integrityScan: false });
    let channel = open();
    let now = 1_000_000;
    const clock = { staleAfter: 3, now: () => now };
    await channel.append({ events: [event(JSON.stringify(report('edge-1', { at: 1 })))] });
    let registry = new FleetRegistry(channel, clock);
    expect(registry.poll()).toBe(1); // the first poll writes

    await channel.append({ events: [event(JSON.stringify(report('edge-1', { at: 2 })))] });
    now += 1000;
    expect(registry.poll()).toBe(1);
    expect(registry.edge('edge-1')).toMatchObject({ reports: 2, reportedAt: 2 });

    // A crash before the next write (no stop): the second report was not written and is read again, once.
    await channel.close();
    channel = open();
    registry = new FleetRegistry(channel, clock);
    expect(registry.edge('edge-1')).toMatchObject({ reports: 1, reportedAt: 1 });
    expect(registry.poll()).toBe(1);
    expect(registry.edge('edge-1')).toMatchObject({ reports: 2, reportedAt: 2 });
    expect(registry.edge('edge-1')?.history.map((p) => p.at)).toEqual([1, 2]);

    // Ten seconds on, a poll writes; so does a stop.
    await channel.append({ events: [event(JSON.stringify(report('edge-1', { at: 3 })))] });
    now += 10_000;
    expect(registry.poll()).toBe(1);
    await channel.append({ events: [event(JSON.stringify(report('edge-1', { at: 4 })))] });
    expect(registry.poll()).toBe(1);
    registry.stop();
    await channel.close();
    channel = open();
    registry = new FleetRegistry(channel, clock);
    expect(registry.poll()).toBe(0);
    expect(registry.edge('edge-1')).toMatchObject({ reports: 4, reportedAt: 4 });
    await channel.close();
  });

  it('takes each report in as it arrives: one stamped far in the future by a wrong clock pins neither the state nor the history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fleet-'));
    dirs.push(dir);
    const channel = Channel.open({ file: join(dir, 'channel.db'), retentionIntervalMs: 0, integrityScan: false });
    const future = Date.now() + 365 * 24 * 3600 * 1000;
    await channel.append({ events: [event(JSON.stringify(report('edge-1', { at: future })))] });
    const registry = new FleetRegistry(channel, { staleAfter: 3 });
    registry.poll();
    // the edge's clock is put right: its next reports are the state
    for (let i = 1; i <= 130; i++) {
      await channel.append({ events: [event(JSON.stringify(report('edge-1', { at: 1000 + i, topics: [{ topic: 'logs', backlogEvents: i, storedBytes: 0, oldestUndeliveredSeconds: 0 }] })))] });
    }
    registry.poll();
    expect(registry.edge('edge-1')).toMatchObject({ reportedAt: 1130, backlogEvents: 130 });
    // the history keeps the newest 120 as they came: the odd point leaves it like any other
    expect(registry.edge('edge-1')?.history.map((p) => p.at)).not.toContain(future);
    registry.stop();
    await channel.close();
  });

  it('holds the latest reports of all edges within a byte budget: a new edge or a larger report past it is ignored (counted), a smaller one is taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fleet-'));
    dirs.push(dir);
    const channel = Channel.open({ file: join(dir, 'channel.db'), retentionIntervalMs: 0, integrityScan: false });
    const sized = (id: string, bytes: number) => {
      const r = report(id);
      const pad = bytes - JSON.stringify(r).length;
      return JSON.stringify({ ...r, edge: { ...r.edge, host: 'h'.repeat(pad + 1) } });
    };
    await channel.append({ events: [event(sized('a', 4000)), event(sized('b', 4000)), event(sized('c', 4000))] });
    const registry = new FleetRegistry(channel, { staleAfter: 3, totalBytes: 10_000 });
    expect(registry.poll()).toBe(2);
    expect(registry.ignored).toBe(1);
    expect(registry.edges().map((e) => e.id).sort()).toEqual(['a', 'b']);
    await channel.append({ events: [event(sized('a', 7000)), event(sized('a', 1000)), event(sized('c', 4000))] });
    expect(registry.poll()).toBe(2); // a's 7,000 would not fit beside b; its 1,000 does, and then c fits
    expect(registry.ignored).toBe(2);
    expect(registry.edges().map((e) => e.id).sort()).toEqual(['a', 'b', 'c']);
    registry.stop();
    await channel.close();
  });

  it('keeps at most FLEET_LIMITS.edges edges; reports of known edges still count past it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fleet-'));
    dirs.push(dir);
    const channel = Channel.open({ file: join(dir, 'channel.db'), retentionIntervalMs: 0, integrityScan: false });
    const limit = FLEET_LIMITS.edges;
    FLEET_LIMITS.edges = 3;
    try {
      await channel.append({ events: ['a', 'b', 'c', 'd', 'e', 'a'].map((id) => event(JSON.stringify(report(id)))) });
      const registry = new FleetRegistry(channel, { staleAfter: 3 });
      expect(registry.poll()).toBe(4);
      expect(registry.ignored).toBe(2);
      expect(registry.edges().map((e) => e.id).sort()).toEqual(['a', 'b', 'c']);
      expect(registry.edge('a')?.reports).toBe(2);
    } finally {
      FLEET_LIMITS.edges = limit;
      await channel.close();
    }
  });
});
