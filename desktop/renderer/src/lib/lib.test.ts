import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { windowBase, MAX_ROWS } from '../views/messages/Messages.tsx';
import { filterProblem, toFilterQuery } from '../views/messages/filters.ts';
import { pageOf, PAGE_SIZE } from '../views/messages/pages.ts';
import { decodeMsgpack, fromBase64, hexDump, preview, toBase64, toText } from './bytes.ts';
import { formatBytes, formatTime, formatTimeZoned, parseTimeInput, zoneLabel } from './format.ts';
import { formatHash, parseHash } from './router.ts';
import { buildQuery, normalizeUrl } from '../api/client.ts';
import { hintFor } from '../api/errors.ts';

describe('body decoders', () => {
  it('round-trips base64 and shows text, hex and msgpack', () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d, 0x00, 0xff]);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
    expect(toText(new TextEncoder().encode('héllo'))).toEqual({ text: 'héllo', valid: true });
    expect(toText(new Uint8Array([0xff, 0x41])).valid).toBe(false);
    const { lines, truncated } = hexDump(bytes);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^00000000 {2}7b 22 61 22 3a 31 7d 00 {2}ff +\|\{"a":1\}\.\.\|$/);
    // A short last line keeps the ASCII column where a full line has it.
    expect(lines[0].indexOf('|')).toBe(hexDump(new Uint8Array(16)).lines[0].indexOf('|'));
    expect(truncated).toBe(false);
    expect(hexDump(new Uint8Array(100), 32)).toMatchObject({ truncated: true });
    const packed = new Uint8Array(pack({ user: 'ana', n: 3, raw: Buffer.from([1, 2]) }));
    expect(decodeMsgpack(packed)).toEqual({ value: { user: 'ana', n: 3, raw: 'base64:AQI=' } });
    expect(decodeMsgpack(new Uint8Array([0x92, 0x01]))).toHaveProperty('error');
    // JSON text is not msgpack: the first byte reads as a number, then bytes are left over.
    expect(decodeMsgpack(new TextEncoder().encode('{"a":1}'))).toHaveProperty('error');
    expect(preview({ a: 'x'.repeat(300) }, 20)).toBe('{"a":"xxxxxxxxxxxxxx…');
  });
});

describe('inputs', () => {
  it('parses times the way the jump box documents', () => {
    const now = Date.UTC(2025, 10, 25, 12, 0, 0);
    expect(parseTimeInput('-5m', now)).toBe(now - 300_000);
    expect(parseTimeInput('1764072000000')).toBe(1764072000000);
    expect(parseTimeInput('2025-11-25T12:00:00Z')).toBe(now);
    expect(parseTimeInput('2025-11-25 14:03')).toBe(new Date(2025, 10, 25, 14, 3).getTime());
    expect(parseTimeInput('yesterday')).toBeNull();
    // In UTC mode a typed wall-clock time is UTC, and times print in UTC with their zone.
    expect(parseTimeInput('2025-11-25 14:03', now, 'utc')).toBe(Date.UTC(2025, 10, 25, 14, 3));
    expect(formatTime(Date.UTC(2025, 10, 25, 14, 3, 7, 9), 'utc')).toBe('2025-11-25 14:03:07.009');
    expect(formatTimeZoned(Date.UTC(2025, 10, 25, 14, 3), 'utc')).toBe('2025-11-25 14:03:00.000 UTC');
    expect(zoneLabel(now, 'local')).toMatch(/^UTC[+-]\d\d:\d\d$/);
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });

  it('turns the filter bar into API filters and catches a bad header filter', () => {
    expect(toFilterQuery({ key: ' k1 ', header: 'level:error, env:prod', bodyContains: 'x', bodyRegex: '', jsonata: ' amount > 1 ' })).toEqual({ key: 'k1', header: ['level:error', 'env:prod'], bodyContains: 'x', jsonata: 'amount > 1' });
    expect(filterProblem({ key: '', header: 'level', bodyContains: '', bodyRegex: '', jsonata: '' })).toMatch(/name:value/);
  });

  it('routes by hash and builds API URLs', () => {
    expect(parseHash('#/messages/my.topic?offset=42')).toEqual({ view: 'messages', arg: 'my.topic', params: { offset: '42' } });
    expect(parseHash('#/nonsense')).toMatchObject({ view: 'overview' });
    expect(formatHash({ view: 'tail', arg: 'a b', params: { x: 1, y: undefined } })).toBe('#/tail/a%20b?x=1');
    expect(normalizeUrl('127.0.0.1:9410/')).toBe('http://127.0.0.1:9410');
    expect(buildQuery({ from: 0, header: ['a:1', 'b:2'], key: undefined, raw: false })).toBe('?from=0&header=a%3A1&header=b%3A2&raw=false');
    expect(hintFor(401, 'SLUICE_UNAUTHORIZED', 'http://h:1', null)).toMatch(/token/);
    expect(hintFor(null, null, 'http://h:1', 'http://other:2')).toMatch(/cors_origins/);
  });
});

describe('message table windows', () => {
  it('pages align on absolute offsets', () => {
    expect(pageOf(0)).toBe(0);
    expect(pageOf(PAGE_SIZE - 1)).toBe(0);
    expect(pageOf(PAGE_SIZE * 7 + 3)).toBe(7);
  });

  it('shows big topics one window at a time, centred on the jump, inside the topic', () => {
    expect(windowBase(500, 0, 1000)).toBe(0);
    const high = 10_000_000;
    expect(windowBase(high - 1, 0, high)).toBe(high - MAX_ROWS);
    expect(windowBase(3_000_000, 0, high)).toBe(3_000_000 - MAX_ROWS / 2);
    expect(windowBase(10, 5, high)).toBe(5);
  });
});
