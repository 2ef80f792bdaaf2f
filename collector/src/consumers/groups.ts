/**
 * The consumer API (DESIGN §6): Kafka-style pull by offset for consumers of a hub. A consumer
 * group is nothing but cursors named `group:<name>` in the channel (the naming replay uses), with
 * `protects: false`: as in Kafka, a group does not hold back retention. No configuration names a
 * group; the first commit creates it.
 *
 * A fetch reads from, in this order of precedence: an explicit position (`offset`, `time`,
 * `last`), the group's committed offset, or the `reset` policy. The reset policy also applies
 * when the position is older than what retention kept (Kafka's auto.offset.reset on
 * OFFSET_OUT_OF_RANGE). `commit=true` commits the fetch's start offset before reading — the
 * acknowledgement of everything before it, which is when Kafka's auto-commit commits too — so a
 * consumer looping `offset=<next>&commit=true` is at-least-once with one request per batch.
 */
import type { FetchQuery, FetchResponse, Group, GroupTopic, ProduceEvent, ResetPolicy } from '../../../shared/src/api/consumers.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { CONTENT_TYPE, ContentTypes, isValidTopic, utf8, type EventDraft } from '../../../shared/src/event.ts';
import type { Channel, CursorInfo } from '../channel/channel.ts';
import { presentEvent, type BodyDecoder } from './present.ts';
import { parseTime } from './time.ts';
import { GROUP_PREFIX, groupConsumer } from './names.ts';

/** `group:`: cursors of consumer groups are named as group replay names them. */

export function checkTopicName(topic: string): void {
  if (!isValidTopic(topic)) {
    throw new SluiceError(ErrorCodes.TOPIC_INVALID, `invalid topic name "${topic}": use 1–249 letters, digits, '.', '_' or '-'`);
  }
}

function onlyOnePosition(q: FetchQuery): void {
  const given = (['offset', 'time', 'last'] as const).filter((k) => q[k] !== undefined);
  if (given.length > 1) throw new SluiceError(ErrorCodes.BAD_INPUT, `give one of offset, time, last (got ${given.join(' and ')})`);
}

interface Start {
  offset: number;
  notes: string[];
}

/** Where a fetch starts reading, and what was adjusted on the way. */
export function resolveStart(channel: Channel, topic: string, q: FetchQuery): Start {
  onlyOnePosition(q);
  const info = channel.topic(topic);
  const low = info?.low ?? 0;
  const high = info?.high ?? 0;
  const reset: ResetPolicy = q.reset ?? 'earliest';
  const notes: string[] = [];
  let wanted: number | null;
  let what: string;
  if (q.offset !== undefined) {
    if (q.offset > high) throw new SluiceError(ErrorCodes.OFFSET_OUT_OF_RANGE, `topic "${topic}": offset ${q.offset} is beyond the end (high watermark ${high})`);
    wanted = q.offset;
    what = `offset ${q.offset}`;
  } else if (q.time !== undefined) {
    wanted = channel.offsetForTime(topic, parseTime(q.time, 'time'));
    what = `time ${q.time}`;
  } else if (q.last !== undefined) {
    wanted = Math.max(low, high - q.last);
    what = `last ${q.last}`;
  } else {
    wanted = q.group === undefined ? null : channel.getCursor(groupConsumer(q.group), topic);
    what = `committed offset ${wanted}`;
  }

  if (wanted === null) {
    if (reset === 'none') {
      throw new SluiceError(
        ErrorCodes.CURSOR_NOT_FOUND,
        q.group === undefined
          ? `topic "${topic}": give offset, time, last or a group, or reset=earliest|latest`
          : `consumer group "${q.group}" has no committed offset for topic "${topic}" and reset=none; give offset, time or last, or reset=earliest|latest`,
      );
    }
    return { offset: reset === 'latest' ? high : low, notes };
  }
  if (wanted >= low) return { offset: wanted, notes };
  if (reset === 'none') {
    throw new SluiceError(
      ErrorCodes.OFFSET_OUT_OF_RANGE,
      `topic "${topic}": ${what} is older than what retention kept (earliest is ${low}) and reset=none; fetch with reset=earliest or reset=latest`,
    );
  }
  const to = reset === 'latest' ? high : low;
  notes.push(`${what} is older than what retention kept (earliest is ${low}): ${low - wanted} events were removed unread; reset to ${reset} (${to})`);
  return { offset: to, notes };
}

