import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { makeEvent, type StoredEvent } from '../../../shared/src/event.ts';
import { jsonArray, ndjson, rawLines, recordJson } from './record.ts';

function stored(body: Uint8Array | string, contentType?: string, offset = 0, key: string | null = null): StoredEvent {
  return { ...makeEvent('web', body, { ts: 1714557600000, key, headers: contentType ? { 'content-type': contentType } : {} }), offset };
}

describe('record format', () => {
  it('decodes bodies by content type and falls back to body_base64', () => {
    const json = JSON.parse(recordJson(stored('{"a":1,"big":12345678901234567890}', 'application/json; charset=utf-8', 7, 'k')));
    expect(json).toMatchObject({ topic: 'web', offset: 7, ts: 1714557600000, key: 'k', body: { a: 1 } });
    expect(Object.keys(json)).toEqual(['topic', 'offset', 'ts', 'key', 'headers', 'body']);
    // The JSON text is copied, not re-serialised: big numbers keep every digit.
    expect(recordJson(stored('{"big":12345678901234567890}', 'application/json'))).toContain('"body":{"big":12345678901234567890}');
    expect(JSON.parse(recordJson(stored('héllo\nworld', 'text/plain'))).body).toBe('héllo\nworld');
    expect(JSON.parse(recordJson(stored(pack({ n: 1, list: ['x'] }), 'application/msgpack'))).body).toEqual({ n: 1, list: ['x'] });
    const binary = JSON.parse(recordJson(stored(new Uint8Array([0, 1, 2, 255]))));
    expect(binary.body).toBeUndefined();
    expect(Buffer.from(binary.body_base64, 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));
    for (const [body, type] of [
      ['{"a":', 'application/json'],
      [new Uint8Array([0xff, 0xfe]), 'text/plain'],
      [pack(Buffer.from('bin')), 'application/msgpack'],
    ] as const) {
      const r = JSON.parse(recordJson(stored(body, type)));
      expect(r.body).toBeUndefined();
      expect(Buffer.from(r.body_base64, 'base64')).toEqual(Buffer.from(body));
    }
  });

  it('keeps one record per line even when a JSON body spans lines', () => {
    const out = ndjson([stored('{\n  "a": [1,\r\n 2]\n}\n', 'application/json', 0), stored('x', 'text/plain', 1)]).toString();
    const lines = out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]).body).toEqual({ a: [1, 2] });
    expect(JSON.parse(jsonArray([stored('1', 'application/json'), stored('2', 'application/json', 1)]).toString()).map((r: { body: number }) => r.body)).toEqual([1, 2]);
  });

  it('raw lines are the bodies, newline-terminated once', () => {
    expect(rawLines([stored('a'), stored('b\n'), stored('')]).toString()).toBe('a\nb\n\n');
  });
});
