/**
 * Admin API types for the core routes (collector/src/admin/routes/core.ts): health, topics,
 * sources, sinks. Both sides use them: the collector builds these shapes, the desktop renderer
 * and the CLI read them. JSON only — numbers are ms since the epoch for times, bytes for sizes.
 */

/** Every error answer: `{ "error": { "code", "message" } }` with a proper HTTP status. */
export interface ApiErrorBody {
  error: {
    /** A stable code from shared/src/errors.ts (`SLUICE_TOPIC_NOT_FOUND`, …). */
    code: string;
    message: string;
    /** Config problems, when the error is about a config (a chain, a sink). */
    problems?: { path: string; message: string }[];
  };
}

export type SinkState = 'starting' | 'running' | 'backing_off' | 'failed' | 'stopped';

/** GET /api/v1/health */
export interface HealthResponse {
  status: 'ok' | 'degraded';
  /** Why the status is `degraded`, in words (empty when ok). */
  problems?: string[];
  collectorId: string;
  version: string;
  startedAt: number;
  uptimeMs: number;
  /** `sluice inspect`: a read-only look at a copy of a channel file. */
  readonly: boolean;
  channel: { file: string; bytes: number; maxBytes: number; fill: number; walBytes: number; disk?: ChannelDiskState | null; integrity?: ChannelIntegrity };
  sinks: { name: string; state: SinkState }[];
}

/** The channel's integrity check (docs/operations.md, "Damaged channel files"). */
export interface ChannelIntegrity {
  /** The check of every stored batch that runs in the background after start. */
  scan: 'idle' | 'scanning' | 'done';
  checkedBatches: number;
  /** Batches written before CRCs existed (schema 1): checked by decoding only. */
  uncheckedBatches: number;
  /** Damaged offset ranges found so far (inclusive), each also named in `problems`. */
  damaged: { topic: string; first: number; last: number; reason: string }[];
  /** Topics whose retention cannot delete a damaged batch: salvage the file with `sluice doctor`. */
  retentionBlocked: string[];
}

/** The channel's free-space guard (`channel.min_free_space`). */
export interface ChannelDiskState {
  /** The folder whose filesystem is watched. */
  dir: string;
  /** Free bytes at the last probe (-1: unknown). */
  freeBytes: number;
  totalBytes: number;
  /** Free space the channel keeps before it refuses new events. */
  requiredBytes: number;
  /** True while the channel refuses new events for lack of disk space. */
  full: boolean;
  reason: string | null;
  since: number | null;
  /** How many times the channel became full for lack of disk space since start. */
  episodes: number;
}

/** One topic as the channel reports it. */
export interface TopicInfo {
  name: string;
  /** First offset still stored (equals `high` when the topic is empty). */
  low: number;
  /** Next offset to be assigned. */
  high: number;
  count: number;
  bytes: number;
  /** Undelivered events removed by `drop_oldest`. */
  dropped: number;
  /** Events removed by retention. */
  expired: number;
  createdAt: number;
  lastTs: number | null;
}

export interface TopicSummary extends TopicInfo {
  /** Events appended per second, sampled between calls. */
  ratePerSec: number;
}

/** GET /api/v1/topics */
export interface TopicsResponse {
  topics: TopicSummary[];
}

export interface TopicPolicy {
  retentionMs: number | null;
  retentionBytes: number | null;
  whenFull: 'block' | 'drop_oldest';
}

export interface TopicCursor {
  /** `sink:<name>` for sinks, `group:<name>` for consumer groups. */
  consumer: string;
  topic: string;
  /** The next offset this consumer will read. */
  next: number;
  protects: boolean;
  updatedAt: number;
  lag: number;
}

/** GET /api/v1/topics/:topic */
export interface TopicDetailResponse extends TopicInfo {
  policy: TopicPolicy;
  cursors: TopicCursor[];
}

/** One interceptor of a chain: `{ type, ...config }`, as in the YAML file. */
export interface InterceptorEntry {
  type: string;
  [key: string]: unknown;
}

export interface SourceStatus {
  name: string;
  type: string;
  endpoints: string[];
  interceptors: InterceptorEntry[];
  /** Bumped on every live chain change. */
  chainVersion: number;
  received: number;
  accepted: number;
  rejected: number;
  /** Dropped by the interceptor chain. */
  dropped: number;
  lastEventAt: number | null;
  /** Network sources (syslog, forward): connections, closures by reason, UDP losses. */
  network?: {
    connections?: number;
    closed?: Record<string, number>;
    udpDropped?: Record<string, number>;
    udpReceiveBufferBytes?: number;
  };
}

/** GET /api/v1/sources */
export interface SourcesResponse {
  sources: SourceStatus[];
}

export interface SinkError {
  message: string;
  code: string;
  at: number;
  retriable: boolean;
}

export interface SinkTopicStatus {
  topic: string;
  cursor: number;
  high: number;
  low: number;
  /** Events not yet delivered. */
  lag: number;
  /** Age in seconds of the oldest undelivered event (by its timestamp, set at ingest unless the protocol supplied one); 0 when none. */
  lagSeconds: number;
  /** Events per second delivered over the last 10 s. */
  rate: number;
  /** `backing_off` while this topic's last attempt failed and its retry is pending (other topics go on). */
  state: 'running' | 'backing_off';
  nextAttemptAt: number | null;
}

/** GET /api/v1/sinks/:sink (and each entry of GET /api/v1/sinks) */
export interface SinkStatus {
  name: string;
  type?: string;
  state: SinkState;
  topics: SinkTopicStatus[];
  lag: number;
  /** The largest `lagSeconds` of the topics. */
  lagSeconds: number;
  /** Events per second delivered over the last 10 s, all topics. */
  rate: number;
  lastError: SinkError | null;
  nextAttemptAt: number | null;
  attempt: number;
  sentEvents: number;
  sentBatches: number;
  parkedEvents: number;
  lastSuccessAt: number | null;
  detail?: Record<string, unknown>;
}

/** GET /api/v1/sinks */
export interface SinksResponse {
  sinks: SinkStatus[];
}
