/**
 * What the channel's unit tests share: channels on real files in temp folders, closed and removed
 * after each test. Call `channelFixture()` once at the top of a test file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { fromUtf8, makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { Channel, type ChannelOptions } from './channel.ts';

export function channelFixture() {
  const dirs: string[] = [];
  const open: Channel[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A channel file's path in a fresh temp folder. */
  function tempFile(): string {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-channel-'));
    dirs.push(dir);
    return join(dir, 'channel.db');
  }

  /** A channel (retention timer off) that is closed after the test. */
  function openChannel(options: Partial<ChannelOptions> & { file?: string } = {}): Channel {
    const channel = Channel.open({ file: options.file ?? tempFile(), retentionIntervalMs: 0, ...options });
    open.push(channel);
    return channel;
  }

  return { tempFile, openChannel };
}

export function ev(topic: string, body: string, ts = 1_000, headers: Record<string, string> = {}): EventDraft {
  return makeEvent(topic, body, { ts, headers });
}

export function bodies(events: { body: Uint8Array }[]): string[] {
  return events.map((e) => fromUtf8(e.body));
}
