import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../../shared/src/errors.ts';
import { bodyFormat, decodeBody, locateJsonError } from './decode.ts';

const text = (bodies: Uint8Array[]) => bodies.map((b) => Buffer.from(b).toString('utf8'));

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect((error as { code: string }).code).toBe(ErrorCodes.BAD_INPUT);
    return (error as Error).message;
  }
  throw new Error('expected BAD_INPUT');
}

describe('bodyFormat', () => {
  it('maps content types, ignoring parameters and case', () => {
    expect(bodyFormat('application/json; charset=utf-8')).toBe('json');
    expect(bodyFormat('Application/X-NDJSON')).toBe('ndjson');
    expect(bodyFormat('application/msgpack')).toBe('msgpack');
    expect(bodyFormat('text/plain')).toBe('text');
    expect(bodyFormat(undefined)).toBe('sniff');
    expect(bodyFormat('application/x-www-form-urlencoded')).toBe('sniff');
    expect(bodyFormat('image/png')).toBeUndefined();
  });
});

describe('JSON bodies', () => {
  it('one object is one event, stored as sent', () => {
    const r = decodeBody('json', Buffer.from(' {"a": 1, "n": 12345678901234567890}\n'));
    expect(r.contentType).toBe('application/json');
    expect(text(r.bodies)).toEqual(['{"a": 1, "n": 12345678901234567890}']);
  });

  it('an array of objects is one event per element, sliced exactly', () => {
    const body = '[ {"a":"x,]}"} ,\n{"b":[1,{"c":"\\"]"}]}, {} ]';
    expect(text(decodeBody('json', Buffer.from(body)).bodies)).toEqual(['{"a":"x,]}"}', '{"b":[1,{"c":"\\"]"}]}', '{}']);
    expect(decodeBody('json', Buffer.from('[]')).bodies).toEqual([]);
    // Strings ending in escaped backslashes, and escaped quotes after them.
    const tricky = String.raw`[{"a":"\\"},{"b":"\\\"]"},{"c":"\\\\"}]`;
    expect(text(decodeBody('json', Buffer.from(tricky)).bodies)).toEqual((JSON.parse(tricky) as unknown[]).map((v) => JSON.stringify(v)));
  });

  it('keeps multi-byte UTF-8 intact', () => {
    expect(text(decodeBody('json', Buffer.from('[{"é":"日本"},{"x":"🙂"}]')).bodies)).toEqual(['{"é":"日本"}', '{"x":"🙂"}']);
  });

  it('points at the line and column of a syntax error', () => {
    expect(badInput(() => decodeBody('json', Buffer.from('[{"a":1},\n {"b" 2}]')))).toMatch(/line 2, column 7/);
    expect(badInput(() => decodeBody('json', Buffer.from('{"a":}')))).toMatch(/expected a value.*line 1, column 6/);
  });

  it('refuses non-object records, saying which', () => {
    expect(badInput(() => decodeBody('json', Buffer.from('[{"a":1},\n 42]')))).toMatch(/element 1 .*line 2, column 2.* is a number; expected an object/);
    expect(badInput(() => decodeBody('json', Buffer.from('"hi"')))).toMatch(/got a string/);
  });
});

