/**
 * Fleet: what an edge reports to its hubs, and what a hub serves about its edges
 * (GET /api/v1/edges, GET /api/v1/edges/:edge). docs/fleet.md has the meaning of every field.
 */

/** The reserved topic edges report into; forward sinks deliver it with everything else. */
export const FLEET_TOPIC = '_sluice.fleet';

export interface EdgeIdentity {
  id: string;
  host: string;
  version: string;
  /** sha256 of the config file's text (first 16 hex digits): tells when an edge's config changed. */
  configHash: string | null;
  startedAt: number;
  /** Where the edge's admin API listens, as a URL (a wildcard address becomes the host name). */
  adminUrl: string | null;
}

export interface EdgeTopicBacklog {
  topic: string;
  /** Events not yet delivered by the slowest sink that reads this topic. */
  backlogEvents: number;
  /** Bytes stored for the topic (what the edge holds). */
  storedBytes: number;
  /** Age in seconds of the oldest undelivered event; 0 when none. */
  oldestUndeliveredSeconds: number;
}

export interface EdgeSinkState {
  name: string;
  type: string;
  state: string;
  lag: number;
  lagSeconds: number;
  lastError: { message: string; at: number } | null;
}

/** One report, as an edge sends it (the body of an event on FLEET_TOPIC). */
export interface EdgeReport {
  kind: 'sluice.fleet.report';
  edge: EdgeIdentity;
  /** When the edge made it (its clock), ms since the epoch. */
  at: number;
  /** The interval the edge reports on, ms: the hub's staleness is a multiple of it. */
  intervalMs: number;
  topics: EdgeTopicBacklog[];
  sinks: EdgeSinkState[];
  channel: { bytes: number; maxBytes: number; fill: number; diskFreeBytes: number | null; refusing: boolean };
  /** Counters since the edge started. */
  counters: { received: number; accepted: number; rejected: number; dropped: number };
}

export interface EdgeHistoryPoint {
  at: number;
  backlogEvents: number;
  oldestUndeliveredSeconds: number;
}

/** A hub's view of one edge: its identity (from its latest report) and its state. */
export interface EdgeSummary extends EdgeIdentity {
  /** When the hub last received a report (its clock), ms since the epoch. */
  lastSeen: number;
  /** When the newest report was made (the edge's clock). */
  reportedAt: number;
  stale: boolean;
  /** `ok`, `behind` (a backlog), `failing` (a sink failed or backing off), `stale` (silent too long). */
  state: 'ok' | 'behind' | 'failing' | 'stale';
  backlogEvents: number;
  oldestUndeliveredSeconds: number;
  reports: number;
  latest: EdgeReport;
  history: EdgeHistoryPoint[];
}

export interface EdgesResponse {
  edges: EdgeSummary[];
}
