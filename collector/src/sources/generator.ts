/**
 * The generator source: synthetic events at a steady rate, for demos, tests and benchmarks.
 * Bodies come from a template with placeholders `{seq}` (0, 1, 2, … per run), `{ts}` (ms since
 * the epoch), `{iso}` (ISO 8601 time) and `{source}` (this source's name):
 *   format json:  {"seq":N,"ts":T,"message":"<template>"[,"pad":"xxx…"]}   application/json
 *   format text:  <template>[ xxx…]                                      text/plain
 * `size` pads every body to at least that many bytes. When the channel applies back-pressure
 * the generator waits and retries the same batch, so `count` events arrive exactly.
 */
import { Type, type Static } from '@sinclair/typebox';
import { errorMessage, isRetriable } from '../../../shared/src/errors.ts';
import { ContentTypes, TOPIC_PATTERN, utf8, type EventDraft, type Headers } from '../../../shared/src/event.ts';
import type { Source, SourceContext, SourceSpec } from '../components.ts';
import { Backoff, sleep } from '../retry.ts';

const GeneratorConfig = Type.Object(
  {
    topic: Type.String({ pattern: TOPIC_PATTERN.source, default: 'generator', description: 'Topic of every event' }),
    rate: Type.Number({ minimum: 0, default: 10, description: 'Events per second; 0: as fast as the channel takes them' }),
    count: Type.Integer({ minimum: 0, default: 0, description: 'Stop after this many events; 0: never stop' }),
    batch: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Most events per channel append' }),
    format: Type.Union([Type.Literal('json'), Type.Literal('text')], { default: 'json', description: 'Body encoding: a JSON object or a text line' }),
    message: Type.String({ default: 'hello from sluice #{seq}', description: 'Body template: {seq}, {ts}, {iso} and {source} are replaced' }),
    size: Type.Integer({ minimum: 0, maximum: 16 * 1024 * 1024, default: 0, description: 'Pad every body to at least this many bytes' }),
    keys: Type.Integer({ minimum: 0, default: 0, description: 'Give events keys `key-0` … `key-(N-1)` in turn; 0: no key' }),
  },
  { additionalProperties: false },
);

export type GeneratorConfig = Static<typeof GeneratorConfig>;

type Part = string | 'seq' | 'ts' | 'iso' | 'source';

export class GeneratorSource implements Source {
  readonly #config: GeneratorConfig;
  readonly #ctx: SourceContext;
  readonly #stop = new AbortController();
  readonly #parts: { literal: boolean; value: string }[];
  readonly #headers: Headers;
  #loop: Promise<void> | null = null;
  /** Events committed so far in this run. */
  sent = 0;

