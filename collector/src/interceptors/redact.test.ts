import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { fromUtf8, makeEvent } from '../../../shared/src/event.ts';
import { validateConfig } from '../../../shared/src/spec.ts';
import { redact } from './redact.ts';

function masker(config: Record<string, unknown>) {
  const { value, problems } = validateConfig(redact.config, config, 'redact');
  expect(problems).toEqual([]);
  const interceptor = redact.create(value!);
  return (text: string) => fromUtf8(interceptor(makeEvent('app', text))!.body);
}

describe('redact presets', () => {
  it('ipv6: every text form, but not times, MAC addresses or C++ scopes', () => {
    const m = masker({ presets: ['ipv6'], mask: '<ip>' });
    for (const ip of ['::1', 'fe80::1', '2001:db8::8a2e:370:7334', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:db8::', '::ffff:192.0.2.1', '64:ff9b::192.0.2.33']) {
      expect(m(`from ${ip} ok`), ip).toBe('from <ip> ok');
    }
    expect(m('[::1]:8080 and fe80::1%eth0.')).toBe('[<ip>]:8080 and <ip>%eth0.');
    for (const text of ['at 12:30:45', 'mac 00:1a:2b:3c:4d:5e', 'std::vector<int>', 'a :: b', 'version 1:2:3']) expect(m(text)).toBe(text);
  });

  it('ipv4: addresses, not version numbers with more parts', () => {
    const m = masker({ presets: ['ipv4'], mask: '<ip>' });
    expect(m('client=10.0.0.7, peer 192.168.1.254.')).toBe('client=<ip>, peer <ip>.');
    expect(m('v1.2.3.4.5 and 999.1.1.1')).toBe('v1.2.3.4.5 and 999.1.1.1');
  });

  it('credit_card: only numbers that pass the Luhn check, with or without separators', () => {
    const m = masker({ presets: ['credit_card'], mask: '<card>' });
    expect(m('4111111111111111 / 5500-0000-0000-0004 / 3782 822463 10005')).toBe('<card> / <card> / <card>');
    expect(m('id 4111111111111112, long 41111111111111111111')).toBe('id 4111111111111112, long 41111111111111111111');
  });

  it('email, jwt and us_ssn', () => {
    const m = masker({ presets: ['email', 'jwt', 'us_ssn'], mask: '#' });
    expect(m('to: Ann.Lee+x@mail.example.co.uk')).toBe('to: #');
    expect(m('auth eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_123 end')).toBe('auth # end');
    expect(m('ssn 123-45-6789, not 000-12-3456')).toBe('ssn #, not 000-12-3456');
  });

  it('keeps a JSON body valid JSON', () => {
    const m = masker({ presets: ['email', 'ipv4', 'ipv6', 'credit_card'] });
    expect(JSON.parse(m('{"who":"a@b.io","ip":"::1","card":"4111 1111 1111 1111","n":1}'))).toEqual({ who: '[REDACTED]', ip: '[REDACTED]', card: '[REDACTED]', n: 1 });
  });
});

describe('redact', () => {
  it('masks every string inside a msgpack body and re-encodes it', () => {
    const { value } = validateConfig(redact.config, { presets: ['email'] }, 'r');
    const event = makeEvent('app', new Uint8Array(pack({ users: [{ mail: 'a@b.io', n: 1 }], note: 'ok' })), { headers: { 'content-type': 'application/msgpack' } });
    const out = redact.create(value!)(event)!;
    expect(unpack(out.body)).toEqual({ users: [{ mail: '[REDACTED]', n: 1 }], note: 'ok' });
    const clean = makeEvent('app', new Uint8Array(pack({ note: 'ok' })), { headers: { 'content-type': 'application/msgpack' } });
    expect(redact.create(value!)(clean)).toBe(clean);
  });

  it('masks all headers with *, only the body when asked, and uses the mask literally', () => {
    const { value } = validateConfig(redact.config, { patterns: ['secret\\d+'], headers: ['*'], body: false, mask: '$&$1' }, 'r');
    const event = makeEvent('app', 'secret1', { headers: { a: 'x secret2', b: 'clean' } });
    const out = redact.create(value!)(event)!;
    expect(out.headers).toEqual({ a: 'x $&$1', b: 'clean' });
    expect(out.body).toBe(event.body);
  });

  it('leaves binary bodies alone', () => {
    const { value } = validateConfig(redact.config, { patterns: ['.'] }, 'r');
    const event = makeEvent('app', new Uint8Array([0xff, 0xfe, 0x41]));
    expect(redact.create(value!)(event)).toBe(event);
  });

  it('reports each bad pattern with its index, and a config with nothing to mask', () => {
    const { value } = validateConfig(redact.config, { patterns: ['(a', 'ok', '*'] }, 'r');
    expect(() => redact.create(value!)).toThrow('interceptor "redact": patterns.0: invalid regular expression: Unterminated group; patterns.2: invalid regular expression: Nothing to repeat');
    const empty = validateConfig(redact.config, {}, 'r');
    expect(() => redact.create(empty.value!)).toThrow('presets: give `presets`, `patterns` or both');
  });
});
