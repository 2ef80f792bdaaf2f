/** The tail source on real files and a real Channel: rotation both ways, restarts, multi-line, back-pressure. */
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../../../shared/src/event.ts';
import { validateConfig } from '../../../../shared/src/spec.ts';
import type { Channel } from '../../channel/channel.ts';
import { createTestContext, openTestChannel, readAll, readBodies, waitUntil, type TestChannel } from '../testing.ts';
import { GlobSet } from './glob.ts';
import { TailSource, tailSource } from './tail.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tail-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function channel(options = {}): TestChannel {
  const t = openTestChannel(options);
  cleanups.push(() => t.cleanup());
  return t;
}

async function startTail(ch: Channel, input: Record<string, unknown>, name = 'files'): Promise<TailSource> {
  const { value, problems } = validateConfig(tailSource.config, { poll_interval_ms: 50, scan_interval_ms: 100, rotate_wait_ms: 300, ...input }, `sources.${name}`);
  expect(problems).toEqual([]);
  const source = tailSource.create(value!, createTestContext(ch, { name })) as TailSource;
  await source.start();
  let stopped = false;
  cleanups.push(() => (stopped ? undefined : source.stop()));
  const stop = source.stop.bind(source);
  source.stop = async () => {
    stopped = true;
    await stop();
  };
  return source;
}

const lines = (from: number, to: number, prefix = 'line') => Array.from({ length: to - from }, (_, i) => `${prefix} ${from + i}`);
const text = (ls: string[]) => ls.map((l) => `${l}\n`).join('');

/** Every expected line exactly once, and each writer's lines in order. */
function expectExactlyOnce(got: string[], expected: string[]): void {
  const counts = new Map<string, number>();
  for (const g of got) counts.set(g, (counts.get(g) ?? 0) + 1);
  const missing = expected.filter((e) => !counts.has(e));
  const dup = [...counts].filter(([, n]) => n > 1).map(([l]) => l);
  expect({ missing: missing.slice(0, 10), missingCount: missing.length, duplicates: dup.slice(0, 10) }).toEqual({ missing: [], missingCount: 0, duplicates: [] });
  expect(got).toHaveLength(expected.length);
}