describe('NDJSON bodies', () => {
  it('one event per line, blank lines and CRLF tolerated', () => {
    const r = decodeBody('ndjson', Buffer.from('{"a":1}\r\n\n  {"b":2}  \n{"c":3}'));
    expect(text(r.bodies)).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('names the bad line', () => {
    expect(badInput(() => decodeBody('ndjson', Buffer.from('{"a":1}\n{"b":2}\n{"c":}\n')))).toMatch(/^line 3: invalid JSON: expected a value.*column 6/);
    expect(badInput(() => decodeBody('ndjson', Buffer.from('{"a":1}\n[1]\n')))).toMatch(/^line 2: expected a JSON object, got an array/);
  });
});

describe('sniffed bodies (curl -d)', () => {
  it('takes one JSON value, else NDJSON', () => {
    expect(text(decodeBody('sniff', Buffer.from('{"a":1}')).bodies)).toEqual(['{"a":1}']);
    expect(text(decodeBody('sniff', Buffer.from('{"a":1}\n{"b":2}')).bodies)).toEqual(['{"a":1}', '{"b":2}']);
    expect(badInput(() => decodeBody('sniff', Buffer.from('a=1&b=2')))).toMatch(/invalid JSON/);
  });
});

describe('msgpack bodies', () => {
  it('accepts a map, an array of maps and maps back to back, keeping the bytes', () => {
    const a = pack({ a: 1 });
    const b = pack({ b: 'x', big: 2n ** 60n });
    expect(decodeBody('msgpack', a).bodies.map((x) => Buffer.from(x))).toEqual([a]);
    expect(decodeBody('msgpack', pack([{ a: 1 }, { b: 'x', big: 2n ** 60n }])).bodies.map((x) => Buffer.from(x))).toEqual([a, b]);
    expect(decodeBody('msgpack', Buffer.concat([a, b])).bodies.map((x) => Buffer.from(x))).toEqual([a, b]);
    expect(decodeBody('msgpack', a).contentType).toBe('application/msgpack');
  });

  it('refuses non-maps and truncated data', () => {
    expect(badInput(() => decodeBody('msgpack', pack('str')))).toMatch(/must be a map/);
    expect(badInput(() => decodeBody('msgpack', pack([{ a: 1 }, 2])))).toMatch(/record 1 \(byte \d+\) is not a map/);
    const cut = pack([{ a: 1 }, { b: 'long string' }]);
    expect(badInput(() => decodeBody('msgpack', cut.subarray(0, cut.length - 3)))).toMatch(/invalid msgpack in record 1/);
  });
});

describe('text bodies', () => {
  it('one event per line, or the whole body', () => {
    expect(text(decodeBody('text', Buffer.from('a\r\n\nb\nc')).bodies)).toEqual(['a', 'b', 'c']);
    expect(text(decodeBody('text', Buffer.from('a\nb\n'), { textWhole: true }).bodies)).toEqual(['a\nb\n']);
    expect(decodeBody('text', Buffer.from('x')).contentType).toBe('text/plain');
  });
});

describe('locateJsonError', () => {
  it('agrees with JSON.parse on valid input and finds errors', () => {
    for (const ok of ['{}', '[]', '{"a":[1,-2.5e3,true,null,"\\u00e9"]}', ' 0 ']) expect(locateJsonError(ok)).toBeUndefined();
    expect(locateJsonError('{"a":1,}')).toMatchObject({ index: 7 });
    expect(locateJsonError('[1 2]')).toMatchObject({ index: 3 });
    expect(locateJsonError('"abc')).toMatchObject({ message: 'unterminated string' });
  });
});

describe('hostile JSON (issue #12 items 5 and 6)', () => {
  const nest = (n: number, inner = '1') => `{"a":${'['.repeat(n - 1)}${inner}${']'.repeat(n - 1)}}`;

  it('refuses invalid JSON nested 8,000 deep with a 400-class error, not a stack overflow', () => {
    for (const format of ['json', 'sniff', 'ndjson'] as const) {
      const body = Buffer.from(`${'['.repeat(8000)}{"a":`);
      expect(badInput(() => decodeBody(format, body)), format).toMatch(/nested deeper than 128 levels \(max_depth\) at byte 128/);
    }
  });

  it('refuses valid JSON nested deeper than max_depth (default 128, like serde_json), naming the limit', () => {
    expect(decodeBody('json', Buffer.from(nest(128))).bodies).toHaveLength(1);
    expect(badInput(() => decodeBody('json', Buffer.from(nest(129))))).toMatch(/^JSON nested deeper than 128 levels \(max_depth\) at byte 132: flatten the event, or raise the source's max_depth$/);
    expect(badInput(() => decodeBody('json', Buffer.from(`[${nest(20_000)}]`)))).toMatch(/nested deeper than 128 levels/);
    expect(badInput(() => decodeBody('ndjson', Buffer.from(`{"ok":1}\n${nest(200)}\n`)))).toMatch(/^line 2: JSON nested deeper than 128 levels/);
    expect(badInput(() => decodeBody('sniff', Buffer.from(nest(200))))).toMatch(/nested deeper than 128 levels/);
    expect(badInput(() => decodeBody('json', Buffer.from(nest(11)), { maxDepth: 10 }))).toMatch(/nested deeper than 10 levels/);
    expect(decodeBody('json', Buffer.from(nest(500)), { maxDepth: 500 }).bodies).toHaveLength(1);
    // Brackets inside strings do not count.
    expect(decodeBody('json', Buffer.from(`{"s":"${'['.repeat(1000)}\\"${'{'.repeat(1000)}"}`)).bodies).toHaveLength(1);
  });

  it('refuses msgpack nested deeper than max_depth, and msgpack too deep to decode, with a 400-class error', () => {
    const nested = (n: number): unknown => {
      let v: unknown = 1;
      for (let i = 1; i < n; i++) v = [v];
      return { a: v };
    };
    expect(decodeBody('msgpack', pack(nested(128))).bodies).toHaveLength(1);
    expect(badInput(() => decodeBody('msgpack', pack([{ ok: 1 }, nested(129)])))).toMatch(/^msgpack record 1 \(byte \d+\) nests deeper than 128 levels \(max_depth\): flatten the event, or raise the source's max_depth$/);
    // 200,000 nested one-element arrays: too deep for any decoder's stack.
    const bomb = Buffer.concat([Buffer.from([0x81, 0xa1, 0x61]), Buffer.alloc(200_000, 0x91), Buffer.from([0x01])]);
    expect(badInput(() => decodeBody('msgpack', bomb))).toMatch(/^invalid msgpack in record 0 \(byte 0\): nested too deep to decode \(max_depth is 128\)$|nests deeper than 128 levels/);
  });

  it('refuses bytes that are not UTF-8, naming the offset of the first bad byte', () => {
    const bad = Buffer.concat([Buffer.from('{"a":"é'), Buffer.from([0xff]), Buffer.from('"}')]);
    for (const format of ['json', 'sniff', 'ndjson'] as const) {
      expect(badInput(() => decodeBody(format, bad)), format).toMatch(/^invalid UTF-8 at byte 8 \(0xff\): JSON must be UTF-8/);
    }
    // Overlong encodings, surrogates and truncated sequences are not UTF-8 either.
    expect(badInput(() => decodeBody('json', Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22])))).toMatch(/at byte 2 \(0xc0\)/);
    expect(badInput(() => decodeBody('json', Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d])))).toMatch(/at byte 2 \(0xed\)/);
    expect(badInput(() => decodeBody('json', Buffer.from([0x22, 0xe6, 0x97])))).toMatch(/at byte 1 \(0xe6\)/);
    // Text and binary bodies are stored as bytes, whatever they hold.
    expect(decodeBody('binary', bad).bodies).toHaveLength(1);
  });
});
