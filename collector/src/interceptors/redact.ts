/**
 * redact: masks sensitive text — preset patterns (email, credit card, IP addresses, JWT, US SSN)
 * and custom regular expressions — in the body and chosen headers. Text bodies are rewritten as
 * text (a JSON body stays valid JSON: no preset matches a quote); msgpack bodies are decoded and
 * every string in them is masked. Binary bodies (not UTF-8) pass unchanged.
 */
import { Type } from '@sinclair/typebox';
import { utf8, type EventDraft, type Headers } from '../../../shared/src/event.ts';
import { bodyText, decodeStructured, encodeStructured, structuredKindOf } from './body.ts';
import { ConfigChecks, interceptorConfig, stringEnum } from './config.ts';
import { withHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const H = '[0-9A-Fa-f]{1,4}';
const IPV4 = '(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** Every IPv6 text form with at least one group; longest alternatives first, then bounded on both sides. */
const IPV6 = [
  `(?:${H}:){6}${IPV4}`,
  `(?:${H}:){0,5}(?:${H})?::(?:ffff(?::0{1,4})?:)?${IPV4}`,
  `(?:${H}:){7}${H}`,
  `(?:${H}:){1,6}:${H}`,
  `(?:${H}:){1,5}(?::${H}){1,2}`,
  `(?:${H}:){1,4}(?::${H}){1,3}`,
  `(?:${H}:){1,3}(?::${H}){1,4}`,
  `(?:${H}:){1,2}(?::${H}){1,5}`,
  `${H}:(?::${H}){1,6}`,
  `:(?::${H}){1,7}`,
  `(?:${H}:){1,7}:`,
].join('|');

interface Preset {
  regex: RegExp;
  /** A second check on a match; false keeps the text. */
  accept?: (match: string) => boolean;
}

/** Applied in this order, before custom patterns. */
const PRESETS = {
  jwt: { regex: /\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g },
  email: { regex: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g },
  credit_card: { regex: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g, accept: luhn },
  us_ssn: { regex: /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b/g },
  ipv6: { regex: new RegExp(`(?<![\\w:.])(?:${IPV6})(?![\\w:]|\\.\\d)`, 'g') },
  ipv4: { regex: new RegExp(`(?<![\\w.])${IPV4}(?![\\w]|\\.\\d)`, 'g') },
} satisfies Record<string, Preset>;

type PresetName = keyof typeof PRESETS;
const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

const config = interceptorConfig({
  presets: Type.Array(stringEnum(PRESET_NAMES, { description: 'A preset pattern.' }), {
    default: [],
    description: `Built-in patterns: ${PRESET_NAMES.map((n) => `\`${n}\``).join(', ')}. Card numbers must pass the Luhn check.`,
  }),
  patterns: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'More regular expressions (JavaScript syntax) to mask.' }),
  ignore_case: Type.Boolean({ default: false, description: 'Match `patterns` regardless of case.' }),
  mask: Type.String({ default: '[REDACTED]', description: 'What each match becomes.' }),
  body: Type.Boolean({ default: true, description: 'Mask the body.' }),
  headers: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Headers to mask too; `*` for all of them.' }),
});

export const redact: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'redact',
  summary: 'Masks emails, card numbers, IP addresses, tokens or custom patterns in the body and headers.',
  config,
  examples: [
    { title: 'Personal data in the body', config: { presets: ['email', 'credit_card', 'ipv4', 'ipv6'] } },
    { title: 'API keys anywhere', config: { patterns: ['sk_live_[0-9a-zA-Z]{24}'], headers: ['*'], mask: '***' } },
  ],
  cases: [
    {
      title: 'Presets',
      config: { presets: ['email', 'credit_card', 'ipv4'] },
      cases: [
        {
          input: { body: 'ann@example.com paid with 4111 1111 1111 1111 from 10.0.0.7' },
          output: { body: '[REDACTED] paid with [REDACTED] from [REDACTED]' },
        },
        { input: { body: 'order 1234 5678 9012 3456 shipped (fails the Luhn check)' }, output: { body: 'order 1234 5678 9012 3456 shipped (fails the Luhn check)' } },
      ],
    },
    {
      title: 'A custom pattern in a header and the body',
      config: { patterns: ['token=\\w+'], headers: ['referer'], mask: 'token=***' },
      cases: [
        {
          input: { headers: { referer: '/cb?token=abc123', host: 'a' }, body: 'GET /x?token=zz9' },
          output: { headers: { referer: '/cb?token=***', host: 'a' }, body: 'GET /x?token=***' },
        },
      ],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('redact');
    if (c.presets.length === 0 && c.patterns.length === 0) checks.problem(['presets'], 'give `presets`, `patterns` or both');
    const rules: Preset[] = PRESET_NAMES.filter((n) => c.presets.includes(n)).map((n) => PRESETS[n]);
    c.patterns.forEach((p, i) => {
      const regex = checks.regex(p, c.ignore_case ? 'gi' : 'g', ['patterns', i]);
      if (regex) rules.push({ regex });
    });
    checks.done();
    const { mask } = c;
    const allHeaders = c.headers.includes('*');
    const headerNames = c.headers.filter((h) => h !== '*');

    const maskText = (text: string): string => {
      let out = text;
      for (const { regex, accept } of rules) {
        out = accept ? out.replace(regex, (m) => (accept(m) ? mask : m)) : out.replace(regex, () => mask);
      }
      return out;
    };

    const maskValue = (value: unknown): { value: unknown; changed: boolean } => {
      if (typeof value === 'string') {
        const masked = maskText(value);
        return { value: masked, changed: masked !== value };
      }
      if (Array.isArray(value)) {
        let changed = false;
        const out = value.map((v) => {
          const r = maskValue(v);
          changed ||= r.changed;
          return r.value;
        });
        return { value: out, changed };
      }
      if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) {
        let changed = false;
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
          const r = maskValue(v);
          changed ||= r.changed;
          Object.defineProperty(out, k, { value: r.value, enumerable: true, writable: true, configurable: true });
        }
        return { value: out, changed };
      }
      return { value, changed: false };
    };

    const maskBody = (event: EventDraft): Uint8Array | undefined => {
      if (structuredKindOf(event.headers) === 'msgpack') {
        const decoded = decodeStructured(event);
        if (decoded === null) return undefined;
        const r = maskValue(decoded.value);
        return r.changed ? encodeStructured('msgpack', r.value) : undefined;
      }
      const text = bodyText(event.body);
      if (text === null) return undefined;
      const masked = maskText(text);
      return masked === text ? undefined : utf8(masked);
    };

    return (event) => {
      const body = c.body ? maskBody(event) : undefined;
      let headers: Headers | undefined;
      for (const name of allHeaders ? Object.keys(event.headers) : headerNames) {
        if (!Object.hasOwn(event.headers, name)) continue;
        const value = event.headers[name];
        const masked = maskText(value);
        if (masked !== value) headers = withHeader(headers ?? event.headers, name, masked);
      }
      if (body === undefined && headers === undefined) return event;
      return { ...event, headers: headers ?? event.headers, body: body ?? event.body };
    };
  },
};

/** The Luhn checksum card numbers carry; it keeps order numbers and the like. */
function luhn(match: string): boolean {
  const digits = match.replace(/[^\d]/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
