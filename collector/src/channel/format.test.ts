/** The record batch writer is byte for byte msgpackr's encoding of format 1, and reads back exactly. */
import { describe, expect, it } from 'vitest';
import type { EventDraft, Headers } from '../../../shared/src/event.ts';
import { decodeBatch, encodeBatch, encodeBatchReference, RECORD_FORMAT } from './format.ts';

function events(n: number, seed: number): EventDraft[] {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const shared = { 'content-type': 'application/json', host: 'edge-1' };
  const deltas = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32 + 5, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 7, 0.5];
  const base = 1_700_000_000_000;
  return Array.from({ length: n }, (_, i) => {
    const size = i % 97 === 3 ? 70_000 : [0, 1, 200, 255, 256][Math.floor(rnd() * 5)];
    const headers: Headers = rnd() < 0.5 ? shared : rnd() < 0.5 ? {} : { 'content-type': 'text/plain', n: String(i), ['x'.repeat(40)]: 'é'.repeat(20) };
    return {
      topic: 't',
      ts: i === 0 ? base : base + deltas[Math.floor(rnd() * deltas.length)],
      key: rnd() < 0.3 ? `key-${i}${'k'.repeat(Math.floor(rnd() * 300))}` : null,
      headers: rnd() < 0.3 ? { ...headers } : headers,
      body: Buffer.alloc(size, i % 251),
    };
  });
}

describe('record batch format 1', () => {
  it.each([1, 15, 16, 1000, 70_000])('encodeBatch writes exactly what msgpackr writes (%i events), and decodes back', (n) => {
    const input = events(n, n);
    const fast = encodeBatch(input);
    const reference = encodeBatchReference(input);
    expect(Buffer.compare(fast.payload, reference.payload)).toBe(0);
    expect({ ...fast, payload: null }).toEqual({ ...reference, payload: null });
    if (n > 1000) return; // the byte comparison covers it; a deep comparison of 70,000 events is slow
    const back = decodeBatch('t', 10, RECORD_FORMAT, fast.payload);
    expect(back.map((e) => ({ ts: e.ts, key: e.key, headers: e.headers, body: Buffer.from(e.body) }))).toEqual(input.map((e) => ({ ts: e.ts, key: e.key, headers: e.headers, body: e.body })));
    expect(back[n - 1].offset).toBe(10 + n - 1);
  });

  it('encodes a slice of the events', () => {
    const input = events(50, 7);
    expect(Buffer.compare(encodeBatch(input, 10, 40).payload, encodeBatchReference(input, 10, 40).payload)).toBe(0);
  });
});
