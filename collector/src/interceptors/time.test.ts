import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../../shared/src/event.ts';
import { buildChain } from './index.ts';
import { parseTime } from './time.ts';

describe('parseTime', () => {
  it('auto: seconds below 1e11, milliseconds above, ISO 8601 otherwise', () => {
    expect(parseTime(1_700_000_000, 'auto')).toBe(1_700_000_000_000);
    expect(parseTime('1700000000.25', 'auto')).toBe(1_700_000_000_250);
    expect(parseTime(1_700_000_000_123, 'auto')).toBe(1_700_000_000_123);
    expect(parseTime('2024-01-01T00:00:00Z', 'auto')).toBe(1_704_067_200_000);
  });

  it('ISO 8601: zones, offsets, fractions, a space for T; no zone is UTC', () => {
    expect(parseTime('2024-01-01T01:00:00+01:00', 'iso8601')).toBe(1_704_067_200_000);
    expect(parseTime('2024-01-01T01:00:00+0100', 'iso8601')).toBe(1_704_067_200_000);
    expect(parseTime('2024-01-01 00:00:00.123456', 'iso8601')).toBe(1_704_067_200_123);
    expect(parseTime('2024-01-01T00:00', 'iso8601')).toBe(1_704_067_200_000);
    expect(parseTime('2024-01-01', 'iso8601')).toBe(1_704_067_200_000);
  });

  it('refuses what does not fit the format', () => {
    expect(parseTime('2024-01-01T00:00:00Z', 'epoch_ms')).toBeUndefined();
    expect(parseTime('1700000000', 'iso8601')).toBeUndefined();
    expect(parseTime('yesterday', 'auto')).toBeUndefined();
    expect(parseTime('Mon, 01 Jan 2024 00:00:00 GMT', 'auto')).toBeUndefined();
    expect(parseTime(1e300, 'epoch_ms')).toBeUndefined();
    expect(parseTime(undefined, 'auto')).toBeUndefined();
    expect(parseTime({}, 'auto')).toBeUndefined();
  });

  it('epoch_s and epoch_ms say which it is', () => {
    expect(parseTime(1_700_000_000_000, 'epoch_s')).toBe(1_700_000_000_000_000);
    expect(parseTime(5, 'epoch_ms')).toBe(5);
  });
});

describe('timestamp', () => {
  it('leaves ts alone when the header or field is missing or unreadable', () => {
    const { chain } = buildChain([{ type: 'timestamp', from: 'header', name: 'sent' }], 't');
    const event = makeEvent('a', 'x', { ts: 7, headers: { sent: 'soon' } });
    expect(chain(event)).toBe(event);
  });

  it('says what is missing or unused', () => {
    const { problems } = buildChain(
      [
        { type: 'timestamp', from: 'field' },
        { type: 'timestamp', name: 'x' },
        { type: 'timestamp', preserve_existing: true },
        { type: 'timestamp', from: 'field', name: 'a..b' },
      ],
      't',
    );
    expect(problems).toEqual([
      { path: 't[0].name', message: 'required with from: field' },
      { path: 't[1].name', message: 'not used with from: now' },
      { path: 't[2].preserve_existing', message: 'needs `header`: the header that marks an event as already stamped' },
      { path: 't[3].name', message: expect.stringMatching(/^malformed field path/) },
    ]);
  });
});
