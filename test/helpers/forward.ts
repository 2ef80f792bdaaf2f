/**
 * Helpers for edge → hub tests with real `sluice start` processes: configs for a hub (forward
 * source) and an edge (http source + forward sink), feeding the edge numbered events in
 * 1,000-event POSTs, and checking a hub's channel file for exactly-once, in-order arrival.
 */
import { join } from 'node:path';
import { Channel } from '../../collector/src/channel/channel.ts';
import { fromUtf8 } from '../../shared/src/event.ts';

export interface HubPorts {
  admin: number;
  forward: number;
}

export interface EdgePorts {
  admin: number;
  http: number;
}

export function hubConfig(dir: string, ports: HubPorts, extra = ''): string {
  return `collector:
  id: hub
admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${join(dir, 'data')}
sources:
  forward:
    type: forward
    listen: 127.0.0.1:${ports.forward}
${extra}`;
}

export function edgeConfig(dir: string, ports: EdgePorts, servers: readonly number[], sinkExtra = ''): string {
  return `collector:
  id: edge-1
admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${join(dir, 'data')}
sources:
  web:
    type: http
    listen: 127.0.0.1:${ports.http}
sinks:
  hub:
    type: forward
    servers: [${servers.map((p) => `127.0.0.1:${p}`).join(', ')}]
    ack_timeout: 5s
    connect_timeout: 2s
    batch: { max_events: 5000 }
    retry: { initial: 100ms, max: 1s }
${sinkExtra}`;
}

/** Numbered JSON events `{"topic":…,"seq":N,…}`, padded to about 200 bytes. */
export function batchBody(topic: string, from: number, n: number): string {
  const items: string[] = new Array(n);
  for (let i = 0; i < n; i++) items[i] = `{"topic":"${topic}","seq":${from + i},"msg":"${'x'.repeat(150)}"}`;
  return `[${items.join(',')}]`;
}

/** POSTs events `from … from+n-1` of a topic to an edge's http source, retrying on 503. */
export async function post(httpPort: number, topic: string, from: number, n: number): Promise<void> {
  const body = batchBody(topic, from, n);
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(`http://127.0.0.1:${httpPort}/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await r.arrayBuffer();
    if (r.ok) return;
    if (r.status !== 503 || attempt > 100) throw new Error(`POST /${topic}: ${r.status}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** The high watermark of a topic on a running collector (0 when it does not exist yet). */
export async function high(adminUrl: string, topic: string): Promise<number> {
  const r = await fetch(`${adminUrl}/api/v1/topics/${topic}`);
  if (r.status === 404) {
    await r.arrayBuffer();
    return 0;
  }
  const body = (await r.json()) as { high: number };
  return body.high;
}

export interface TopicCheck {
  topic: string;
  events: number;
  /** Seqs that arrived more than once. */
  duplicates: number[];
  /** Seqs that never arrived. */
  missing: number[];
  /** Whether seqs are increasing in offset order. */
  inOrder: boolean;
  /** Offsets dense from 0. */
  dense: boolean;
}

/** Reads a topic from a channel file (read-only; the writer may be running or gone). */
export function checkTopic(channelFile: string, topic: string, expected: number): TopicCheck {
  const channel = Channel.open({ file: channelFile, readonly: true, retentionIntervalMs: 0 });
  try {
    const seen = new Uint8Array(expected);
    const duplicates: number[] = [];
    let inOrder = true;
    let dense = true;
    let last = -1;
    let events = 0;
    for (let from = 0; ; ) {
      const page = channel.read(topic, from, { maxEvents: 10_000 });
      if (page.length === 0) break;
      for (const e of page) {
        if (e.offset !== events) dense = false;
        events++;
        const seq = (JSON.parse(fromUtf8(e.body)) as { seq: number }).seq;
        if (seq <= last) inOrder = false;
        last = seq;
        if (seq < expected && seen[seq]++ > 0) duplicates.push(seq);
      }
      from = page[page.length - 1].offset + 1;
    }
    const missing: number[] = [];
    for (let i = 0; i < expected; i++) if (!seen[i]) missing.push(i);
    return { topic, events, duplicates, missing: missing.slice(0, 20), inOrder, dense };
  } finally {
    void channel.close();
  }
}