export interface FetchOptions {
  /** Aborts a long-poll (client gone, server closing). */
  signal?: AbortSignal;
  /** A read-only inspection: commits are refused. */
  readonly?: boolean;
  /** The topic's viewer schema: bodies decoded with it, as browse shows them (raw bytes kept). */
  decoder?: BodyDecoder | null;
}

/** One fetch: resolve the start, optionally commit it, read (long-polling when there is nothing yet). */
export async function fetchEvents(channel: Channel, topic: string, q: FetchQuery, options: FetchOptions = {}): Promise<FetchResponse> {
  checkTopicName(topic);
  if (q.commit && q.group === undefined) throw new SluiceError(ErrorCodes.BAD_INPUT, 'commit=true needs a group: give group=<name>');
  if (q.commit && options.readonly) throw readonlyError('commit offsets');
  const start = resolveStart(channel, topic, q);
  const consumer = q.group === undefined ? null : groupConsumer(q.group);
  if (q.commit && consumer !== null && channel.topic(topic) && channel.getCursor(consumer, topic) !== start.offset) {
    channel.commit([{ consumer, topic, next: start.offset, protects: false }]);
  }

  const read = { maxEvents: q.max ?? 500, maxBytes: q.maxBytes ?? 1024 * 1024 };
  let events = channel.read(topic, start.offset, read);
  const wait = q.wait ?? 0;
  if (events.length === 0 && wait > 0 && !options.signal?.aborted) {
    if (await channel.waitFor(topic, start.offset, wait, options.signal)) events = channel.read(topic, start.offset, read);
  }
  if (events.length > 0 && events[0].offset > start.offset) {
    // Retention ran between resolving the start and reading (or during the wait).
    start.notes.push(`offsets ${start.offset}–${events[0].offset - 1} were removed by retention before they were read`);
  }
  const next = events.length > 0 ? events[events.length - 1].offset + 1 : start.offset;
  const info = channel.closed ? undefined : channel.topic(topic);
  const high = Math.max(info?.high ?? 0, next);
  const raw = q.raw ?? true;
  return {
    topic,
    group: q.group ?? null,
    exists: info !== undefined,
    offset: start.offset,
    next,
    low: info?.low ?? 0,
    high,
    lag: high - next,
    committed: consumer === null || channel.closed ? null : channel.getCursor(consumer, topic),
    events: events.map((e) => presentEvent(e, { raw, decoder: options.decoder })),
    notes: start.notes,
  };
}

function topicView(channel: Channel, c: CursorInfo): GroupTopic {
  const info = channel.topic(c.topic);
  const low = info?.low ?? 0;
  const high = info?.high ?? 0;
  return {
    topic: c.topic,
    committed: c.next,
    low,
    high,
    lag: Math.max(0, high - Math.max(c.next, low)),
    lost: Math.max(0, low - c.next),
    updatedAt: c.updatedAt,
  };
}

function toGroup(channel: Channel, name: string, cursors: readonly CursorInfo[]): Group {
  const topics = cursors.map((c) => topicView(channel, c));
  return {
    name,
    lag: topics.reduce((a, t) => a + t.lag, 0),
    updatedAt: topics.reduce((a, t) => Math.max(a, t.updatedAt), 0),
    topics,
  };
}

/** Every consumer group (cursors named `group:…`), by name. */
export function listGroups(channel: Channel): Group[] {
  const byGroup = new Map<string, CursorInfo[]>();
  for (const c of channel.cursors()) {
    if (!c.consumer.startsWith(GROUP_PREFIX)) continue;
    const name = c.consumer.slice(GROUP_PREFIX.length);
    let list = byGroup.get(name);
    if (!list) byGroup.set(name, (list = []));
    list.push(c);
  }
  return [...byGroup.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, cursors]) => toGroup(channel, name, cursors));
}

export function describeGroup(channel: Channel, group: string): Group {
  const cursors = channel.cursors(groupConsumer(group));
  if (cursors.length === 0) throw noGroup(group);
  return toGroup(channel, group, cursors);
}

