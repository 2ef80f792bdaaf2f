import { describe, expect, it } from 'vitest';
import { SyslogFramer, type FramingMode } from './framing.ts';

function frames(chunks: string[], max = 1000, mode: FramingMode = 'auto'): string[] {
  const f = new SyslogFramer({ maxMessageBytes: max, mode });
  const out: string[] = [];
  for (const c of chunks) out.push(...f.push(Buffer.from(c)).map((b) => b.toString()));
  out.push(...f.end().map((b) => b.toString()));
  return out;
}

/** Every split of `text` into two chunks gives the same frames. */
function allSplits(text: string, max = 1000): string[] {
  const whole = frames([text], max);
  for (let i = 1; i < text.length; i++) expect(frames([text.slice(0, i), text.slice(i)], max)).toEqual(whole);
  return whole;
}

describe('SyslogFramer', () => {
  it('splits newline-framed messages, at any chunk boundary', () => {
    expect(allSplits('<13>a b\n<13>c d\r\n\n<13>e')).toEqual(['<13>a b', '<13>c d\r', '<13>e']);
  });

  it('splits octet-counted messages, which may hold newlines', () => {
    expect(allSplits('7 <13>a\nb11 <13>c d e f')).toEqual(['<13>a\nb', '<13>c d e f']);
  });

  it('detects the framing per message', () => {
    expect(allSplits('5 <13>x<13>newline\n3 <1>')).toEqual(['<13>x', '<13>newline', '<1>']);
  });

  it('truncates over-long messages and resynchronises after them', () => {
    expect(frames(['20 <13>aaaaaaaaaaaaaaaa', '3 <1>'], 8)).toEqual(['<13>aaaa', '<1>']);
    expect(frames(['20 <13>aaaa', 'aaaaaaaaaaaa3 <1>'], 8)).toEqual(['<13>aaaa', '<1>']);
    expect(frames(['<13>bbbbbbbbbbbbbbbbbbb', 'bbbb\n<13>ok\n'], 8)).toEqual(['<13>bbbb', '<13>ok']);
  });

  it('drops an unfinished octet-counted frame at the end of the stream', () => {
    expect(frames(['10 <13>abc'])).toEqual([]);
  });

  it('honours a forced mode', () => {
    expect(frames(['12 monkeys\n'], 1000, 'newline')).toEqual(['12 monkeys']);
    expect(frames(['garbage\n4 <1>x'], 1000, 'octet_counting')).toEqual(['<1>x']);
  });
});
