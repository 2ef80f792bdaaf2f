/**
 * `sluice export TOPIC [--from N] [--to N] [--since T] [--until T] [--format ndjson|csv] [--out FILE]`
 * with the browse filters: streams `GET /api/v1/topics/:topic/export` to a file or stdout, with a
 * progress bar over the offsets (on a terminal, unless --no-progress).
 */
import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TopicDetailResponse } from '../../../shared/src/api/core.ts';
import { action, AdminClient, CliError, withAdminOptions, type AdminOptions } from './client.ts';

interface ExportOptions extends AdminOptions {
  from?: string;
  to?: string;
  since?: string;
  until?: string;
  format: string;
  out?: string;
  header?: string[];
  contains?: string;
  jsonata?: string;
  progress: boolean;
}

function offset(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new CliError(`${option}: "${value}" is not an offset (an integer ≥ 0)`, 2);
  return Number(value);
}

export function registerExport(program: Command): void {
  withAdminOptions(program.command('export').description('write the events of a topic (a range, filtered) as NDJSON or CSV, with a progress bar').argument('<topic>', 'topic name'))
    .option('--from <offset>', 'first offset (default: the oldest kept)')
    .option('--to <offset>', 'stop before this offset (default: the end when the export starts)')
    .option('--since <time>', 'start at the first event at or after this time (ISO 8601 or ms)')
    .option('--until <time>', 'stop at the first event at or after this time')
    .option('--format <format>', 'ndjson or csv', 'ndjson')
    .option('--out <file>', 'write to this file (default: stdout)')
    .option('--header <name:value>', 'only events with this header (repeatable)', (h: string, all: string[] = []) => [...all, h])
    .option('--contains <text>', 'only events whose body contains this text')
    .option('--jsonata <predicate>', 'only events for which this JSONata predicate is true')
    .option('--no-progress', 'no progress bar')
    .action(action(async (topic: string, o: ExportOptions) => exportTopic(topic, o)));
}

async function exportTopic(topic: string, o: ExportOptions): Promise<void> {
  if (o.format !== 'ndjson' && o.format !== 'csv') throw new CliError(`--format: "${o.format}" is not ndjson or csv`, 2);
  const from = offset(o.from, '--from');
  const to = offset(o.to, '--to');
  const client = new AdminClient(o);
  const info = await client.get<TopicDetailResponse>(`/api/v1/topics/${encodeURIComponent(topic)}`);
  const start = Math.max(from ?? info.low, info.low);
  const end = Math.min(to ?? info.high, info.high);
  const query = new URLSearchParams({ format: o.format, to: String(end) });
  if (o.since !== undefined) query.set('time', o.since);
  else query.set('from', String(start));
  if (o.until !== undefined) query.set('until', o.until);
  for (const h of o.header ?? []) query.append('header', h);
  if (o.contains !== undefined) query.set('bodyContains', o.contains);
  if (o.jsonata !== undefined) query.set('jsonata', o.jsonata);
  const answer = await client.stream(`/api/v1/topics/${encodeURIComponent(topic)}/export?${query}`);

  // Progress: NDJSON lines carry their offset; the bar follows it over [start, end).
  const total = Math.max(0, end - start);
  const showBar = o.progress && process.stderr.isTTY && total > 0;
  const { SingleBar } = showBar ? (await import('cli-progress')).default : { SingleBar: null };
  const bar = SingleBar ? new SingleBar({ format: `exporting "${topic}" {bar} {percentage}% | offset {value}/{total} | {events} events`, hideCursor: true, stream: process.stderr }) : null;
  bar?.start(total, 0, { events: 0 });
  let events = 0;
  let tail = '';
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      const text = tail + chunk.toString('utf8');
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      events += lines.filter(Boolean).length;
      if (bar && o.format === 'ndjson') {
        const last = lines.filter(Boolean).at(-1);
        const at = last ? /"offset":(\d+)/.exec(last)?.[1] : undefined;
        if (at !== undefined) bar.update(Number(at) + 1 - start, { events });
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(answer, count, o.out ? createWriteStream(o.out) : process.stdout);
  } finally {
    bar?.update(total, { events });
    bar?.stop();
  }
  if (o.format === 'csv' && events > 0) events--; // the header line
  if (o.out) console.error(`sluice: exported ${events} event${events === 1 ? '' : 's'} of "${topic}" to ${o.out}`);
}
