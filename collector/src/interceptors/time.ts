/** Reading a time out of a header or a body field, for timestamp and regex_extractor. */
import { stringEnum } from './config.ts';

export const TimeFormat = stringEnum(['auto', 'epoch_ms', 'epoch_s', 'iso8601'], {
  default: 'auto',
  description:
    'How the time is written: `epoch_ms`, `epoch_s` (fractions allowed), `iso8601` (no zone means UTC), or `auto`: numbers below 100000000000 are seconds, larger ones milliseconds, anything else ISO 8601.',
});
export type TimeFormat = 'auto' | 'epoch_ms' | 'epoch_s' | 'iso8601';

/** Epoch seconds below this are seconds in `auto` (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_BELOW = 1e11;
/** The range of a JavaScript Date. */
const MAX_MS = 8.64e15;

const NUMBER = /^-?\d+(?:\.\d+)?$/;
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Milliseconds since the epoch, or undefined when `value` is not a time in `format`. */
export function parseTime(value: unknown, format: TimeFormat): number | undefined {
  let ms: number | undefined;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number' || typeof value === 'bigint' || (typeof value === 'string' && NUMBER.test(value.trim()))) {
    if (format === 'iso8601') return undefined;
    const n = Number(typeof value === 'string' ? value.trim() : value);
    const seconds = format === 'epoch_s' || (format === 'auto' && Math.abs(n) < SECONDS_BELOW);
    ms = Math.round(seconds ? n * 1000 : n);
  } else if (typeof value === 'string' && (format === 'auto' || format === 'iso8601')) {
    ms = parseIso(value.trim());
  }
  return ms !== undefined && Number.isFinite(ms) && Math.abs(ms) <= MAX_MS ? ms : undefined;
}

function parseIso(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, date, time, zone] = m;
  if (!time) return Date.parse(`${date}T00:00:00Z`);
  let clock = time.replace(',', '.');
  if (clock.length === 5) clock += ':00';
  // Date.parse takes up to millisecond precision reliably; cut longer fractions.
  clock = clock.replace(/(\.\d{3})\d+$/, '$1');
  let z = (zone ?? 'Z').toUpperCase();
  if (/^[+-]\d{2}$/.test(z)) z += ':00';
  else if (/^[+-]\d{4}$/.test(z)) z = `${z.slice(0, 3)}:${z.slice(3)}`;
  const ms = Date.parse(`${date}T${clock}${z}`);
  return Number.isNaN(ms) ? undefined : ms;
}
