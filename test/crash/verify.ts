/**
 * The crash test's verifier: checks a channel file against everything acknowledged so far.
 * See channel-crash.test.ts for what is promised.
 */
import type { EventDraft } from '../../shared/src/event.ts';
import type { Channel } from '../../collector/src/channel/channel.ts';
import { PROBE, PRODUCERS, STATE_NAMESPACE, TOPICS, eventsOf, idOf, parseId, type AckLine, type EventId } from './workload.ts';

export interface Located {
  topic: string;
  offset: number;
}

export const keyOf = (id: Pick<EventId, 'run' | 'p' | 'seq'>) => `${id.run}/${id.p}/${id.seq}`;

/** Everything verified so far, carried from one crash to the next. */
export class Ledger {
  readonly acks: AckLine[] = [];
  /** Every event ever seen in the file: id → where it was. */
  readonly seen = new Map<string, Located>();
  ackedEventsChecked = 0;
  #requests = new Map<string, EventDraft[]>();

  constructor(readonly seed: number) {}

  events(id: Pick<EventId, 'run' | 'p' | 'seq'>): EventDraft[] {
    const key = keyOf(id);
    let events = this.#requests.get(key);
    if (!events) this.#requests.set(key, (events = eventsOf(this.seed, id)));
    return events;
  }
}

function sameEvent(actual: EventDraft, expected: EventDraft): string | null {
  if (actual.topic !== expected.topic) return `topic ${actual.topic} ≠ ${expected.topic}`;
  if (actual.ts !== expected.ts) return `ts ${actual.ts} ≠ ${expected.ts}`;
  if (actual.key !== expected.key) return `key ${JSON.stringify(actual.key)} ≠ ${JSON.stringify(expected.key)}`;
  const ak = Object.keys(actual.headers);
  if (ak.length !== Object.keys(expected.headers).length || ak.some((k) => actual.headers[k] !== expected.headers[k])) {
    return `headers ${JSON.stringify(actual.headers)} ≠ ${JSON.stringify(expected.headers)}`;
  }
  if (Buffer.compare(view(actual.body), view(expected.body)) !== 0) return `body differs (${actual.body.length} vs ${expected.body.length} bytes)`;
  return null;
}

const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length);

/** Checks the whole file against the ledger; returns the problems found (at most a few dozen). */
export function verify(channel: Channel, ledger: Ledger): { problems: string[]; highs: Map<string, number>; stored: number } {
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < 30) problems.push(p);
  };
  const highs = new Map<string, number>();
  const where = new Map<string, Located>();
  /** Stored requests: key → offsets by event index. */
  const present = new Map<string, { id: EventId; offsets: (Located | undefined)[] }>();
  let stored = 0;

  for (const topic of TOPICS) {
    const info = channel.topic(topic);
    if (!info) continue;
    highs.set(topic, info.high);
    if (info.low !== 0) problem(`${topic}: low watermark ${info.low}, expected 0 (nothing was deleted)`);
    if (info.count !== info.high - info.low) problem(`${topic}: count ${info.count} but watermarks ${info.low}..${info.high}`);
    let next = 0;
    while (next < info.high) {
      const page = channel.read(topic, next, { maxEvents: 5000 });
      if (page.length === 0) {
        problem(`${topic}: read at ${next} returned nothing below the high watermark ${info.high}: gap`);
        break;
      }
      for (const e of page) {
        if (e.offset !== next) problem(`${topic}: offset ${e.offset} where ${next} was expected: offsets not dense`);
        next = e.offset + 1;
        stored++;
        const id = parseId(e.body);
        if (!id) {
          problem(`${topic}@${e.offset}: body is not one the producers wrote`);
          continue;
        }
        const name = idOf(id);
        const expected = ledger.events(id)[id.j];
        const diff = expected ? sameEvent(e, expected) : 'no such event in its request';
        if (diff) problem(`${topic}@${e.offset} (${name}): ${diff}`);
        if (where.has(name)) problem(`${name} stored twice: ${topic}@${e.offset} and ${where.get(name)!.topic}@${where.get(name)!.offset}`);
        where.set(name, { topic, offset: e.offset });
        const key = keyOf(id);
        let req = present.get(key);
        if (!req) present.set(key, (req = { id, offsets: [] }));
        req.offsets[id.j] = { topic, offset: e.offset };
      }
    }
    if (next !== info.high) problem(`${topic}: read up to ${next}, high watermark is ${info.high}`);
  }

  // Nothing half-written: every stored request is whole, and contiguous in each topic in request order.
  const latest = new Map<number, EventId>();
  for (const { id, offsets } of present.values()) {
    const events = ledger.events(id);
    const lastInTopic = new Map<string, number>();
    for (let j = 0; j < events.length; j++) {
      const at = offsets[j];
      if (!at) {
        problem(`request ${keyOf(id)}: event ${j} of ${events.length} missing while others are stored (half-written commit)`);
        break;
      }
      const before = lastInTopic.get(at.topic);
      if (before !== undefined && at.offset !== before + 1) problem(`request ${keyOf(id)}: ${at.topic} offsets not contiguous (${before} then ${at.offset})`);
      lastInTopic.set(at.topic, at.offset);
    }
    if (id.p !== PROBE) {
      const l = latest.get(id.p);
      if (!l || id.run > l.run || (id.run === l.run && id.seq > l.seq)) latest.set(id.p, id);
    }
  }

  // Every acknowledged request: whole, at exactly the offsets it was acknowledged with.
  for (const ack of ledger.acks) {
    const events = ledger.events(ack);
    for (const range of ack.ranges) {
      const js = events.flatMap((e, j) => (e.topic === range.topic ? [j] : []));
      if (js.length !== range.last - range.first + 1) problem(`request ${keyOf(ack)}: range ${range.topic} ${range.first}..${range.last} but ${js.length} events`);
      js.forEach((j, i) => {
        const at = where.get(idOf({ ...ack, j }));
        if (!at) problem(`acknowledged ${idOf({ ...ack, j })} (${range.topic}@${range.first + i}) is missing`);
        else if (at.topic !== range.topic || at.offset !== range.first + i) {
          problem(`acknowledged ${idOf({ ...ack, j })} at ${at.topic}@${at.offset}, acknowledged as ${range.topic}@${range.first + i}`);
        }
      });
    }
    ledger.ackedEventsChecked += events.length;
  }

  // What one recovery showed stays put through every later crash.
  for (const [name, before] of ledger.seen) {
    const now = where.get(name);
    if (!now || now.topic !== before.topic || now.offset !== before.offset) {
      problem(`${name} was at ${before.topic}@${before.offset} after an earlier crash, now ${now ? `${now.topic}@${now.offset}` : 'missing'}`);
    }
  }
  for (const [name, at] of where) ledger.seen.set(name, at);

  // State written with an append commits with it: each producer's state names its newest stored request.
  for (let p = 0; p < PRODUCERS; p++) {
    const state = channel.getState(STATE_NAMESPACE, `p${p}`);
    const l = latest.get(p);
    const expected = l ? `${l.run}:${l.seq}` : null;
    if (state !== expected) problem(`producer ${p}: state ${state} but newest stored request ${expected}`);
  }
  return { problems, highs, stored };
}

