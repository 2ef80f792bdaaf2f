/** `sluice produce` line handling (the command itself runs in test/e2e/consumers.test.ts). */
import { describe, expect, it } from 'vitest';
import { headersFrom, isJsonLine, lineEvent } from './produce.ts';

describe('sluice produce', () => {
  it('JSON objects and arrays are application/json; other lines, JSON scalars included, are text/plain', () => {
    expect(isJsonLine('{"a":1}')).toBe(true);
    expect(isJsonLine('  [1, 2] ')).toBe(true);
    expect(isJsonLine('{not json')).toBe(false);
    expect(isJsonLine('42')).toBe(false);
    expect(isJsonLine('"s"')).toBe(false);
    expect(lineEvent('{"a":1}', 'k', { env: 'prod' })).toEqual({ key: 'k', headers: { env: 'prod', 'content-type': 'application/json' }, text: '{"a":1}' });
    expect(lineEvent('hello', undefined, {})).toEqual({ headers: { 'content-type': 'text/plain' }, text: 'hello' });
    // a content-type given on the command line wins for every line
    expect(lineEvent('{"a":1}', undefined, { 'content-type': 'text/x-log' }).headers).toEqual({ 'content-type': 'text/x-log' });
  });

  it('--header name=value: the value may hold "=", the name may not be empty', () => {
    expect(headersFrom(['env=prod', 'q=a=b', 'empty='])).toEqual({ env: 'prod', q: 'a=b', empty: '' });
    expect(() => headersFrom(['=x'])).toThrow('--header: "=x" is not name=value');
    expect(() => headersFrom(['novalue'])).toThrow('--header: "novalue" is not name=value');
  });
});
