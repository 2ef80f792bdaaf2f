/**
 * The crash test's workload, shared by the child that appends and the parent that verifies.
 *
 * Every append request is a pure function of (seed, run, producer, seq), so the parent can
 * regenerate exactly what the child appended from the few numbers the child prints, and every
 * stored event names the request it came from: its body starts with `r<run>.p<producer>.s<seq>.e<j>|`
 * followed by pseudo-random bytes (0–255). Keys are sometimes null or empty, headers sometimes
 * empty, requests sometimes span several topics, timestamps are not monotone.
 *
 * A child's stdout line per acknowledged request (printed only after `append` resolved):
 *   {"run":3,"p":5,"seq":17,"sum":"<sha256 of the request>","ranges":[{"topic","first","last"}…]}
 */
import { createHash } from 'node:crypto';
import type { EventDraft } from '../../shared/src/event.ts';
import { prng } from '../helpers/random.ts';

export const TOPICS = ['orders', 'logs.app', 'metrics.cpu', 'audit'] as const;
export const PRODUCERS = 8;
/** The state namespace each producer writes its last (run, seq) to, atomically with its events. */
export const STATE_NAMESPACE = 'crash-test';
/** Producer number of the parent's probe appends (one event per topic after each restart). */
export const PROBE = 99;

export interface AckLine {
  run: number;
  p: number;
  seq: number;
  sum: string;
  ranges: { topic: string; first: number; last: number }[];
}

export interface EventId {
  run: number;
  p: number;
  seq: number;
  j: number;
}

export { prng } from '../helpers/random.ts';

function mix(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p & 0xffff), 0x01000193);
    h = Math.imul(h ^ (p >>> 16), 0x01000193);
  }
  return h >>> 0;
}

const encoder = new TextEncoder();

export function idOf(id: EventId): string {
  return `r${id.run}.p${id.p}.s${id.seq}.e${id.j}`;
}

const ID_PATTERN = /^r(\d+)\.p(\d+)\.s(\d+)\.e(\d+)\|/;

/** Reads the id an event's body starts with; null if the body is not one of ours. */
export function parseId(body: Uint8Array): EventId | null {
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, 48)).toString('latin1');
  const m = ID_PATTERN.exec(head);
  return m ? { run: Number(m[1]), p: Number(m[2]), seq: Number(m[3]), j: Number(m[4]) } : null;
}

function makeBody(id: string, random: () => number): Uint8Array {
  const prefix = encoder.encode(`${id}|`);
  const n = Math.floor(random() * 400);
  const body = new Uint8Array(prefix.length + n);
  body.set(prefix);
  for (let i = prefix.length; i < body.length; i++) body[i] = Math.floor(random() * 256);
  return body;
}

/**
 * The events of request `seq` of producer `p` in run `run`: 1–60 events over 1–3 topics,
 * the topics interleaved (a request's events need not be grouped by topic).
 */
export function requestEvents(seed: number, run: number, p: number, seq: number): EventDraft[] {
  const random = prng(mix(seed, run, p, seq));
  const topicCount = random() < 0.7 ? 1 : random() < 0.6 ? 2 : 3;
  const start = Math.floor(random() * TOPICS.length);
  const n = 1 + Math.floor(random() * 60);
  const events: EventDraft[] = new Array(n);
  for (let j = 0; j < n; j++) {
    const topic = TOPICS[(start + Math.floor(random() * topicCount)) % TOPICS.length];
    events[j] = makeEvent(topic, { run, p, seq, j }, random);
  }
  return events;
}

/** The parent's probe after restart `cycle`: one event per topic. */
export function probeEvents(seed: number, cycle: number): EventDraft[] {
  const random = prng(mix(seed, cycle, PROBE));
  return TOPICS.map((topic, j) => makeEvent(topic, { run: cycle, p: PROBE, seq: 0, j }, random));
}

/** Regenerates the request an event id belongs to. */
export function eventsOf(seed: number, id: Pick<EventId, 'run' | 'p' | 'seq'>): EventDraft[] {
  return id.p === PROBE ? probeEvents(seed, id.run) : requestEvents(seed, id.run, id.p, id.seq);
}

function makeEvent(topic: string, id: EventId, random: () => number): EventDraft {
  const name = idOf(id);
  const r = random();
  const key = r < 0.3 ? null : r < 0.4 ? '' : `k${id.p}-${Math.floor(random() * 7)}`;
  const h = random();
  const headers: Record<string, string> =
    h < 0.2
      ? {}
      : h < 0.8
        ? { 'content-type': 'application/octet-stream', 'x-id': name }
        : { 'content-type': 'text/plain; charset=utf-8', 'x-id': name, 'x-note': 'é ✓ 日本', 'x-empty': '' };
  // Not monotone: some events are older than their predecessors.
  const ts = 1_700_000_000_000 + id.run * 1_000_000 + id.seq * 100 + Math.floor(random() * 200) - 50;
  return { topic, ts, key, headers, body: makeBody(name, random) };
}

/** A checksum over everything the channel must keep of a request's events. */
export function checksum(events: readonly EventDraft[]): string {
  const hash = createHash('sha256');
  for (const e of events) {
    hash.update(`${e.topic}\0${e.ts}\0${e.key === null ? '\u0001' : e.key}\0`);
    for (const k of Object.keys(e.headers).sort()) hash.update(`${k}=${e.headers[k]}\0`);
    hash.update(`${e.body.length}\0`);
    hash.update(e.body);
  }
  return hash.digest('hex');
}
