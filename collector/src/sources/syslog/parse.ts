/**
 * Syslog message parsing: RFC 5424 and RFC 3164 (BSD), auto-detected per message, on bytes.
 *
 * RFC 5424:  <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
 *            e.g. `<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [ex@32473 k="v"] text`
 * RFC 3164:  <PRI>TIMESTAMP SP HOSTNAME SP TAG[PID]: MSG
 *            e.g. `<34>Oct 11 22:14:15 host su[42]: 'su root' failed`
 *
 * 3164 is a description of practice more than a grammar, so its parser is lenient, in the ways
 * rsyslog and `logger` need: a missing hostname (the first word ends in ':' or holds '[' — it
 * is the tag), an RFC 3339 timestamp in the 3164 slot (RSYSLOG_ForwardFormat), a year after
 * the day (`Mar  1 2024 12:00:00`), fractional seconds, no tag, no timestamp, and no PRI at all
 * (then facility user, severity notice, as RFC 3164 §4.3.3 says a relay must assume). Nothing
 * is refused: what cannot be parsed stays in the message text.
 */

export type SyslogFormat = 'rfc5424' | 'rfc3164' | 'none';

export interface SyslogMessage {
  format: SyslogFormat;
  facility: number;
  severity: number;
  /** The message's own time (ms since the epoch), or null if it has none we can read. */
  ts: number | null;
  host: string | null;
  app: string | null;
  procid: string | null;
  msgid: string | null;
  /** Structured data as `SD-ID.PARAM` → value (a repeated PARAM is joined with ", "); an SD-ID without params maps to "". */
  sd: Record<string, string> | null;
  /** The MSG part, as bytes (a UTF-8 BOM removed). */
  message: Uint8Array;
}

export const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

const SP = 0x20;
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/;
const BSD_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?= |$)/;
const ISO_TIME = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?(?= |$)/;

/**
 * Parses one message (one datagram or one TCP frame, without framing). `now` is the receive
 * time, used to pick the year of a 3164 timestamp (which has none): the current year, or the
 * previous one if that would put the message more than a day in the future.
 */
export function parseSyslog(buf: Uint8Array, now: number = Date.now()): SyslogMessage {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0x0a || b[end - 1] === 0x0d || b[end - 1] === 0x00)) end--;
  const pri = parsePri(b, end);
  if (!pri) return { format: 'none', facility: 1, severity: 5, ts: null, host: null, app: null, procid: null, msgid: null, sd: null, message: b.subarray(0, end) };
  const facility = pri.value >> 3;
  const severity = pri.value & 7;
  const i = pri.next;
  // VERSION SP followed by a timestamp or '-': RFC 5424.
  if (i < end && b[i] >= 0x31 && b[i] <= 0x39) {
    let j = i + 1;
    while (j < end && j < i + 3 && isDigit(b[j])) j++;
    if (j + 1 < end && b[j] === SP && (isDigit(b[j + 1]) || b[j + 1] === 0x2d)) {
      const parsed = parse5424(b, j + 1, end, now, facility, severity);
      if (parsed) return parsed;
    }
  }
  return parse3164(b, i, end, now, facility, severity);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function parsePri(b: Buffer, end: number): { value: number; next: number } | null {
  if (end < 3 || b[0] !== 0x3c) return null;
  let value = 0;
  let i = 1;
  while (i < end && i < 5 && isDigit(b[i])) value = value * 10 + (b[i++] - 0x30);
  if (i === 1 || i >= end || b[i] !== 0x3e || value > 191) return null;
  return { value, next: i + 1 };
}

/** The next SP-delimited token [start, stop) from i. */
function token(b: Buffer, i: number, end: number): number {
  let j = i;
  while (j < end && b[j] !== SP) j++;
  return j;
}

function field(b: Buffer, s: number, e: number): string | null {
  if (e - s === 1 && b[s] === 0x2d) return null; // NILVALUE
  return e > s ? b.toString('utf8', s, e) : null;
}

/**
 * Timestamps repeat from message to message (one sender, one second): remember the last text
 * parsed and its value. A 3164 value also depends on the receive time (for the year), so a
 * remembered value is reused only within a minute.
 */
const tsCache: { text: string; value: number | null; at: number } = { text: '', value: null, at: 0 };

function cachedTs(text: string, now: number, parse: (text: string) => number | null): number | null {
  if (text === tsCache.text && Math.abs(now - tsCache.at) < 60_000) return tsCache.value;
  const value = parse(text);
  tsCache.text = text;
  tsCache.value = value;
  tsCache.at = now;
  return value;
}

const parseRfc3339 = (text: string): number | null => (RFC3339.test(text) ? Date.parse(text) : null);

function parse5424(b: Buffer, i: number, end: number, now: number, facility: number, severity: number): SyslogMessage | null {
  const fields: (string | null)[] = [];
  for (let n = 0; n < 5; n++) {
    const stop = token(b, i, end);
    if (stop >= end && n < 4) return null;
    fields.push(field(b, i, stop));
    i = stop + 1;
  }
  const [time, host, app, procid, msgid] = fields;
  let ts: number | null = null;
  if (time !== null) {
    ts = cachedTs(time, now, parseRfc3339);
    if (ts === null) return null;
  }
  let sd: Record<string, string> | null = null;
  if (i < end) {
    if (b[i] === 0x2d) i++;
    else if (b[i] === 0x5b) {
      const parsed = parseStructuredData(b, i, end);
      if (parsed) {
        sd = parsed.sd;
        i = parsed.next;
      }
      // Malformed SD: leave it in the message rather than lose it.
    }
    if (i < end && b[i] === SP) i++;
  }
  if (end - i >= 3 && b[i] === 0xef && b[i + 1] === 0xbb && b[i + 2] === 0xbf) i += 3;
  return { format: 'rfc5424', facility, severity, ts, host, app, procid, msgid, sd, message: b.subarray(Math.min(i, end), end) };
}