  constructor(config: GeneratorConfig, ctx: SourceContext) {
    this.#config = config;
    this.#ctx = ctx;
    this.#parts = compileTemplate(config.message);
    this.#headers = { 'content-type': config.format === 'json' ? ContentTypes.json : ContentTypes.text };
    ctx.signal.addEventListener('abort', () => this.#stop.abort(), { once: true });
  }

  async start(): Promise<void> {
    this.#loop = this.#run().catch((error) => {
      this.#ctx.log.error({ err: errorMessage(error) }, `source "${this.#ctx.name}": generator stopped: ${errorMessage(error)}`);
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  endpoints(): string[] {
    const rate = this.#config.rate > 0 ? `${this.#config.rate} ev/s` : 'unthrottled';
    return [`generator → ${this.#config.topic} (${rate}${this.#config.count ? `, ${this.#config.count} events` : ''})`];
  }

  /** Resolves once `count` events are committed (never, with count 0, before stop). */
  async done(): Promise<void> {
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { rate, count, batch } = this.#config;
    const signal = this.#stop.signal;
    const backoff = new Backoff({ initialMs: 50, maxMs: 2000 });
    let t0 = performance.now();
    let base = 0; // events counted against t0
    while (!signal.aborted && (count === 0 || this.sent < count)) {
      let n = batch;
      if (rate > 0) {
        const due = Math.floor(((performance.now() - t0) / 1000) * rate) - (this.sent - base);
        if (due <= 0) {
          const nextAt = t0 + (((this.sent - base + 1) / rate) * 1000);
          if (!(await sleep(Math.max(1, Math.ceil(nextAt - performance.now())), signal))) break;
          continue;
        }
        // More than a second behind (the channel was slow): don't burst to catch up.
        if (due > Math.max(batch, rate)) {
          t0 = performance.now();
          base = this.sent;
        }
        n = Math.min(due, batch);
      }
      if (count > 0) n = Math.min(n, count - this.sent);
      const events = this.#build(this.sent, n);
      for (;;) {
        try {
          await this.#ctx.ingest(events);
          backoff.reset();
          break;
        } catch (error) {
          if (!isRetriable(error)) throw error;
          const delay = backoff.next();
          if (backoff.attempt === 1) this.#ctx.log.warn({ err: errorMessage(error) }, `source "${this.#ctx.name}": channel refuses events; generator waits (retrying in ${delay} ms)`);
          if (!(await sleep(delay, signal))) return;
        }
      }
      this.sent += n;
    }
  }

  #build(first: number, n: number): EventDraft[] {
    const { topic, format, size, keys } = this.#config;
    const ts = Date.now();
    const iso = new Date(ts).toISOString();
    const out: EventDraft[] = new Array(n);
    // The bodies of a batch are encoded into one buffer and each event gets a view of it, as a
    // network source's events are views of the received bytes: a buffer per event would be a
    // million small native allocations per million events, which glibc keeps after they are freed.
    const texts: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const seq = first + i;
      let text = '';
      for (const p of this.#parts) {
        if (p.literal) text += p.value;
        else if (p.value === 'seq') text += seq;
        else if (p.value === 'ts') text += ts;
        else if (p.value === 'iso') text += iso;
        else text += this.#ctx.name;
      }
      let body = format === 'json' ? `{"seq":${seq},"ts":${ts},"message":${JSON.stringify(text)}` : text;
      if (size > 0) {
        const bytes = Buffer.byteLength(body) + (format === 'json' ? 1 : 0);
        if (bytes < size) body += format === 'json' ? `,"pad":"${'x'.repeat(Math.max(0, size - bytes - 9))}"` : ` ${'x'.repeat(size - bytes - 1)}`;
      }
      if (format === 'json') body += '}';
      texts[i] = body;
    }
    const bytes = utf8(texts.join(''));
    let at = 0;
    for (let i = 0; i < n; i++) {
      const seq = first + i;
      const end = at + Buffer.byteLength(texts[i]);
      out[i] = { topic, ts, key: keys > 0 ? `key-${seq % keys}` : null, headers: this.#headers, body: bytes.subarray(at, end) };
      at = end;
    }
    return out;
  }
}

function compileTemplate(template: string): { literal: boolean; value: string }[] {
  const parts: { literal: boolean; value: string }[] = [];
  const re = /\{(seq|ts|iso|source)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) parts.push({ literal: true, value: template.slice(last, m.index) });
    parts.push({ literal: false, value: m[1] as Part });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push({ literal: true, value: template.slice(last) });
  return parts;
}

export const generatorSource: SourceSpec<typeof GeneratorConfig> = {
  kind: 'source',
  name: 'generator',
  summary: 'Generates synthetic events at a given rate, for demos, tests and benchmarks',
  config: GeneratorConfig,
  examples: [
    { title: 'Ten JSON events a second', config: { topic: 'demo', rate: 10 } },
    { title: 'Benchmark load: one million 200-byte events, unthrottled', config: { topic: 'bench', rate: 0, count: 1_000_000, size: 200 } },
    { title: 'Text lines with a time stamp, keyed over 8 keys', config: { topic: 'lines', format: 'text', message: '{iso} {source} line {seq}', rate: 100, keys: 8 } },
  ],
  create: (config, ctx) => new GeneratorSource(config, ctx),
};
