/**
 * The hub side of the fleet view: reads the reports edges forwarded into `_sluice.fleet` (its own
 * cursor, which does not hold back retention), keeps the latest report per edge and a short
 * history durably in the channel's state store (namespace `fleet`, committed with the cursor), and
 * says which edges are stale: silent for `stale_after` of their own report intervals.
 *
 * What it took in is written at most every PERSIST_EVERY_MS (and when it stops), not on every poll:
 * each write is a commit with an fsync, and a collector that reports every second would otherwise
 * add one to its own ingest every second. Cursor and records are written in one transaction, so
 * after a kill -9 the registry re-reads exactly the reports it had not written and applies them to
 * the records as written: nothing is counted twice, and those edges' `lastSeen` is the re-read time.
 */
import { FLEET_TOPIC, type EdgeHistoryPoint, type EdgeReport, type EdgeSummary } from '../../../shared/src/api/fleet.ts';
import { fromUtf8 } from '../../../shared/src/event.ts';
import type { Channel } from '../channel/channel.ts';
import type { Logger } from '../log.ts';

const CONSUMER = 'fleet:registry';
const NAMESPACE = 'fleet';
const HISTORY = 120;
const PERSIST_EVERY_MS = 10_000;
/** Bounds on what a report may make the hub keep: anyone who may forward to it can send one. */
/** `totalBytes`: the latest reports of all edges together, as received (the registry holds them in memory). */
export const FLEET_LIMITS = { edges: 10_000, idLength: 256, reportBytes: 1024 * 1024, entries: 10_000, totalBytes: 64 * 1024 * 1024 };

interface EdgeRecord {
  latest: EdgeReport;
  lastSeen: number;
  reports: number;
  history: EdgeHistoryPoint[];
}

const finite = (n: unknown): boolean => typeof n === 'number' && Number.isFinite(n);

/** A report this hub can keep: the expected shape, numbers that are numbers, within FLEET_LIMITS. */
function isReport(value: unknown): value is EdgeReport {
  const r = value as EdgeReport | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.kind === 'sluice.fleet.report' &&
    typeof r.edge === 'object' &&
    r.edge !== null &&
    typeof r.edge.id === 'string' &&
    r.edge.id.length > 0 &&
    r.edge.id.length <= FLEET_LIMITS.idLength &&
    finite(r.at) &&
    finite(r.intervalMs) &&
    Array.isArray(r.topics) &&
    Array.isArray(r.sinks) &&
    r.topics.length <= FLEET_LIMITS.entries &&
    r.sinks.length <= FLEET_LIMITS.entries &&
    r.topics.every((t) => typeof t?.topic === 'string' && finite(t.backlogEvents) && finite(t.oldestUndeliveredSeconds)) &&
    r.sinks.every((x) => typeof x === 'object' && x !== null && typeof x.name === 'string' && typeof x.state === 'string') &&
    typeof r.channel === 'object' &&
    r.channel !== null &&
    finite(r.channel.fill)
  );
}

function backlogOf(r: EdgeReport): { events: number; oldest: number } {
  return { events: r.topics.reduce((a, t) => a + t.backlogEvents, 0), oldest: r.topics.reduce((a, t) => Math.max(a, t.oldestUndeliveredSeconds), 0) };
}

export class FleetRegistry {
  readonly #edges = new Map<string, EdgeRecord>();
  /** Bytes of each edge's latest report, and their sum (bounded by `totalBytes`). */
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  /** Events on the fleet topic that were not reports this hub keeps (malformed, too large, past the edge limit). */
  ignored = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Where the next poll reads, and what was taken in since the last write. */
  #next: number;
  readonly #dirty = new Set<string>();
  #persisted = false;
  #persistedAt = 0;

  constructor(
    private readonly channel: Channel,
    private readonly options: { staleAfter: number; log?: Logger; now?: () => number; totalBytes?: number },
  ) {
    for (const { key, value } of channel.listState(NAMESPACE)) {
      try {
        const record = JSON.parse(value) as EdgeRecord;
        if (isReport(record.latest)) {
          this.#edges.set(key, record);
          this.#sized(key, JSON.stringify(record.latest).length);
        }
      } catch {
        // a record this version cannot read: the edge's next report replaces it
      }
    }
    this.#next = channel.getCursor(CONSUMER, FLEET_TOPIC) ?? 0;
  }

  /** Reads new reports every `intervalMs` (and once now). */
  start(intervalMs = 1000): void {
    this.poll();
    this.#timer = setInterval(() => {
      try {
        this.poll();
      } catch (error) {
        this.options.log?.warn({ err: (error as Error).message }, 'fleet: reading reports failed; trying again');
      }
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops polling and writes what was taken in (call before the channel closes). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    try {
      this.#persist();
    } catch (error) {
      this.options.log?.warn({ err: (error as Error).message }, 'fleet: writing the registry failed; it re-reads those reports at the next start');
    }
  }

