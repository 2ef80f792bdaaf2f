/**
 * Test support for the admin API: a real Collector on a temporary channel file and config file,
 * its admin app built apart from listen() (tests use inject()), and a `memory` source whose
 * ingest path is the runtime's own (interceptor chain, append, counters). Not used in production.
 */
import { Type } from '@sinclair/typebox';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventDraft, StoredEvent } from '../../../shared/src/event.ts';
import { builtinRegistries } from '../builtins.ts';
import type { IngestResult, Registries, SinkSpec, SourceContext, SourceSpec } from '../components.ts';
import { loadConfigText } from '../config/load.ts';
import { silentLogger, type Logger } from '../log.ts';
import { Collector } from '../runtime/collector.ts';
import { buildAdminApp } from './app.ts';
import { configureTail } from './routes/tail.ts';
import type { TailHubOptions } from './tail.ts';

const contexts = new Map<string, SourceContext>();

/** A source that ingests what a test hands it, through the runtime's real ingest path. */
export const memorySource: SourceSpec = {
  kind: 'source',
  name: 'memory',
  summary: 'Test source: ingests what a test hands it (not registered in production)',
  config: Type.Object({}, { additionalProperties: false }),
  examples: [{ title: 'memory', config: {} }],
  create: (_config, ctx) => {
    contexts.set(ctx.name, ctx);
    return { start: async () => undefined, stop: async () => void contexts.delete(ctx.name), endpoints: () => ['memory'] };
  },
};

const delivered = new Map<string, StoredEvent[]>();

/** What the memory sink `name` was sent, in order (resent events appear again). */
export function deliveredTo(name: string): StoredEvent[] {
  let list = delivered.get(name);
  if (!list) delivered.set(name, (list = []));
  return list;
}

/** A sink that keeps what it is sent, in memory, for a test to look at. */
export const memorySink: SinkSpec = {
  kind: 'sink',
  name: 'memory',
  summary: 'Test sink: keeps what it is sent in memory (not registered in production)',
  config: Type.Object({}, { additionalProperties: false }),
  examples: [{ title: 'memory', config: {} }],
  create: (_config, ctx) => {
    const list = deliveredTo(ctx.name);
    list.length = 0;
    return {
      send: async (events) => void list.push(...events),
      close: async () => undefined,
    };
  },
};

/** The built-in sources and sinks plus the memory source and sink: what test configs may name. */
export function testRegistries(): Registries {
  const registries = builtinRegistries();
  registries.sources.register(memorySource);
  registries.sinks.register(memorySink);
  return registries;
}

export interface AdminFixture {
  collector: Collector;
  app: FastifyInstance;
  dir: string;
  configFile: string;
  /** Ingests through source `name` (default `mem`): its chain, then the channel. */
  ingest(events: EventDraft[], source?: string): Promise<IngestResult>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Lines under `channel:` (indented by the caller with two spaces). */
  channel?: string;
  /** Lines under `admin:` (indented by the caller with two spaces). */
  admin?: string;
  /** Extra top-level YAML (sources, sinks). Default: a `mem` memory source. */
  yaml?: string;
  tail?: TailHubOptions;
  inspect?: boolean;
  log?: Logger;
  /** Use this channel folder (e.g. a prepared file). */
  channelDir?: string;
}

export async function adminFixture(options: FixtureOptions = {}): Promise<AdminFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-admin-'));
  const configFile = join(dir, 'sluice.yaml');
  const text = [
    '# test config: comments must survive a chain change',
    'channel:',
    `  path: ${options.channelDir ?? join(dir, 'data')}`,
    ...(options.channel ? [options.channel] : []),
    'admin:',
    '  listen: 127.0.0.1:0',
    ...(options.admin ? [options.admin] : []),
    options.yaml ?? 'sources:\n  mem:\n    type: memory # the test source\n',
  ].join('\n');
  writeFileSync(configFile, text);
  const config = await loadConfigText(text, configFile, { preflight: false, registries: testRegistries() });
  const collector = new Collector(config, { log: options.log ?? silentLogger, inspect: options.inspect });
  await collector.start();
  if (options.tail) configureTail(collector, options.tail);
  const app = await buildAdminApp(collector);
  await app.ready();
  return {
    collector,
    app,
    dir,
    configFile,
    ingest(events, source = 'mem') {
      const ctx = contexts.get(source);
      if (!ctx) throw new Error(`no memory source "${source}" running`);
      return ctx.ingest(events);
    },
    async close() {
      await app.close();
      await collector.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Makes the stored batches of `topic` below offset `before` look as if they arrived `ms` earlier
 * (retention counts from arrival): a second connection on the channel file, as a clock-free way
 * to test retention against a real collector.
 */
export function backdateArrival(file: string, topic: string, before: number, ms: number): void {
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('UPDATE batches SET arrived_at = arrived_at - ? WHERE topic_id = (SELECT id FROM topics WHERE name = ?) AND last_offset < ?').run(ms, topic, before);
  } finally {
    db.close();
  }
}
