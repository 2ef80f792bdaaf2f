/** `sluice tail` options and its readable form (the command itself runs in test/e2e/consumers.test.ts). */
import { describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../../shared/src/api/events.ts';
import { CliError } from './client.ts';
import { prettyLine, startFrom } from './tail.ts';

const base = { follow: true };

describe('sluice tail', () => {
  it('start: one of --from, --since, --last; default the newest 10, or a group’s committed offset', () => {
    expect(startFrom({ ...base })).toEqual({ last: '10' });
    expect(startFrom({ ...base, group: 'g' })).toEqual({});
    expect(startFrom({ ...base, from: '0', group: 'g' })).toEqual({ offset: '0' });
    expect(startFrom({ ...base, since: '2026-03-01T12:00:00Z' })).toEqual({ time: '2026-03-01T12:00:00Z' });
    expect(startFrom({ ...base, last: '5' })).toEqual({ last: '5' });
    expect(() => startFrom({ ...base, from: '1', last: '2' })).toThrow('give one of --from N, --since TIME, --last N');
    expect(() => startFrom({ ...base, last: '0' })).toThrow(CliError);
    expect(() => startFrom({ ...base, from: '-1' })).toThrow('--from: "-1" is not an integer ≥ 0');
  });

  it('--pretty: offset, time, key, headers but content-type, and the body by its kind', () => {
    const e = (over: Partial<ApiEvent>): ApiEvent => ({
      offset: 7,
      ts: Date.UTC(2026, 2, 1, 12),
      key: null,
      headers: {},
      contentType: 'text/plain',
      bodyEncoding: 'text',
      body: 'x',
      size: 1,
      ...over,
    });
    expect(prettyLine(e({ key: 'k 1', headers: { 'content-type': 'text/plain', env: 'prod', note: 'a b' }, body: 'two\nlines "quoted"' }))).toBe(
      '7  2026-03-01T12:00:00.000Z  key="k 1"  env=prod note="a b"  two\\nlines "quoted"',
    );
    expect(prettyLine(e({ bodyEncoding: 'json', contentType: 'application/json', body: { a: [1, 2] } }))).toBe('7  2026-03-01T12:00:00.000Z  {"a":[1,2]}');
    expect(prettyLine(e({ bodyEncoding: null, contentType: 'application/octet-stream', body: null, size: 3, raw: Buffer.from([0, 1, 255]).toString('base64') }))).toBe(
      '7  2026-03-01T12:00:00.000Z  [3 bytes application/octet-stream] 00 01 ff',
    );
  });
});
