/** The record batch writer is byte for byte msgpackr's encoding of format 1, and reads back exactly. */
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { EventDraft, Headers } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { checkBatches, decodeBatch, encodeBatch, encodeBatchReference, RECORD_FORMAT } from './format.ts';

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

/** What a peer's batch frame holds: format-1 payloads back to back (docs/protocols/forward.md, batch forwarding). */
describe('checkBatches: record batches from a peer', () => {
  const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);

  it('accepts what encodeBatch writes, batch by batch, as views with their counts and time ranges', () => {
    const input = events(300, 3);
    const a = encodeBatch(input, 0, 100);
    const b = encodeBatch(input, 100, 300);
    const bytes = concat(a.payload, b.payload);
    const checked = checkBatches(bytes);
    expect(checked.map((c) => ({ count: c.count, minTs: c.minTs, maxTs: c.maxTs, at: c.at }))).toEqual([
      { count: 100, minTs: a.minTs, maxTs: a.maxTs, at: 0 },
      { count: 200, minTs: b.minTs, maxTs: b.maxTs, at: a.payload.length },
    ]);
    expect(Buffer.compare(checked[1].payload, b.payload)).toBe(0);
    expect(checked[1].payload.buffer).toBe(bytes.buffer); // a view, not a copy
  });

  const refused = (bytes: Uint8Array, max?: number) => {
    try {
      checkBatches(bytes, max);
    } catch (error) {
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe(ErrorCodes.PROTOCOL);
      return (error as SluiceError).message;
    }
    throw new Error('accepted');
  };
  const one = (record: unknown[], baseTs: unknown = 1_700_000_000_000) => {
    // hand-built payloads: [baseTs, [record]]
    return new Packr({ useRecords: false, variableMapSize: true }).pack([baseTs, [record]]);
  };

  it('refuses wrong shapes, naming the batch, the record and the byte', () => {
    expect(refused(one([0, null, null]))).toMatch(/record batch 0 \(byte 0\) record 0: must be \[tsDelta, key, headers, body\]/);
    expect(refused(one([0, 5, null, Buffer.from('x')]))).toMatch(/key must be a string/);
    expect(refused(one([0, null, { a: 1 }, Buffer.from('x')]))).toMatch(/header value must be a string/);
    expect(refused(one([0, null, null, 'text']))).toMatch(/body must be binary/);
    expect(refused(one([-1_800_000_000_000, null, null, Buffer.from('x')]))).toMatch(/outside 0/);
    expect(refused(Buffer.from([0x92, 0x00, 0x90]))).toMatch(/holds no records/);
    expect(refused(Buffer.from([0x93, 0x00, 0x90, 0xc0]))).toMatch(/must be \[baseTs, records\]/);
    // a 64-bit integer (never written by encodeBatch) and an ext type (msgpackr would interpret it)
    expect(refused(Buffer.from([0x92, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1, 0x91, 0x94, 0, 0xc0, 0xc0, 0xc4, 0]))).toMatch(/baseTs must be a number/);
    expect(refused(Buffer.from([0x92, 0x00, 0x91, 0x94, 0, 0xc0, 0xd4, 0x01, 0x00, 0xc4, 0]))).toMatch(/headers must be nil or a map/);
    // invalid UTF-8 in a header, truncation, trailing garbage, too many events
    const bad = Buffer.from(one([0, null, { h: 'é' }, Buffer.from('x')]));
    bad[bad.indexOf(0xc3)] = 0xff;
    expect(refused(bad)).toMatch(/header value is not valid UTF-8/);
    const good = encodeBatch(events(10, 1)).payload;
    expect(refused(good.subarray(0, good.length - 1))).toMatch(/truncated/);
    expect(refused(concat(good, Buffer.from([0xc1])))).toMatch(/record batch 1/);
    expect(refused(good, 5)).toMatch(/more than 5 events/);
  });

  it('refuses every truncation and survives a bounded fuzz: whatever it accepts decodes to the counted events', () => {
    const good = encodeBatch(events(40, 9).map((e) => ({ ...e, body: e.body.subarray(0, 40) }))).payload;
    for (let cut = 0; cut < good.length; cut++) if (cut > 0) refused(good.subarray(0, cut));
    let x = 12345;
    const rnd = (n: number) => ((x = (x * 1103515245 + 12345) & 0x7fffffff) % n);
    let accepted = 0;
    for (let round = 0; round < 1000; round++) {
      const bytes = Buffer.from(good);
      for (let k = 1 + rnd(4); k > 0; k--) bytes[rnd(bytes.length)] = rnd(256);
      let checked;
      try {
        checked = checkBatches(bytes);
      } catch (error) {
        expect((error as SluiceError).code).toBe(ErrorCodes.PROTOCOL);
        continue;
      }
      accepted++;
      for (const c of checked) {
        const back = decodeBatch('t', 0, RECORD_FORMAT, c.payload);
        const wrong = back.filter((e) => !(e.ts >= c.minTs && e.ts <= c.maxTs && e.body instanceof Uint8Array && Object.values(e.headers).every((v) => typeof v === 'string')));
        expect([back.length, wrong]).toEqual([c.count, []]);
      }
    }
    expect(accepted).toBeGreaterThan(0); // flips inside bodies keep a batch valid
  });
});
