/**
 * The channel's types: its options, what appends, reads and cursor moves take and return, and the
 * rows of its tables as the façade (channel.ts) and its parts read them.
 */
import type { TopicInfo } from '../../../shared/src/api/core.ts';
import type { EventDraft } from '../../../shared/src/event.ts';
import type { DiskState, FreeSpaceProbe, MinFreeSpace } from './disk.ts';
import type { EncodedBatch } from './format.ts';

export type SynchronousLevel = 'off' | 'normal' | 'full' | 'extra';
export type WhenFull = 'block' | 'drop_oldest';

export interface TopicPolicy {
  /** Delete delivered events older than this (ms); null keeps them. */
  retentionMs: number | null;
  /** Keep at most this many payload bytes per topic (delivered events go first); null: no bound. */
  retentionBytes: number | null;
  /** At capacity: `block` rejects appends (back-pressure); `drop_oldest` removes the oldest events even if undelivered. */
  whenFull: WhenFull;
}

export interface ChannelOptions {
  /** The database file. Its folder is created. */
  file: string;
  synchronous?: SynchronousLevel;
  /** Capacity: total payload bytes over all topics. */
  maxBytes?: number;
  /** Group commit: wait this long for more appends before committing (0: commit on the next turn). */
  commitWindowMs?: number;
  /** Group commit: commit at once when this many events are pending. */
  maxCommitEvents?: number;
  /** Events per stored record batch. */
  maxBatchEvents?: number;
  /** Payload bytes per stored record batch (approximate: checked on raw body sizes). */
  maxBatchBytes?: number;
  defaults?: Partial<TopicPolicy>;
  /** Per-topic policies; keys are topic names or globs (`logs.*`). The first match wins. */
  topics?: Record<string, Partial<TopicPolicy>>;
  /** Run a PASSIVE checkpoint once this many bytes were committed since the last one. */
  checkpointBytes?: number;
  /** If the WAL file is larger than this after a checkpoint, truncate it (RESTART/TRUNCATE). */
  walMaxBytes?: number;
  /** How often retention runs, ms (also run when the channel is full). 0 disables the timer. */
  retentionIntervalMs?: number;
  /**
   * Free space to keep on the channel's filesystem (`channel.min_free_space`): below it appends
   * are refused with CHANNEL_FULL (disk.ts). Bytes, `{ ratio }` of the filesystem, or `auto`
   * (default: 256 MiB, at most 10% of the filesystem); 0 disables the guard.
   */
  minFreeSpace?: MinFreeSpace;
  /** How the guard asks for free space (default statfs); for tests. */
  freeSpaceProbe?: FreeSpaceProbe;
  readonly?: boolean;
  /**
   * Check every stored batch in the background after opening (integrity.ts). Default: true for a
   * writable channel (a collector), false read-only (inspect, tests, benchmarks): reads are
   * checked either way.
   */
  integrityScan?: boolean;
  /** Clock, for tests. */
  now?: () => number;
}

/** A state write committed in the same transaction as an append or a cursor commit. `value: null` deletes. */
export interface StateWrite {
  namespace: string;
  key: string;
  value: string | null;
}

export interface AppendRequest {
  events: readonly EventDraft[];
  /**
   * Record batches already encoded in the current format (a Sluice edge's stored batches, checked
   * by format.ts `checkBatches`): each becomes one stored batch as it is, after the request's events.
   */
  batches?: readonly TopicBatch[];
  state?: readonly StateWrite[];
  /** When given and already recorded, nothing is appended and the result says `duplicate`. */
  dedupe?: { namespace: string; key: string };
}

/** A pre-encoded record batch (format RECORD_FORMAT) and the topic it goes to. */
export interface TopicBatch extends EncodedBatch {
  topic: string;
}

/** One stored record batch as read, undecoded; `first`/`last` clip it to what was asked for. */
export interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  /** The offsets of this batch that belong to the read (a read may start or end inside a batch). */
  first: number;
  last: number;
  minTs: number;
  maxTs: number;
  format: number;
  payload: Buffer;
}

export interface OffsetRange {
  topic: string;
  first: number;
  last: number;
}

export interface AppendResult {
  duplicate: boolean;
  ranges: OffsetRange[];
}

/** A topic's watermarks and counts, as the admin API shows them (shared/src/api/core.ts). */
export type { TopicInfo };

export interface CursorInfo {
  consumer: string;
  topic: string;
  /** The next offset this consumer will read. */
  next: number;
  protects: boolean;
  updatedAt: number;
}

export type PositionSpec =
  | { earliest: true }
  | { latest: true }
  | { offset: number }
  | { time: number }
  | { shift: number };

export interface CursorMove {
  consumer: string;
  topic: string;
  current: number | null;
  target: number;
  low: number;
  high: number;
  /** Events that will be delivered again (0 when moving forward). */
  redeliver: number;
  /** Events skipped without delivery (0 when moving backward). */
  skip: number;
}

export interface CursorCommit {
  consumer: string;
  topic: string;
  next: number;
  protects?: boolean;
}

export interface ReadOptions {
  maxEvents?: number;
  maxBytes?: number;
}

export interface ChannelStats {
  bytes: number;
  maxBytes: number;
  fill: number;
  topics: number;
  events: number;
  walBytes: number;
  commits: number;
  appendedEvents: number;
  /** Append requests refused because the channel held max_bytes of undelivered events. */
  rejectedFull: number;
  /** Append requests refused because the disk was (nearly) full. */
  rejectedDisk: number;
  /** The free-space guard; null for a read-only channel. */
  disk: DiskState | null;
}

export interface PendingAppend {
  request: AppendRequest;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

export interface TopicRow {
  id: number;
  name: string;
  next_offset: number;
  low_offset: number;
  event_count: number;
  bytes: number;
  max_ts: number | null;
  dropped: number;
  expired: number;
  created_at: number;
}

export interface BatchRow {
  id: number;
  base_offset: number;
  last_offset: number;
  format: number;
  payload: Buffer;
  crc: number | null;
}

/** Why retention removed events: the topic's max_age, its max_bytes, or the channel's capacity. */
export type ExpiryReason = 'age' | 'size' | 'capacity';

export interface Protector {
  consumer: string;
  matches: (topic: string) => boolean;
}

export const DEFAULT_POLICY: TopicPolicy = { retentionMs: 7 * 24 * 3600_000, retentionBytes: null, whenFull: 'block' };
