/**
 * One writer process per channel file (docs/specs/channel.md): the lock refuses a live owner and
 * takes over a lock left by a process that is gone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../../shared/src/event.ts';
import { Channel } from './channel.ts';
import { acquireWriterLock, processIdentity, releaseWriterLock } from './writer-lock.ts';

const dirs: string[] = [];
const open: Channel[] = [];

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lock-'));
  dirs.push(dir);
  return join(dir, 'channel.db');
}

function openChannel(options: { file: string }): Channel {
  const channel = Channel.open({ file: options.file, retentionIntervalMs: 0 });
  open.push(channel);
  return channel;
}

const ev = (topic: string, body: string) => makeEvent(topic, body, { ts: 1_000 });

afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('one writer', () => {
  it('MUST refuse a second writer process on the same file, and take over a stale lock', async () => {
    const { spawn } = await import('node:child_process');
    const file = tempFile();
    const holder = spawn(process.execPath, ['-e', `
      const { register } = require('tsx/cjs/api'); register();
      const { Channel } = require(${JSON.stringify(join(import.meta.dirname, 'channel.ts'))});
      Channel.open({ file: ${JSON.stringify(file)}, retentionIntervalMs: 0 });
      console.log('open'); setInterval(() => {}, 1000);
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      expect(() => Channel.open({ file })).toThrow(/is in use by another Sluice process \(pid \d+\); stop it/);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // The holder died without releasing: its lock is stale and is taken over.
    const channel = openChannel({ file });
    const r = await channel.append({ events: [ev('t', 'x')] });
    expect(r.ranges[0].first).toBe(0);
  });

  it('writes its identity, refuses a live owner by pid, takes over a dead one, and releases only its own lock', () => {
    const file = tempFile();
    acquireWriterLock(file);
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(processIdentity(process.pid));
    releaseWriterLock(file);
    // A live process (our parent) holds it: refused, naming the pid.
    writeFileSync(`${file}.lock`, `${processIdentity(process.ppid)}\n`);
    expect(() => acquireWriterLock(file)).toThrow(new RegExp(`in use by another Sluice process \\(pid ${process.ppid}\\)`));
    // Someone else's lock is not ours to release.
    releaseWriterLock(file);
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(processIdentity(process.ppid));
    // A pid that exists no more: taken over.
    writeFileSync(`${file}.lock`, '2147483646 12345\n');
    expect(() => acquireWriterLock(file)).not.toThrow();
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(processIdentity(process.pid));
  });
});
