/**
 * `sluice produce TOPIC [--key K] [--header k=v …]`: sends stdin lines to a topic, one event per
 * line, through the admin API (POST /api/v1/topics/:topic/events), in order. A line holding a
 * JSON object or array is sent as application/json, any other as text/plain, its bytes as they
 * are (a `--header content-type=…` overrides that for every line). Empty lines are skipped.
 *
 * Lines are batched while a request is in flight (so typing a line sends it at once, and a
 * pipe is sent in large batches); each batch is acknowledged after the collector committed it.
 * A full channel (503) is retried with backoff; on any other error the command stops and says
 * how many lines were committed — everything before them was, nothing after.
 */
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import type { ProduceEvent, ProduceResponse } from '../../../shared/src/api/consumers.ts';
import { Backoff, sleep } from '../retry.ts';
import { action, AdminClient, CliError, withAdminOptions, type AdminOptions } from './client.ts';

interface ProduceOptions extends AdminOptions {
  key?: string;
  header: string[];
}

const BATCH_EVENTS = 1000;
/** Request bodies stay well under the admin API's default 1 MiB limit. */
const BATCH_BYTES = 256 * 1024;
/** Stop reading stdin while this many lines wait. */
const QUEUE_HIGH = 10_000;
const RETRY_FOR_MS = 60_000;

export function parseHeader(value: string, all: string[] = []): string[] {
  return [...all, value];
}

export function headersFrom(list: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of list) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new CliError(`--header: "${h}" is not name=value`, 2);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  return headers;
}

/** A JSON object or array is JSON; anything else is text. */
export function isJsonLine(line: string): boolean {
  const t = line.trimStart();
  if (t[0] !== '{' && t[0] !== '[') return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

export function lineEvent(line: string, key: string | undefined, headers: Record<string, string>): ProduceEvent {
  const h = headers['content-type'] === undefined ? { ...headers, 'content-type': isJsonLine(line) ? 'application/json' : 'text/plain' } : headers;
  return { ...(key === undefined ? {} : { key }), headers: h, text: line };
}

export function registerProduce(program: Command): void {
  withAdminOptions(
    program
      .command('produce')
      .description('send stdin lines to a topic, one event per line (JSON objects/arrays as application/json, other lines as text/plain)')
      .argument('<topic>', 'topic name'),
  )
    .option('--key <key>', 'the key of every event')
    .option('--header <name=value>', 'a header on every event (repeatable)', parseHeader, [])
    .action(action(async (topic: string, options: ProduceOptions) => produce(topic, options)));
}

async function produce(topic: string, o: ProduceOptions): Promise<void> {
  const client = new AdminClient(o);
  const headers = headersFrom(o.header);
  const path = `/api/v1/topics/${encodeURIComponent(topic)}/events`;
  const queue: ProduceEvent[] = [];
  let ended = false;
  let produced = 0;
  let first: number | null = null;
  let last: number | null = null;
  let wake: (() => void) | null = null;
  const poke = () => {
    wake?.();
    wake = null;
  };

  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  lines.on('line', (line) => {
    if (line.length === 0) return;
    queue.push(lineEvent(line, o.key, headers));
    if (queue.length >= QUEUE_HIGH) lines.pause();
    poke();
  });
  lines.on('close', () => {
    ended = true;
    poke();
  });

  const send = async (events: ProduceEvent[]): Promise<void> => {
    const backoff = new Backoff({ initialMs: 200, maxMs: 5000 });
    const started = Date.now();
    for (;;) {
      try {
        const r = await client.post<ProduceResponse>(path, { events });
        first ??= r.first;
        last = r.last;
        produced += r.count;
        return;
      } catch (error) {
        const api = error instanceof CliError ? error.api : undefined;
        if (api?.status === 413 && events.length > 1) {
          const half = Math.ceil(events.length / 2);
          await send(events.slice(0, half));
          await send(events.slice(half));
          return;
        }
        if (api?.status === 503 && Date.now() - started < RETRY_FOR_MS) {
          await sleep(backoff.next());
          continue;
        }
        throw error;
      }
    }
  };

  try {
    for (;;) {
      if (queue.length === 0) {
        if (ended) break;
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const batch: ProduceEvent[] = [];
      let bytes = 0;
      while (queue.length > 0 && batch.length < BATCH_EVENTS) {
        const size = queue[0].text!.length * 1.2 + 64;
        if (batch.length > 0 && bytes + size > BATCH_BYTES) break;
        batch.push(queue.shift()!);
        bytes += size;
      }
      // After stdin ended the interface is closed, and Node ≥ 24 throws on resume() of a closed one.
      if (!ended && queue.length < QUEUE_HIGH / 2) lines.resume();
      await send(batch);
    }
  } catch (error) {
    const done = produced === 0 ? 'no line was produced' : `the first ${produced} line${produced === 1 ? ' was' : 's were'} produced (offsets ${first}–${last}), none after them`;
    throw new CliError(`${(error as Error).message}; ${done}`, error instanceof CliError ? error.exitCode : 1);
  }
  console.error(produced === 0 ? `no lines on stdin; nothing produced to ${topic}` : `produced ${produced} event${produced === 1 ? '' : 's'} to ${topic} (offsets ${first}–${last})`);
}
