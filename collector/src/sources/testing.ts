/**
 * Test support for sources: a real Channel on a temporary file and a SourceContext whose
 * `ingest` appends to it, as the runtime's does (minus the interceptor chain, unless a test
 * passes one). Reusable by any source's tests; not used in production code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventDraft, StoredEvent } from '../../../shared/src/event.ts';
import { fromUtf8 } from '../../../shared/src/event.ts';
import { Channel, type ChannelOptions, type TopicBatch } from '../channel/channel.ts';
import { decodeBatches } from '../channel/format.ts';
import type { IngestOptions, IngestResult, SourceContext } from '../components.ts';
import { silentLogger, type Logger } from '../log.ts';

export interface TestChannel {
  channel: Channel;
  /** The temporary folder holding the channel file; removed by `cleanup`. */
  dir: string;
  file: string;
  cleanup(): Promise<void>;
}

/** Opens a real Channel on a fresh temporary file (retention timer off). */
export function openTestChannel(options: Partial<ChannelOptions> = {}): TestChannel {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-source-'));
  const file = options.file ?? join(dir, 'channel.db');
  const channel = Channel.open({ retentionIntervalMs: 0, ...options, file });
  return {
    channel,
    dir,
    file,
    async cleanup() {
      await channel.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestSourceContext extends SourceContext {
  readonly controller: AbortController;
  /** What `ingest` saw, as the runtime's metrics count it. */
  readonly counts: { received: number; accepted: number; dropped: number; rejected: number; calls: number; batchCalls: number };
}

export interface TestContextOptions {
  name?: string;
  log?: Logger;
  collectorId?: string;
  /** Stands in for the interceptor chain: `null` drops an event. */
  intercept?: (event: EventDraft) => EventDraft | null;
}

/** A SourceContext whose `ingest` appends to `channel` in one request (events and state in one transaction). */
export function createTestContext(channel: Channel, options: TestContextOptions = {}): TestSourceContext {
  const controller = new AbortController();
  const counts = { received: 0, accepted: 0, dropped: 0, rejected: 0, calls: 0, batchCalls: 0 };
  const intercept = options.intercept;
  const context: TestSourceContext = {
    name: options.name ?? 'test',
    log: options.log ?? silentLogger,
    channel,
    signal: controller.signal,
    controller,
    collectorId: options.collectorId ?? 'test-collector',
    counts,
    async ingest(events: EventDraft[], ingestOptions: IngestOptions = {}): Promise<IngestResult> {
      counts.calls++;
      counts.received += events.length;
      let kept = events;
      if (intercept) {
        kept = [];
        for (const e of events) {
          const out = intercept(e);
          if (out) kept.push(out);
        }
      }
      try {
        const result = await channel.append({ events: kept, state: ingestOptions.state, dedupe: ingestOptions.dedupe });
        const accepted = result.duplicate ? 0 : kept.length;
        counts.accepted += accepted;
        counts.dropped += events.length - kept.length;
        return { accepted, dropped: events.length - kept.length, duplicate: result.duplicate };
      } catch (error) {
        counts.rejected += events.length;
        throw error;
      }
    },
    // As the runtime's: stored as they are, or (with `intercept`) decoded and run through it.
    async ingestBatches(batches: readonly TopicBatch[], ingestOptions: IngestOptions = {}): Promise<IngestResult> {
      if (intercept) return context.ingest(batches.flatMap((b) => decodeBatches(b.topic, [b])), ingestOptions);
      counts.calls++;
      counts.batchCalls++;
      const n = batches.reduce((a, b) => a + b.count, 0);
      counts.received += n;
      try {
        const result = await channel.append({ events: [], batches, state: ingestOptions.state, dedupe: ingestOptions.dedupe });
        const accepted = result.duplicate ? 0 : n;
        counts.accepted += accepted;
        return { accepted, dropped: 0, duplicate: result.duplicate };
      } catch (error) {
        counts.rejected += n;
        throw error;
      }
    },
  };
  return context;
}

/** Every stored event of a topic, in offset order. */
export function readAll(channel: Channel, topic: string): StoredEvent[] {
  const out: StoredEvent[] = [];
  let from = 0;
  for (;;) {
    const batch = channel.read(topic, from, { maxEvents: 10_000 });
    if (batch.length === 0) return out;
    out.push(...batch);
    from = batch[batch.length - 1].offset + 1;
  }
}

/** Bodies of every stored event of a topic, as text. */
export function readBodies(channel: Channel, topic: string): string[] {
  return readAll(channel, topic).map((e) => fromUtf8(e.body));
}

/**
 * Polls `check` until it returns true, or fails after `timeoutMs` (scaled by the machine's load,
 * SLUICE_TEST_TIMEOUT_SCALE — docs/testing.md) with `what` in the message.
 */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const scale = Number(process.env.SLUICE_TEST_TIMEOUT_SCALE);
  timeoutMs *= Number.isFinite(scale) && scale >= 1 ? scale : 1;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