  /** Takes in every report stored since the last call; returns how many. */
  poll(): number {
    if (this.channel.readonly) return 0;
    let taken = 0;
    for (;;) {
      const events = this.channel.read(FLEET_TOPIC, this.#next, { maxEvents: 500 });
      if (events.length === 0) break;
      const now = this.#now();
      for (const e of events) {
        let report: unknown;
        try {
          report = e.body.length <= FLEET_LIMITS.reportBytes ? JSON.parse(fromUtf8(e.body)) : null;
        } catch {
          report = null;
        }
        if (!isReport(report) || (!this.#edges.has(report.edge.id) && this.#edges.size >= FLEET_LIMITS.edges) || !this.#fits(report.edge.id, e.body.length)) {
          this.ignored++;
          continue;
        }
        this.#sized(report.edge.id, e.body.length);
        this.#take(report, now);
        this.#dirty.add(report.edge.id);
        taken++;
      }
      this.#next = events[events.length - 1].offset + 1;
    }
    if (!this.#persisted || this.#now() - this.#persistedAt >= PERSIST_EVERY_MS) this.#persist();
    return taken;
  }

  /** Writes the cursor and the records taken in since the last write, in one transaction. */
  #persist(): void {
    if (this.channel.readonly) return;
    const known = this.channel.getCursor(CONSUMER, FLEET_TOPIC) ?? 0;
    this.#persisted = true;
    this.#persistedAt = this.#now();
    if (this.#next === known && this.#dirty.size === 0) return;
    this.channel.commit(
      [{ consumer: CONSUMER, topic: FLEET_TOPIC, next: this.#next, protects: false }],
      [...this.#dirty].map((id) => ({ namespace: NAMESPACE, key: id, value: JSON.stringify(this.#edges.get(id)) })),
    );
    this.#dirty.clear();
  }

  /** Whether the edge's latest report can be `size` bytes within the budget of all reports. */
  #fits(id: string, size: number): boolean {
    return this.#bytes - (this.#sizes.get(id) ?? 0) + size <= (this.options.totalBytes ?? FLEET_LIMITS.totalBytes);
  }

  #sized(id: string, size: number): void {
    this.#bytes += size - (this.#sizes.get(id) ?? 0);
    this.#sizes.set(id, size);
  }

  #take(report: EdgeReport, now: number): void {
    const id = report.edge.id;
    const record = this.#edges.get(id);
    const b = backlogOf(report);
    const point = { at: report.at, backlogEvents: b.events, oldestUndeliveredSeconds: b.oldest };
    if (!record) {
      this.#edges.set(id, { latest: report, lastSeen: now, reports: 1, history: [point] });
      return;
    }
    record.reports++;
    record.lastSeen = now;
    // An edge's reports arrive in the order it made them (its channel keeps them in order, also
    // while it is cut off), so the last one taken in is its state — whatever its clock says: a
    // report stamped far in the future must not pin the state or the history.
    record.latest = report;
    record.history = [...record.history, point].slice(-HISTORY);
  }

  #now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Every edge, worst first: stale, failing, behind (by backlog age), then ok. */
  edges(): EdgeSummary[] {
    const now = this.#now();
    const rank = { stale: 0, failing: 1, behind: 2, ok: 3 } as const;
    return [...this.#edges.entries()]
      .map(([id, r]) => this.#summary(id, r, now))
      .sort((a, b) => rank[a.state] - rank[b.state] || b.oldestUndeliveredSeconds - a.oldestUndeliveredSeconds || b.backlogEvents - a.backlogEvents || a.id.localeCompare(b.id));
  }

  edge(id: string): EdgeSummary | undefined {
    const r = this.#edges.get(id);
    return r ? this.#summary(id, r, this.#now()) : undefined;
  }

  #summary(id: string, r: EdgeRecord, now: number): EdgeSummary {
    const l = r.latest;
    const b = backlogOf(l);
    const stale = now - r.lastSeen > this.options.staleAfter * Math.max(1000, l.intervalMs);
    const failing = l.sinks.some((s) => s.state === 'failed' || s.state === 'backing_off') || l.channel.refusing;
    return {
      ...l.edge,
      id,
      adminUrl: l.edge.adminUrl ?? null,
      lastSeen: r.lastSeen,
      reportedAt: l.at,
      stale,
      state: stale ? 'stale' : failing ? 'failing' : b.events > 0 ? 'behind' : 'ok',
      backlogEvents: b.events,
      oldestUndeliveredSeconds: b.oldest,
      reports: r.reports,
      latest: l,
      history: r.history,
    };
  }
}
