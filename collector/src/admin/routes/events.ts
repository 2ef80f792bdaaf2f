/**
 * Browse, search and export events of a topic (DESIGN §6):
 *   GET /api/v1/topics/:topic/events   a page by offset, time or newest-N, forward or backward, filtered
 *   GET /api/v1/topics/:topic/export   a range or a filter result as NDJSON or CSV, streamed
 * Paging cursors and scan bounds are described in docs/inspection.md.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ApiError, BrowseQuery, BrowseResponse, ExportQuery, TopicParams } from '../../../../shared/src/api/events.ts';
import type { TopicInfo } from '../../channel/channel.ts';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { compileFilter } from '../../consumers/filters.ts';
import { parseTime, rejectUnknownQuery } from '../query.ts';
import { presentEvent, type BodyDecoder } from '../../consumers/present.ts';
import { schemasOf } from '../../consumers/schemas.ts';
import { scan, type Direction, type ScanBounds } from '../../consumers/scan.ts';
import type { Collector } from '../../runtime/collector.ts';

export function topicOrThrow(collector: Collector, topic: string): TopicInfo {
  const info = collector.channel.topic(topic);
  if (!info) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
  return info;
}

/** A request's scan bounds: its own, capped by the server's. */
export function scanBounds(collector: Collector, query: { maxScanRows?: number; maxScanMs?: number }): ScanBounds {
  const admin = collector.config.admin;
  return {
    maxRows: Math.min(query.maxScanRows ?? admin.max_scan_rows, admin.max_scan_rows),
    maxMs: Math.min(query.maxScanMs ?? admin.max_scan_ms, admin.max_scan_ms),
  };
}

function onlyOne(query: { from?: number; time?: string; last?: number }): void {
  const given = (['from', 'time', 'last'] as const).filter((k) => query[k] !== undefined);
  if (given.length > 1) throw new SluiceError(ErrorCodes.BAD_INPUT, `give one of from, time, last (got ${given.join(' and ')})`);
}

/** Checks a `from` offset against the topic; offsets older than retention start at the earliest kept one, noted. */
export function checkFrom(topic: string, from: number, info: TopicInfo, notes: string[]): number {
  if (from > info.high) {
    throw new SluiceError(ErrorCodes.OFFSET_OUT_OF_RANGE, `topic "${topic}": offset ${from} is beyond the end (high watermark ${info.high})`);
  }
  if (from < info.low) {
    notes.push(`offset ${from} is older than what retention kept; started at the earliest kept offset ${info.low}`);
    return info.low;
  }
  return from;
}