/** Commits offsets of several topics in one transaction; nothing is committed when one is refused. */
export function commitOffsets(channel: Channel, group: string, offsets: readonly { topic: string; offset: number }[], readonly = false): Group {
  if (readonly) throw readonlyError('commit offsets');
  const seen = new Set<string>();
  for (const { topic, offset } of offsets) {
    if (seen.has(topic)) throw new SluiceError(ErrorCodes.BAD_INPUT, `offsets: topic "${topic}" is given twice`);
    seen.add(topic);
    checkTopicName(topic);
    // Channel.commit would create a missing topic; a commit names topics that exist.
    const info = channel.topic(topic);
    if (!info) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
    if (offset > info.high) {
      throw new SluiceError(ErrorCodes.OFFSET_OUT_OF_RANGE, `topic "${topic}": offset ${offset} is beyond the end (high watermark ${info.high}); nothing was committed`);
    }
  }
  const consumer = groupConsumer(group);
  channel.commit(offsets.map((o) => ({ consumer, topic: o.topic, next: o.offset, protects: false })));
  return describeGroup(channel, group);
}

/** Forgets a group's offsets (all, or of the named topics). */
export function deleteGroup(channel: Channel, group: string, topics: readonly string[] | undefined, readonly = false): { group: string; deleted: { topic: string; committed: number }[] } {
  if (readonly) throw readonlyError('delete a group');
  const consumer = groupConsumer(group);
  const cursors = channel.cursors(consumer);
  if (cursors.length === 0) throw noGroup(group);
  let doomed = cursors;
  if (topics !== undefined && topics.length > 0) {
    const missing = topics.filter((t) => !cursors.some((c) => c.topic === t));
    if (missing.length > 0) throw new SluiceError(ErrorCodes.CURSOR_NOT_FOUND, `consumer group "${group}" has no offset for topic${missing.length === 1 ? '' : 's'} ${missing.map((t) => `"${t}"`).join(', ')}`);
    doomed = cursors.filter((c) => topics.includes(c.topic));
  }
  for (const c of doomed) channel.deleteCursor(consumer, c.topic);
  return { group, deleted: doomed.map((c) => ({ topic: c.topic, committed: c.next })) };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The drafts a produce request appends: bodies from `value` (JSON text), `text` (UTF-8) or
 * `base64`, a content-type from the body kind unless the headers give one. No interceptor runs:
 * the events are stored as given, like kafka-console-producer writes to a topic.
 */
export function produceDrafts(topic: string, events: readonly ProduceEvent[], now: number): EventDraft[] {
  checkTopicName(topic);
  return events.map((e, i) => {
    const kinds = (['value', 'text', 'base64'] as const).filter((k) => k in e && e[k] !== undefined);
    if (kinds.length !== 1) {
      throw new SluiceError(ErrorCodes.BAD_INPUT, `events[${i}]: give exactly one of value, text, base64 as the body (got ${kinds.join(', ') || 'none'})`);
    }
    let body: Uint8Array;
    let type: string;
    if (kinds[0] === 'value') {
      body = utf8(JSON.stringify(e.value));
      type = ContentTypes.json;
    } else if (kinds[0] === 'text') {
      body = utf8(e.text!);
      type = ContentTypes.text;
    } else {
      if (!BASE64.test(e.base64!)) throw new SluiceError(ErrorCodes.BAD_INPUT, `events[${i}].base64: not base64 (RFC 4648 alphabet, padded)`);
      body = Buffer.from(e.base64!, 'base64');
      type = ContentTypes.binary;
    }
    const headers = { ...e.headers };
    if (headers[CONTENT_TYPE] === undefined) headers[CONTENT_TYPE] = type;
    return { topic, ts: e.ts ?? now, key: e.key ?? null, headers, body };
  });
}

function noGroup(group: string): SluiceError {
  return new SluiceError(ErrorCodes.CURSOR_NOT_FOUND, `consumer group "${group}" has no committed offsets on this collector`);
}

function readonlyError(what: string): SluiceError {
  return new SluiceError(ErrorCodes.BAD_INPUT, `this is a read-only inspection of a channel file: cannot ${what}`);
}
