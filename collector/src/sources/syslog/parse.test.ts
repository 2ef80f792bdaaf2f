import { describe, expect, it } from 'vitest';
import { parseSyslog, type SyslogMessage } from './parse.ts';

const NOW = new Date(2024, 5, 15, 12, 0, 0).getTime(); // 15 June 2024, local time

function parse(text: string, now = NOW): Omit<SyslogMessage, 'message'> & { message: string } {
  const m = parseSyslog(Buffer.from(text), now);
  return { ...m, message: Buffer.from(m.message).toString('utf8') };
}

describe('RFC 5424', () => {
  it('parses the RFC examples', () => {
    expect(parse('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}\'su root\' failed for lonvick on /dev/pts/8')).toEqual({
      format: 'rfc5424',
      facility: 4,
      severity: 2,
      ts: Date.parse('2003-10-11T22:14:15.003Z'),
      host: 'mymachine.example.com',
      app: 'su',
      procid: null,
      msgid: 'ID47',
      sd: null,
      message: "'su root' failed for lonvick on /dev/pts/8",
    });
    const m = parse('<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It\'s time to make the do-nuts.');
    expect(m).toMatchObject({ facility: 20, severity: 5, ts: Date.parse('2003-08-24T05:14:15.000-07:00'), host: '192.0.2.1', app: 'myproc', procid: '8710', msgid: null });
    expect(m.message).toBe("%% It's time to make the do-nuts.");
  });

  it('parses structured data with escapes, several elements and repeated params', () => {
    const m = parse('<165>1 2003-10-11T22:14:15.003Z host evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"][x@1 q="a \\"b\\" \\] \\\\ c" r="1" r="2"][empty@1] BOMtext');
    expect(m.sd).toEqual({
      'exampleSDID@32473.iut': '3',
      'exampleSDID@32473.eventSource': 'Application',
      'exampleSDID@32473.eventID': '1011',
      'examplePriority@32473.class': 'high',
      'x@1.q': 'a "b" ] \\ c',
      'x@1.r': '1, 2',
      'empty@1': '',
    });
    expect(m.message).toBe('BOMtext');
  });

  it('takes nil values and no message', () => {
    expect(parse('<13>1 - - - - - -')).toMatchObject({ format: 'rfc5424', ts: null, host: null, app: null, message: '' });
    expect(parse('<13>1 - vm root - - - no time')).toMatchObject({ format: 'rfc5424', ts: null, host: 'vm', app: 'root', message: 'no time' });
  });

  it('keeps malformed structured data in the message', () => {
    const m = parse('<13>1 - h a - - [broken no quotes] text');
    expect(m).toMatchObject({ format: 'rfc5424', sd: null, message: '[broken no quotes] text' });
  });
});

describe('RFC 3164 and what real senders do', () => {
  it('parses the classic form with tag and pid', () => {
    const m = parse("<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed");
    expect(m).toEqual({
      format: 'rfc3164',
      facility: 4,
      severity: 2,
      ts: new Date(2023, 9, 11, 22, 14, 15).getTime(), // October 2024 would be in the future: last year
      host: 'mymachine',
      app: 'su',
      procid: '230',
      msgid: null,
      sd: null,
      message: "'su root' failed",
    });
  });

  it('parses what logger --rfc3164 sends (space-padded day, multi-line text)', () => {
    const m = parse('<155>Jun  5 04:46:00 vm root: multi\nline');
    expect(m).toMatchObject({ facility: 19, severity: 3, ts: new Date(2024, 5, 5, 4, 46, 0).getTime(), host: 'vm', app: 'root', procid: null, message: 'multi\nline' });
  });

  it('takes a hostname-less message (tag first), an RFC 3339 timestamp, a year, fractions', () => {
    expect(parse('<13>Jun 14 10:00:00 cron[99]: job done')).toMatchObject({ host: null, app: 'cron', procid: '99', message: 'job done' });
    expect(parse('<13>2024-06-14T10:00:00.123456+02:00 web-1 nginx: GET /')).toMatchObject({
      ts: Date.parse('2024-06-14T10:00:00.123+02:00'),
      host: 'web-1',
      app: 'nginx',
      message: 'GET /',
    });
    expect(parse('<13>Mar  1 2021 12:00:00 h app: x').ts).toBe(new Date(2021, 2, 1, 12, 0, 0).getTime());
    expect(parse('<13>Jun 14 10:00:00.250 h app: x').ts).toBe(new Date(2024, 5, 14, 10, 0, 0, 250).getTime());
  });

  it('leaves words that are not a tag in the message', () => {
    expect(parse('<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!')).toMatchObject({ host: '10.0.0.99', app: null, message: 'Use the BFG!' });
    expect(parse('<13>Feb  5 17:32:18 h https://example.com is down')).toMatchObject({ host: 'h', app: null, message: 'https://example.com is down' });
    expect(parse('<13>hello world')).toMatchObject({ format: 'rfc3164', ts: null, host: null, app: null, message: 'hello world' });
  });

  it('assumes user.notice without a PRI and keeps the whole line', () => {
    expect(parse('just some text\r\n')).toMatchObject({ format: 'none', facility: 1, severity: 5, message: 'just some text' });
    expect(parse('<999>x')).toMatchObject({ format: 'none', message: '<999>x' });
  });

  it('never throws on garbage', () => {
    for (const s of ['', '<', '<1', '<13>', '<13>1', '<13>1 ', '<13>1 2024', '<13>Jan', '\u0000\u0001', '<13>1 - - - - - [a b="']) {
      expect(() => parseSyslog(Buffer.from(s))).not.toThrow();
    }
  });
});
