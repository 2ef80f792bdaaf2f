/**
 * A channel file with one 10,000,000-event topic, for the seek tests and the API benchmarks.
 * Built once through the Channel itself (large appends, small bodies, synchronous off — it is a
 * fixture, not a durability test) and kept in the OS temp folder between runs; a marker in the
 * file's state table says which fixture version and size it holds, and anything else is rebuilt.
 *
 * Layout, so that every answer can be checked by arithmetic:
 *   topic `big`, offsets 0 … N−1, no key, no headers, body = the offset as decimal text,
 *   ts(offset) = T0 + 2·⌊offset/2⌋: events come in pairs sharing a timestamp, pairs 2 ms apart.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Channel } from '../../collector/src/channel/channel.ts';
import type { EventDraft } from '../../shared/src/event.ts';

export const BIG_TOPIC = 'big';
export const BIG_EVENTS = 10_000_000;
export const BIG_T0 = Date.UTC(2026, 0, 1);
const VERSION = 2;
const NO_HEADERS = Object.freeze({});

export function bigTs(offset: number): number {
  return BIG_T0 + 2 * Math.floor(offset / 2);
}

function marker(events: number): string {
  return `v${VERSION}:${events}`;
}

function isReady(file: string, events: number): boolean {
  if (!existsSync(file)) return false;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare(`SELECT value FROM state WHERE namespace = 'fixture' AND key = 'big-topic'`).get() as { value: string } | undefined;
      return row?.value === marker(events);
    } finally {
      db.close();
    }
  } catch {
    return false;
  }
}

export interface BigTopic {
  /** The channel file (channel.db) — open it read-only, or copy it; do not write to it. */
  file: string;
  dir: string;
  events: number;
  /** How long building took, or null when an earlier run's file was reused. */
  buildMs: number | null;
}

/** The fixture file, built if missing or stale. `log` reports progress while building. */
export async function bigTopic(events = BIG_EVENTS, log: (m: string) => void = () => undefined): Promise<BigTopic> {
  const dir = join(tmpdir(), `sluice-big-topic-v${VERSION}-${events}`);
  const file = join(dir, 'channel.db');
  if (isReady(file, events)) return { file, dir, events, buildMs: null };

  const started = performance.now();
  const building = join(tmpdir(), `sluice-big-topic-building-${process.pid}-${Date.now()}`);
  mkdirSync(building, { recursive: true });
  const channel = Channel.open({
    file: join(building, 'channel.db'),
    synchronous: 'off',
    maxBytes: 1024 ** 4,
    maxCommitEvents: 1_000_000,
    retentionIntervalMs: 0,
    defaults: { retentionMs: null },
  });
  const CHUNK = 250_000;
  for (let from = 0; from < events; from += CHUNK) {
    const n = Math.min(CHUNK, events - from);
    // Bodies are slices of one buffer per chunk: no allocation per event.
    const text = Array.from({ length: n }, (_, k) => String(from + k)).join('');
    const all = Buffer.from(text, 'latin1');
    const batch: EventDraft[] = new Array(n);
    let pos = 0;
    for (let k = 0; k < n; k++) {
      const len = String(from + k).length;
      batch[k] = { topic: BIG_TOPIC, ts: bigTs(from + k), key: null, headers: NO_HEADERS, body: all.subarray(pos, pos + len) };
      pos += len;
    }
    await channel.append({ events: batch, ...(from + n >= events ? { state: [{ namespace: 'fixture', key: 'big-topic', value: marker(events) }] } : {}) });
    if ((from / CHUNK) % 8 === 7) log(`big topic: ${from + n} of ${events} events`);
  }
  await channel.close();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  renameSync(join(building, 'channel.db'), file);
  rmSync(building, { recursive: true, force: true });
  return { file, dir, events, buildMs: performance.now() - started };
}