export const eventRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;
  // Scans in flight end at their next chunk when the server closes, so shutdown does not wait
  // out a search's max_scan_ms.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());

  app.get<{ Params: TopicParams; Querystring: BrowseQuery }>(
    '/api/v1/topics/:topic/events',
    {
      preValidation: rejectUnknownQuery(BrowseQuery),
      schema: {
        summary: 'Browse and search events',
        description:
          'A page of events by offset (`from`), time (`time`) or newest-N (`last`), forward or backward, with optional filters. Every scan is bounded by rows and time; the answer says how far it scanned and why it stopped.',
        tags: ['events'],
        params: TopicParams,
        querystring: BrowseQuery,
        response: { 200: BrowseResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request, reply) => {
      const { topic } = request.params;
      const q = request.query;
      onlyOne(q);
      const decoder = schemasOf(collector.channel, collector.inspect).decoder(topic);
      const filter = compileFilter(q, decoder);
      const info = topicOrThrow(collector, topic);
      const notes: string[] = [];
      let direction: Direction = q.direction ?? 'forward';
      let limit = q.limit ?? 100;
      let start: number;
      if (q.last !== undefined) {
        direction = 'backward';
        limit = q.last;
        start = info.high;
      } else if (q.time !== undefined) {
        start = collector.channel.offsetForTime(topic, parseTime(q.time, 'time'));
        if (start >= info.high) notes.push(`no event at or after ${q.time}; ${direction === 'forward' ? 'nothing to read yet' : 'reading the newest events'}`);
      } else if (q.from !== undefined) {
        start = checkFrom(topic, q.from, info, notes);
      } else {
        start = direction === 'forward' ? info.low : info.high;
      }
      const result = await scan(collector.channel, {
        topic,
        direction,
        start,
        end: direction === 'forward' ? info.high : info.low,
        limit,
        filter,
        bounds: scanBounds(collector, q),
        signal: AbortSignal.any([abortOnClose(reply.raw), closing.signal]),
      });
      if (result.damaged) notes.push(`stopped at damaged offsets ${result.damaged.first}–${result.damaged.last}, which cannot be read; ${direction === 'forward' ? 'next' : 'prev'} continues past them (${result.damaged.message})`);
      return {
        topic,
        low: info.low,
        high: info.high,
        direction,
        events: result.events.map((e) => presentEvent(e, { raw: q.raw, decoder })),
        next: result.next,
        prev: result.prev,
        scanned: result.scanned,
        scannedFrom: result.scannedFrom,
        scannedTo: result.scannedTo,
        stopped: result.stopped,
        filtered: filter.active,
        filterErrors: result.filterErrors,
        ...(result.firstFilterError === undefined ? {} : { firstFilterError: result.firstFilterError }),
        notes,
      };
    },
  );

  app.get<{ Params: TopicParams; Querystring: ExportQuery }>(
    '/api/v1/topics/:topic/export',
    {
      preValidation: rejectUnknownQuery(ExportQuery),
      schema: {
        summary: 'Export events as NDJSON or CSV',
        description:
          'Streams a range (`from`/`time`/`last` … `to`/`until`, by default up to the high watermark when the export started), optionally filtered. Disabled with `admin.export: false` (403). NDJSON lines have the event shape of /events; CSV columns: offset, ts, time, key, content_type, headers (JSON), body (decoded text or JSON), raw_base64.',
        tags: ['events'],
        params: TopicParams,
        querystring: ExportQuery,
        response: { 400: ApiError, 403: ApiError, 404: ApiError },
      },
      config: {
        openapi: {
          responses: {
            200: {
              description: 'The events, streamed',
              content: { 'application/x-ndjson': { schema: { type: 'string' } }, 'text/csv': { schema: { type: 'string' } } },
            },
          },
        },
      },
    },
    async (request, reply) => {
      if (!collector.config.admin.export) {
        throw new SluiceError(ErrorCodes.EXPORT_DISABLED, 'export is disabled on this collector (admin.export: false)');
      }
      const { topic } = request.params;
      const q = request.query;
      onlyOne(q);
      const decoder = schemasOf(collector.channel, collector.inspect).decoder(topic);
      const filter = compileFilter(q, decoder);
      const info = topicOrThrow(collector, topic);
      const notes: string[] = [];
      let start = info.low;
      if (q.from !== undefined) start = checkFrom(topic, q.from, info, notes);
      else if (q.time !== undefined) start = collector.channel.offsetForTime(topic, parseTime(q.time, 'time'));
      else if (q.last !== undefined) start = Math.max(info.low, info.high - q.last);
      let end = info.high;
      if (q.to !== undefined) end = Math.min(end, q.to);
      if (q.until !== undefined) end = Math.min(end, collector.channel.offsetForTime(topic, parseTime(q.until, 'until')));
      const format = q.format ?? 'ndjson';
      const limit = q.limit ?? Number.MAX_SAFE_INTEGER;
      // Damaged offsets at the start answer 410 now, before headers are sent; later ones are
      // passed over by the scan (health and /metrics name them).
      if (start < end) collector.channel.read(topic, start, { maxEvents: 1 });
      const abort = AbortSignal.any([abortOnClose(reply.raw), closing.signal]);
      const lines = exportLines(collector, { topic, start, end, limit, filter, decoder, format, signal: abort });
      reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${topic}-${start}-${Math.max(start, end)}.${format}"`)
        .header('x-sluice-range', `${start}-${Math.max(start, end)}`);
      if (notes.length > 0) reply.header('x-sluice-notes', notes.join('; '));
      return reply.send(Readable.from(lines, { objectMode: false, highWaterMark: 64 * 1024 }));
    },
  );
};

export const CSV_COLUMNS = ['offset', 'ts', 'time', 'key', 'content_type', 'headers', 'body', 'raw_base64'];

async function* exportLines(
  collector: Collector,
  o: { topic: string; start: number; end: number; limit: number; filter: ReturnType<typeof compileFilter>; decoder: BodyDecoder; format: 'ndjson' | 'csv'; signal: AbortSignal },
): AsyncGenerator<string> {
  if (o.format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
  let pos = o.start;
  let left = o.limit;
  while (pos < o.end && left > 0 && !o.signal.aborted) {
    const page = await scan(collector.channel, {
      topic: o.topic,
      direction: 'forward',
      start: pos,
      end: o.end,
      limit: Math.min(left, 2000),
      filter: o.filter,
      // An export's range is explicit; each step is bounded so the loop yields regularly.
      bounds: { maxRows: 50_000, maxMs: 200 },
      signal: o.signal,
    });
    let out = '';
    for (const e of page.events) {
      const ev = presentEvent(e, { decoder: o.decoder });
      out += o.format === 'csv' ? csvRow(ev) : `${JSON.stringify(ev)}\n`;
    }
    left -= page.events.length;
    if (out) yield out;
    if (page.scanned === 0 || page.next <= pos) break;
    pos = page.next;
    await yieldToLoop();
  }
}

function csvRow(e: ReturnType<typeof presentEvent>): string {
  const body = e.bodyEncoding === null ? '' : typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
  const time = new Date(e.ts);
  // A stamp outside what a Date holds (stored by an older version) leaves the column empty, never the export.
  const cells = [String(e.offset), String(e.ts), Number.isNaN(time.getTime()) ? '' : time.toISOString(), e.key ?? '', e.contentType, JSON.stringify(e.headers), body, e.raw ?? ''];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** RFC 4180: quote cells holding a comma, quote, CR or LF; double the quotes. */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** An AbortSignal that fires when the client goes away before the answer was sent. */
export function abortOnClose(response: NodeJS.EventEmitter & { writableFinished?: boolean }): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
