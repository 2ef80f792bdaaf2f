/**
 * `sluice tail TOPIC [--from N | --since TIME | --last N] [--group G] [--pretty] [--no-follow]`:
 * prints a topic's events, one per line, and follows new ones. It reads through the consumer
 * API's fetch (long-poll), so it needs nothing but the admin API and holds no event in memory
 * beyond one answer.
 *
 * Lines are the admin API's event shape (as /events and /export give it: offset, ts, key,
 * headers, contentType, bodyEncoding, body, raw, size), as NDJSON; `--pretty` prints one
 * readable line per event instead.
 *
 * With `--group` it reads as that consumer group: it starts at the group's committed offset
 * (a new group: the earliest event; a position option overrides either) and commits what it has
 * printed — with each next fetch (`commit=true`), and on exit (end of --no-follow, Ctrl-C,
 * SIGTERM). A tail killed with SIGKILL prints its last answer again next time: at-least-once.
 */
import type { Command } from 'commander';
import type { FetchResponse } from '../../../shared/src/api/consumers.ts';
import type { TopicsResponse } from '../../../shared/src/api/core.ts';
import type { ApiEvent } from '../../../shared/src/api/events.ts';
import { action, AdminClient, CliError, withAdminOptions, type AdminOptions } from './client.ts';

interface TailOptions extends AdminOptions {
  from?: string;
  since?: string;
  last?: string;
  group?: string;
  pretty?: boolean;
  /** commander's --no-follow sets this to false. */
  follow: boolean;
}

/** Long-poll per fetch; under the CLI client's 30 s request timeout. */
const WAIT_MS = 10_000;
const MAX_EVENTS = 1000;
const DEFAULT_LAST = 10;

function count(value: string, option: string, min: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) throw new CliError(`${option}: "${value}" is not an integer ≥ ${min}`, 2);
  return Number(value);
}

/** The start position as fetch query parameters; none means the group's committed offset. */
export function startFrom(o: TailOptions): Record<string, string> {
  const given: Record<string, string>[] = [];
  if (o.from !== undefined) given.push({ offset: String(count(o.from, '--from', 0)) });
  if (o.since !== undefined) given.push({ time: o.since });
  if (o.last !== undefined) given.push({ last: String(count(o.last, '--last', 1)) });
  if (given.length > 1) throw new CliError('give one of --from N, --since TIME, --last N', 2);
  if (given.length === 1) return given[0];
  return o.group === undefined ? { last: String(DEFAULT_LAST) } : {};
}

/** One readable line: offset, time, key, headers (but content-type), body. */
export function prettyLine(e: ApiEvent): string {
  const parts = [String(e.offset), new Date(e.ts).toISOString()];
  if (e.key !== null) parts.push(`key=${JSON.stringify(e.key)}`);
  const headers = Object.entries(e.headers).filter(([k]) => k !== 'content-type');
  if (headers.length > 0) parts.push(headers.map(([k, v]) => `${k}=${/[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v}`).join(' '));
  parts.push(prettyBody(e));
  return parts.join('  ');
}

function prettyBody(e: ApiEvent): string {
  if (e.bodyEncoding === 'text') return JSON.stringify(e.body).slice(1, -1).replace(/\\"/g, '"');
  if (e.bodyEncoding !== null) return JSON.stringify(e.body);
  const bytes = Buffer.from(e.raw ?? '', 'base64');
  const hex = bytes.subarray(0, 32).toString('hex').replace(/(..)/g, '$1 ').trim();
  return `[${e.size} bytes ${e.contentType}${e.decodeError ? `: ${e.decodeError}` : ''}] ${hex}${e.size > 32 ? ' …' : ''}`;
}

export function registerTail(program: Command): void {
  withAdminOptions(
    program
      .command('tail')
      .description('print the events of a topic as NDJSON (or --pretty) and follow new ones; with --group, read and commit as a consumer group')
      .argument('<topic>', 'topic name'),
  )
    .option('--from <offset>', 'start at this offset')
    .option('--since <time>', 'start at the first event at or after this time (ISO 8601 or ms since the epoch)')
    .option('--last <n>', `start with the newest N events (default without --group: ${DEFAULT_LAST})`)
    .option('--group <name>', "read as this consumer group: start at its committed offset, commit what was printed")
    .option('--pretty', 'one readable line per event instead of NDJSON')
    .option('--no-follow', 'stop at the end of what is stored now')
    .action(action(async (topic: string, options: TailOptions) => tail(topic, options)));
}

async function tail(topic: string, o: TailOptions): Promise<void> {
  const client = new AdminClient(o);
  const start = startFrom(o);
  const path = `/api/v1/topics/${encodeURIComponent(topic)}/fetch`;
  const out = process.stdout;
  let next: number | undefined;
  let committed: number | null = null;
  let stopAt: number | null = null;
  let stopping = false;
  let toldMissing = false;

  const commit = async () => {
    if (o.group === undefined || next === undefined || next === committed) return;
    await client.post(`/api/v1/groups/${encodeURIComponent(o.group)}/commit`, { offsets: [{ topic, offset: next }] });
    committed = next;
  };
  const finish = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    try {
      await commit();
    } catch (error) {
      console.error(`sluice: ${signal}: could not commit offset ${next} for group "${o.group}": ${(error as Error).message}`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.once('SIGINT', () => void finish('SIGINT'));
  process.once('SIGTERM', () => void finish('SIGTERM'));
  // The reader went away (`| head`): stop without committing the answer being written.
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });

  while (!stopping) {
    const query = new URLSearchParams({ max: String(MAX_EVENTS), wait: String(o.follow ? WAIT_MS : 0), raw: 'true' });
    if (next === undefined) for (const [k, v] of Object.entries(start)) query.set(k, v);
    else query.set('offset', String(next));
    if (o.group !== undefined) {
      query.set('group', o.group);
      query.set('commit', 'true');
    }
    const answer = await client.get<FetchResponse>(`${path}?${query}`);
    if (stopping) break;
    for (const note of answer.notes) console.error(`sluice: ${note}`);
    if (!answer.exists && !o.follow) throw await noSuchTopic(client, topic);
    if (!answer.exists && !toldMissing && o.follow) {
      console.error(`sluice: topic "${topic}" does not exist yet; waiting for its first event`);
      toldMissing = true;
    }
    if (o.group !== undefined) committed = answer.committed;
    stopAt ??= answer.high;
    let events = answer.events;
    let upto = answer.next;
    if (!o.follow && upto > stopAt) {
      events = events.filter((e) => e.offset < stopAt!);
      upto = Math.max(answer.offset, stopAt);
    }
    if (events.length > 0) {
      const text = events.map((e) => (o.pretty ? prettyLine(e) : JSON.stringify(e))).join('\n') + '\n';
      if (!out.write(text)) await new Promise((r) => out.once('drain', r));
    }
    next = upto;
    if (!o.follow && next >= stopAt) break;
  }
  if (!stopping) {
    stopping = true;
    await commit();
  }
}

/** `--no-follow` on a topic that does not exist: nothing to print ever, so say so and which do. */
async function noSuchTopic(client: AdminClient, topic: string): Promise<CliError> {
  const { topics } = await client.get<TopicsResponse>('/api/v1/topics');
  const names = topics.map((t) => t.name).filter((n) => !n.startsWith('_'));
  const known = names.length === 0 ? 'the collector has no topics yet' : `topics: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ` and ${names.length - 20} more` : ''}`;
  return new CliError(`topic "${topic}" does not exist (${known})`, 1);
}