describe('tail source', () => {
  it('reads existing and appended lines with the path header (read_from: start)', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, 'one\r\ntwo\n\nthree\npartial');
    const { channel: ch } = channel();
    await startTail(ch, { paths: [join(dir, '*.log')], read_from: 'start', topic: 'app' });
    await waitUntil(() => readBodies(ch, 'app').length === 3, 5000, 'three lines');
    appendFileSync(file, ' line\nfour\n');
    await waitUntil(() => readBodies(ch, 'app').length === 5, 5000, 'five lines');
    expect(readBodies(ch, 'app')).toEqual(['one', 'two', 'three', 'partial line', 'four']);
    expect(readAll(ch, 'app')[0].headers).toEqual({ 'content-type': 'text/plain', 'tail.path': file });
  });

  it('starts at the end on the first run only, and resumes exactly where it stopped', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, text(lines(0, 100)));
    const { channel: ch } = channel();
    let source = await startTail(ch, { paths: [file] });
    appendFileSync(file, text(lines(100, 110)));
    await waitUntil(() => readBodies(ch, 'logs').length === 10, 5000, 'appended lines');
    await source.stop();
    // While stopped: more lines, and a new file.
    appendFileSync(file, text(lines(110, 120)));
    const other = join(dir, 'other.log');
    writeFileSync(other, text(lines(0, 5, 'other')));
    source = await startTail(ch, { paths: [join(dir, '*.log')] });
    await waitUntil(() => readBodies(ch, 'logs').length === 25, 5000, 'lines written while stopped');
    await new Promise((r) => setTimeout(r, 300));
    expectExactlyOnce(readBodies(ch, 'logs'), [...lines(100, 120), ...lines(0, 5, 'other')]);
    expect(ch.listState('tail:files').map((s) => s.key)).toContain('~run');
  });

  it('follows rotation by rename while the file is being written: every line once', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, '');
    const { channel: ch } = channel();
    const source = await startTail(ch, { paths: [file], read_from: 'start' });
    let n = 0;
    for (let r = 0; r < 5; r++) {
      for (let i = 0; i < 20; i++) {
        appendFileSync(file, text(lines(n, n + 50)));
        n += 50;
        if (i % 5 === 0) await new Promise((res) => setTimeout(res, 5));
      }
      // The source has this generation open before logrotate renames it (a file created and
      // renamed away between two scans is found only if `paths` matches its new name: docs/sources.md).
      await waitUntil(() => readBodies(ch, 'logs').length >= n - 200, 15_000, `the source to have app.log generation ${r} open`);
      renameSync(file, join(dir, `app.log.${r}`));
      appendFileSync(join(dir, `app.log.${r}`), text(lines(n, n + 10))); // the writer had not reopened yet
      n += 10;
      writeFileSync(file, '');
    }
    appendFileSync(file, text(lines(n, n + 10)));
    n += 10;
    await waitUntil(() => readBodies(ch, 'logs').length >= n, 15_000, `${n} lines`);
    await new Promise((r) => setTimeout(r, 500));
    expectExactlyOnce(readBodies(ch, 'logs'), lines(0, n));
    await waitUntil(() => source.files().length === 1, 5000, 'rotated files to be finished');
    expect(ch.listState('tail:files').filter((s) => s.key !== '~run')).toHaveLength(1);
  });

  it('follows copytruncate while writing, taking unread lines from the copy: every line once', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, '');
    const { channel: ch } = channel();
    const source = await startTail(ch, { paths: [file], read_from: 'start' });
    let n = 0;
    for (let r = 0; r < 5; r++) {
      for (let i = 0; i < 10; i++) {
        appendFileSync(file, text(lines(n, n + 50)));
        n += 50;
        if (i < 5) await new Promise((res) => setTimeout(res, 10));
      }
      // Lines just written are unread: copy and truncate in the same tick, as logrotate's copytruncate.
      copyFileSync(file, join(dir, `app.log.${r}`));
      truncateSync(file, 0);
      appendFileSync(file, text(lines(n, n + 5)));
      n += 5;
    }
    await waitUntil(() => readBodies(ch, 'logs').length >= n, 15_000, `${n} lines`);
    await new Promise((r) => setTimeout(r, 500));
    expectExactlyOnce(readBodies(ch, 'logs'), lines(0, n));
    expect(source.stats.truncations).toBeGreaterThanOrEqual(5);
    expect(source.stats.recovered).toBeGreaterThanOrEqual(1);
  });

  it('takes the next copy when the file is truncated again while the lines of a copy are being stored: every line once', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, text(lines(0, 10)));
    const { channel: ch } = channel();
    // Holds the commit carrying the first copy's lines until the test lets it go.
    let held: (() => void) | null = null;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ctx = createTestContext(ch, { name: 'files' });
    const ingest = ctx.ingest.bind(ctx);
    ctx.ingest = async (events, options) => {
      if (events.some((e) => fromUtf8(e.body) === 'line 10')) {
        held?.();
        await gate;
      }
      return ingest(events, options);
    };
    const { value } = validateConfig(tailSource.config, { paths: [file], read_from: 'start', poll_interval_ms: 50, scan_interval_ms: 100 }, 'sources.files');
    const source = tailSource.create(value!, ctx) as TailSource;
    cleanups.push(async () => {
      release();
      await source.stop();
    });
    await source.start();
    await waitUntil(() => readBodies(ch, 'logs').length === 10, 5000, 'first lines');
    const holding = new Promise<void>((r) => (held = r));
    // One tick, so the source sees only the result: lines 10-19 unread, copied, the file truncated, 20-24 written.
    appendFileSync(file, text(lines(10, 20)));
    copyFileSync(file, join(dir, 'app.log.0'));
    truncateSync(file, 0);
    appendFileSync(file, text(lines(20, 25)));
    await holding;
    // While lines 10-19 (from app.log.0) are being stored, the live file is rotated again: 20-34 are only in app.log.1.
    appendFileSync(file, text(lines(25, 35)));
    copyFileSync(file, join(dir, 'app.log.1'));
    truncateSync(file, 0);
    appendFileSync(file, text(lines(35, 40)));
    release();
    await waitUntil(() => readBodies(ch, 'logs').length >= 40, 5000, '40 lines');
    await new Promise((r) => setTimeout(r, 300));
    expectExactlyOnce(readBodies(ch, 'logs'), lines(0, 40));
    expect(readBodies(ch, 'logs')).toEqual(lines(0, 40));
    expect(source.stats).toMatchObject({ truncations: 2, recovered: 2 });
  });

  it('a file truncated between its size check and its read is checked again (no endless short read), not read at the old offset: every line once', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, text(lines(0, 10)));
    const { channel: ch } = channel();
    const source = await startTail(ch, { paths: [file], read_from: 'start' });
    await waitUntil(() => readBodies(ch, 'logs').length === 10, 5000, 'first lines');
    // The source's first read past line 9 (after its size check and head check saw lines 10-19) finds the file
    // copied, truncated and given 2 short lines: it gets fewer bytes than the size said.
    const offset = Buffer.byteLength(text(lines(0, 10)));
    const probe = await open(file, 'r');
    const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const read = proto.read;
    let rotated = false;
    proto.read = function (this: unknown, ...args: unknown[]) {
      if (!rotated && args[3] === offset) {
        rotated = true;
        copyFileSync(file, join(dir, 'app.log.0'));
        truncateSync(file, 0);
        appendFileSync(file, text(lines(20, 22)));
      }
      return read.apply(this, args);
    };
    cleanups.push(() => (proto.read = read));
    appendFileSync(file, text(lines(10, 20)));
    await waitUntil(() => readBodies(ch, 'logs').length >= 22, 5000, '22 lines');
    proto.read = read;
    await new Promise((r) => setTimeout(r, 300));
    expect(rotated).toBe(true);
    expect(readBodies(ch, 'logs')).toEqual(lines(0, 22));
    expect(source.stats).toMatchObject({ truncations: 1, recovered: 1 });
  });

  it('finishes a file rotated away while it was stopped', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, text(lines(0, 10)));
    const { channel: ch } = channel();
    let source = await startTail(ch, { paths: [file], read_from: 'start' });
    await waitUntil(() => readBodies(ch, 'logs').length === 10, 5000, 'first lines');
    await source.stop();
    appendFileSync(file, text(lines(10, 20)));
    renameSync(file, join(dir, 'app.log.1'));
    writeFileSync(file, text(lines(20, 30)));
    source = await startTail(ch, { paths: [file] });
    await waitUntil(() => readBodies(ch, 'logs').length === 30, 5000, 'all lines');
    await new Promise((r) => setTimeout(r, 300));
    expectExactlyOnce(readBodies(ch, 'logs'), lines(0, 30));
    await waitUntil(() => source.files().length === 1, 5000, 'the rotated file to be finished');
  });

  it('notices a file replaced while stopped (same size or larger) by its first bytes', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, text(lines(0, 10, 'old')));
    const { channel: ch } = channel();
    let source = await startTail(ch, { paths: [file], read_from: 'start' });
    await waitUntil(() => readBodies(ch, 'logs').length === 10, 5000, 'first lines');
    await source.stop();
    // Truncated and rewritten in place (same inode), now longer than the old position.
    writeFileSync(file, text(lines(0, 30, 'new')));
    source = await startTail(ch, { paths: [file] });
    await waitUntil(() => readBodies(ch, 'logs').length === 40, 5000, 'rewritten file');
    expect(readBodies(ch, 'logs').slice(10)).toEqual(lines(0, 30, 'new'));
  });

  it('groups multi-line events by a start pattern and flushes the last one after the timeout', async () => {
    const dir = tempDir();
    const file = join(dir, 'java.log');
    writeFileSync(file, '2024-01-01 INFO start\n2024-01-01 ERROR boom\njava.lang.Exception: x\n\tat A.b(A.java:1)\n\n\tat C.d(C.java:2)\n2024-01-01 INFO after\n');
    const { channel: ch } = channel();
    await startTail(ch, { paths: [file], read_from: 'start', multiline: { start: '^\\d{4}-\\d{2}-\\d{2} ', timeout_ms: 200 } });
    await waitUntil(() => readBodies(ch, 'logs').length === 3, 5000, 'three events');
    expect(readBodies(ch, 'logs')).toEqual([
      '2024-01-01 INFO start',
      '2024-01-01 ERROR boom\njava.lang.Exception: x\n\tat A.b(A.java:1)\n\n\tat C.d(C.java:2)',
      '2024-01-01 INFO after',
    ]);
  });

  it('cuts lines longer than max_line_bytes', async () => {
    const dir = tempDir();
    const file = join(dir, 'long.log');
    writeFileSync(file, `short\n${'x'.repeat(5000)}\nafter\n`);
    const { channel: ch } = channel();
    const source = await startTail(ch, { paths: [file], read_from: 'start', max_line_bytes: 100 });
    await waitUntil(() => readBodies(ch, 'logs').length === 3, 5000, 'three lines');
    expect(readBodies(ch, 'logs')).toEqual(['short', 'x'.repeat(100), 'after']);
    expect(source.stats.truncatedLines).toBe(1);
  });

  it('pauses while the channel is full and loses nothing', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    const all = lines(0, 2000, `payload ${'z'.repeat(80)}`);
    writeFileSync(file, text(all));
    const { channel: ch } = channel({ maxBytes: 64 * 1024 });
    const release = ch.protect('sink', ['*']);
    cleanups.push(release);
    await startTail(ch, { paths: [file], read_from: 'start' });
    await waitUntil(() => ch.stats().rejectedFull > 0, 5000, 'back-pressure');
    const got: string[] = [];
    let next = 0;
    await waitUntil(
      () => {
        const batch = ch.read('logs', next, { maxEvents: 10_000 });
        for (const e of batch) got.push(fromUtf8(e.body));
        next += batch.length;
        ch.commit([{ consumer: 'sink', topic: 'logs', next }]);
        ch.runRetention({ needBytes: 64 * 1024 });
        return got.length >= all.length;
      },
      20_000,
      'all lines through a full channel',
    );
    expect(got).toEqual(all);
  });

  it('starts even when the channel is full, and commits its start positions once there is room', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    writeFileSync(file, text(lines(0, 50, 'old')));
    const { channel: ch } = channel({ maxBytes: 8 * 1024 });
    const release = ch.protect('sink', ['*']);
    cleanups.push(release);
    // Fill the channel to the last byte: even an empty-bodied event is refused.
    for (let size = 4096; size >= 1; size >>= 1) {
      for (;;) {
        const ok = await ch.append({ events: [{ topic: 'other', ts: 1, key: null, headers: {}, body: Buffer.alloc(size) }] }).then(
          () => true,
          () => false,
        );
        if (!ok) break;
      }
    }
    await startTail(ch, { paths: [file] }); // read_from: end; must not block on the full channel
    appendFileSync(file, text(lines(0, 5, 'new')));
    await new Promise((r) => setTimeout(r, 300));
    expect(ch.topic('logs')).toBeUndefined();
    release();
    ch.runRetention({ needBytes: 8 * 1024 });
    await waitUntil(() => readBodies(ch, 'logs').length === 5, 10_000, 'the new lines');
    expect(readBodies(ch, 'logs')).toEqual(lines(0, 5, 'new'));
    expect(ch.getState('tail:files', '~run')).not.toBeNull();
  });

  it('expands globs over folders, with excludes', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    for (const p of ['x.log', 'a/y.log', 'a/b/z.log', 'a/b/z.log.gz', 'a/skip.txt']) writeFileSync(join(dir, p), '');
    const deep = await new GlobSet([join(dir, '**/*.log*')], [join(dir, '**/*.gz')]).expand();
    expect(deep.files.map((f) => f.path.slice(dir.length + 1))).toEqual(['a/b/z.log', 'a/y.log', 'x.log']);
    const shallow = await new GlobSet([join(dir, '*/*.log')]).expand();
    expect(shallow.files.map((f) => f.path.slice(dir.length + 1))).toEqual(['a/y.log']);
    expect((await new GlobSet([join(dir, 'x.log'), join(dir, 'nope.log')]).expand()).files).toHaveLength(1);
  });

  it('picks up files created later, from their start, and finishes deleted ones', async () => {
    const dir = tempDir();
    const { channel: ch } = channel();
    const source = await startTail(ch, { paths: [join(dir, '*.log')] });
    const file = join(dir, 'late.log');
    writeFileSync(file, text(lines(0, 3)));
    await waitUntil(() => readBodies(ch, 'logs').length === 3, 5000, 'the new file');
    unlinkSync(file);
    await waitUntil(() => source.files().length === 0, 5000, 'the deleted file to be dropped');
    expect(ch.listState('tail:files').map((s) => s.key)).toEqual(['~run']);
  });

  it('reports unreadable files and bad patterns in preflight', async () => {
    const dir = tempDir();
    const { value } = validateConfig(tailSource.config, { paths: [join(dir, '*.log')], multiline: { start: '([' } }, 'sources.t');
    const problems = await tailSource.preflight!(value!, 'sources.t');
    expect(problems.map((p) => p.path)).toEqual(['sources.t.multiline.start']);
  });
});