function parseStructuredData(b: Buffer, i: number, end: number): { sd: Record<string, string>; next: number } | null {
  const sd: Record<string, string> = {};
  while (i < end && b[i] === 0x5b) {
    i++;
    let j = i;
    while (j < end && b[j] !== SP && b[j] !== 0x5d) j++;
    if (j >= end || j === i) return null;
    const id = b.toString('utf8', i, j);
    i = j;
    let params = 0;
    while (i < end && b[i] === SP) {
      i++;
      let eq = i;
      while (eq < end && b[eq] !== 0x3d && b[eq] !== SP && b[eq] !== 0x5d) eq++;
      if (eq + 1 >= end || b[eq] !== 0x3d || b[eq + 1] !== 0x22) return null;
      const name = b.toString('utf8', i, eq);
      // PARAM-VALUE: '"', '\' and ']' are escaped with '\'. Without a backslash: one decode.
      let k = eq + 2;
      const quote = b.indexOf(0x22, k);
      if (quote === -1 || quote >= end) return null;
      const backslash = b.indexOf(0x5c, k);
      let value: string;
      if (backslash === -1 || backslash > quote) {
        value = b.toString('utf8', k, quote);
        k = quote + 1;
      } else {
        const unescaped = unescapeParam(b, k, end);
        if (!unescaped) return null;
        value = unescaped.value;
        k = unescaped.next;
      }
      const key = `${id}.${name}`;
      sd[key] = key in sd ? `${sd[key]}, ${value}` : value;
      params++;
      i = k;
    }
    if (i >= end || b[i] !== 0x5d) return null;
    if (params === 0) sd[id] = '';
    i++;
  }
  return { sd, next: i };
}

/** A PARAM-VALUE with escapes, from after its opening quote; `next` is after the closing quote. */
function unescapeParam(b: Buffer, k: number, end: number): { value: string; next: number } | null {
  const bytes: number[] = [];
  while (k < end) {
    const c = b[k];
    if (c === 0x5c && k + 1 < end && (b[k + 1] === 0x22 || b[k + 1] === 0x5c || b[k + 1] === 0x5d)) {
      bytes.push(b[k + 1]);
      k += 2;
    } else if (c === 0x22) {
      return { value: Buffer.from(bytes).toString('utf8'), next: k + 1 };
    } else {
      bytes.push(c);
      k++;
    }
  }
  return null;
}

function parse3164(b: Buffer, i: number, end: number, now: number, facility: number, severity: number): SyslogMessage {
  if (i < end && b[i] === SP) i++; // `<13> Mar  1 …` from some devices
  const head = b.toString('latin1', i, Math.min(end, i + 40));
  let ts: number | null = null;
  let m = BSD_TIME.exec(head);
  if (m && m[1] in MONTHS) {
    const match = m;
    ts = cachedTs(m[0], now, () => bsdTime(match, now));
    i += m[0].length + 1;
  } else if ((m = ISO_TIME.exec(head))) {
    const parsed = cachedTs(m[0], now, (text) => Date.parse(text.replace(' ', 'T')));
    if (parsed !== null && Number.isFinite(parsed)) {
      ts = parsed;
      i += m[0].length + 1;
    }
  }
  let host: string | null = null;
  let app: string | null = null;
  let procid: string | null = null;
  if (ts !== null && i < end) {
    // HOSTNAME, unless the first word is already the tag (`app:` / `app[1]:`: no hostname sent).
    const stop = token(b, i, end);
    const last = b[stop - 1];
    const isTag = last === 0x3a || b.subarray(i, stop).includes(0x5b);
    if (!isTag && stop < end) {
      host = b.toString('utf8', i, stop);
      i = stop + 1;
    }
  }
  if (i < end) {
    // TAG: up to 48 word characters, then `[PID]` and/or ':'.
    let j = i;
    while (j < end && j - i < 48 && b[j] !== 0x3a && b[j] !== 0x5b && b[j] !== SP) j++;
    if (j > i && j < end && (b[j] === 0x3a || b[j] === 0x5b)) {
      let k = j;
      let pid: string | null = null;
      if (b[k] === 0x5b) {
        const close = b.indexOf(0x5d, k);
        if (close !== -1 && close < end && close - k <= 32) {
          pid = b.toString('utf8', k + 1, close);
          k = close + 1;
        } else k = -1;
      }
      // The tag ends in ':' + SP (not a URL's "https:"), or `[PID]` + SP.
      const colonEnds = k < end && b[k] === 0x3a && (k + 1 >= end || b[k + 1] === SP);
      if (k !== -1 && (k >= end || colonEnds || (k > j && b[k] === SP))) {
        app = b.toString('utf8', i, j);
        procid = pid;
        if (k < end && b[k] === 0x3a) k++;
        if (k < end && b[k] === SP) k++;
        i = k;
      }
    }
  }
  return { format: 'rfc3164', facility, severity, ts, host, app, procid, msgid: null, sd: null, message: b.subarray(Math.min(i, end), end) };
}

function bsdTime(m: RegExpExecArray, now: number): number {
  const month = MONTHS[m[1]];
  const day = Number(m[2]);
  const frac = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  const at = (year: number) => new Date(year, month, day, Number(m[4]), Number(m[5]), Number(m[6]), frac).getTime();
  if (m[3]) return at(Number(m[3]));
  const year = new Date(now).getFullYear();
  const t = at(year);
  return t > now + 86_400_000 ? at(year - 1) : t;
}
