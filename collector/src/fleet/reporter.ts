/**
 * The edge side of the fleet view: every `fleet.report_interval` this collector appends a report
 * of its state — per topic the backlog, each sink's state and last error, channel fill and free
 * disk, counters — as an ordinary event on the reserved topic `_sluice.fleet`. Forward sinks
 * deliver that topic with the rest, so a hub learns it over the same connection, and a non-Sluice
 * forward server simply stores it. While the hub is away the reports wait in this channel like any
 * event, so the hub later learns the whole story. Reports carry no secrets (no config values).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { FLEET_TOPIC, type EdgeReport, type EdgeTopicBacklog } from '../../../shared/src/api/fleet.ts';
import { errorMessage } from '../../../shared/src/errors.ts';
import type { Collector } from '../runtime/collector.ts';

export function configHash(file: string | null): string | null {
  if (!file) return null;
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
  } catch {
    return null;
  }
}

/** The admin API's URL as others would use it: a wildcard listen address becomes the host name. */
function adminUrl(collector: Collector): string | null {
  const address = collector.adminAddress;
  if (!address) return null;
  const url = new URL(address);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = hostname();
  return url.origin;
}

/** The report of a collector's state now. */
export function buildReport(collector: Collector, intervalMs: number, now = Date.now()): EdgeReport {
  const statuses = [...collector.sinks.values()].map((r) => ({ runner: r, status: r.status() }));
  const topics: EdgeTopicBacklog[] = [];
  for (const t of collector.channel.topics()) {
    if (t.name.startsWith('_')) continue;
    let backlog = 0;
    let oldest = 0;
    for (const { status } of statuses) {
      const s = status.topics.find((x) => x.topic === t.name);
      if (!s) continue;
      backlog = Math.max(backlog, s.lag);
      oldest = Math.max(oldest, s.lagSeconds);
    }
    topics.push({ topic: t.name, backlogEvents: backlog, storedBytes: t.bytes, oldestUndeliveredSeconds: oldest });
  }
  const stats = collector.channel.stats();
  const counters = { received: 0, accepted: 0, rejected: 0, dropped: 0 };
  for (const h of collector.sources.values()) {
    counters.received += h.stats.received;
    counters.accepted += h.stats.accepted;
    counters.rejected += h.stats.rejected;
    counters.dropped += h.stats.dropped;
  }
  return {
    kind: 'sluice.fleet.report',
    edge: {
      id: collector.config.collectorId,
      host: hostname(),
      version: process.env.SLUICE_VERSION ?? process.env.npm_package_version ?? '0.1.0',
      configHash: configHash(collector.config.file),
      startedAt: collector.startedAt,
      adminUrl: adminUrl(collector),
    },
    at: now,
    intervalMs,
    topics,
    sinks: statuses.map(({ runner, status }) => ({
      name: runner.name,
      type: collector.config.sinks.find((s) => s.name === runner.name)?.type ?? status.type ?? 'unknown',
      state: status.state,
      lag: status.lag,
      lagSeconds: status.lagSeconds,
      lastError: status.lastError ? { message: status.lastError.message, at: status.lastError.at } : null,
    })),
    channel: { bytes: stats.bytes, maxBytes: stats.maxBytes, fill: stats.fill, diskFreeBytes: stats.disk && stats.disk.freeBytes >= 0 ? stats.disk.freeBytes : null, refusing: stats.disk?.full ?? false },
    counters,
  };
}

/** Appends a report now and then every `intervalMs`; returns a stop function. */
export function startReporter(collector: Collector, intervalMs: number): () => void {
  let busy = false;
  const report = async () => {
    if (busy) return;
    busy = true;
    try {
      const r = buildReport(collector, intervalMs);
      await collector.channel.append({
        events: [{ topic: FLEET_TOPIC, ts: r.at, key: r.edge.id, headers: { 'content-type': 'application/json', 'sluice.fleet': 'report' }, body: new TextEncoder().encode(JSON.stringify(r)) }],
      });
    } catch (error) {
      // A full channel refuses reports like any event; the next one says the same, fresher.
      collector.log.debug({ err: errorMessage(error) }, 'fleet report not stored');
    } finally {
      busy = false;
    }
  };
  void report();
  const timer = setInterval(() => void report(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
