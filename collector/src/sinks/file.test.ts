import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRetriable } from '../../../shared/src/errors.ts';
import { makeEvent, type StoredEvent } from '../../../shared/src/event.ts';
import { silentLogger } from '../log.ts';
import { checkPathPattern, FileSink, fileSink, type FileConfig } from './file.ts';
import { buildSink, until } from './testing.ts';

const dirs: string[] = [];
const sinksToClose: FileSink[] = [];
afterEach(async () => {
  for (const s of sinksToClose.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-file-'));
  dirs.push(dir);
  return dir;
}

const DAY1 = Date.parse('2024-05-01T23:59:58Z');
const DAY2 = Date.parse('2024-05-02T00:00:01Z');

function events(topic: string, from: number, n: number, size = 40): StoredEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    ...makeEvent(topic, JSON.stringify({ n: from + i, pad: 'x'.repeat(size) }), { ts: 1000 + from + i, key: `k${from + i}`, headers: { 'content-type': 'application/json', seq: String(from + i) } }),
    offset: from + i,
  }));
}

function sink(config: Partial<FileConfig> & { path: string }, now?: () => number): FileSink {
  const s = new FileSink({ max_bytes: 0, max_age: 0, keep: 0, fsync: true, ...config }, { name: 'archive', log: silentLogger, collectorId: 'edge-1', now });
  sinksToClose.push(s);
  return s;
}

/** Files in `dir` in the order the sink wrote them (name, then .n). */
function filesOf(dir: string): string[] {
  const seq = (name: string) => Number(/\.(\d+)\.ndjson$/.exec(name)?.[1] ?? 0);
  return readdirSync(dir).sort((a, b) => a.replace(/\.\d+\.ndjson$/, '.ndjson').localeCompare(b.replace(/\.\d+\.ndjson$/, '.ndjson')) || seq(a) - seq(b));
}

function records(file: string): Record<string, unknown>[] {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A 64 KiB tmpfs to fill up, where the test may mount one (root in a container); null otherwise. */
function smallDisk(): string | null {
  const dir = tempDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  dirs.splice(dirs.indexOf(dir), 1);
  unmounts.push(dir);
  return dir;
}
const unmounts: string[] = [];
afterEach(() => {
  for (const d of unmounts.splice(0)) {
    execFileSync('umount', [d]);
    rmSync(d, { recursive: true, force: true });
  }
});

describe('file sink', () => {
  it('writes NDJSON records per topic, read back intact', async () => {
    const dir = tempDir();
    const s = sink({ path: join(dir, '{topic}-{date}.ndjson') }, () => DAY1);
    await s.send(events('web', 0, 3), 'web');
    await s.send(events('app', 0, 2), 'app');
    await s.send(events('web', 3, 2), 'web');
    expect(filesOf(dir)).toEqual(['app-2024-05-01.ndjson', 'web-2024-05-01.ndjson']);
    const web = records(join(dir, 'web-2024-05-01.ndjson'));
    expect(web.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(web[4]).toEqual({ topic: 'web', offset: 4, ts: 1004, key: 'k4', headers: { 'content-type': 'application/json', seq: '4' }, body: { n: 4, pad: 'x'.repeat(40) } });
    expect(records(join(dir, 'app-2024-05-01.ndjson')).map((r) => r.topic)).toEqual(['app', 'app']);
    expect(s.describe()).toMatchObject({ files: { web: { path: join(dir, 'web-2024-05-01.ndjson') } }, rolled: 0 });
  });

  it('rolls by size: no file passes max_bytes, and the files hold every event once, in order', async () => {
    const dir = tempDir();
    const s = sink({ path: join(dir, '{topic}-{date}.ndjson'), max_bytes: 2000 }, () => DAY1);
    for (let b = 0; b < 20; b++) await s.send(events('web', b * 4, 4), 'web');
    const names = filesOf(dir);
    expect(names.length).toBeGreaterThan(5);
    expect(names.slice(0, 3)).toEqual(['web-2024-05-01.ndjson', 'web-2024-05-01.1.ndjson', 'web-2024-05-01.2.ndjson']);
    for (const name of names) expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(2000);
    const all = names.flatMap((n) => records(join(dir, n)));
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 80 }, (_, i) => i));
    // A batch is never split across files.
    for (const name of names) expect(records(join(dir, name)).length % 4).toBe(0);
  });

  it('puts a batch larger than max_bytes in a file of its own', async () => {
    const dir = tempDir();
    const s = sink({ path: join(dir, '{topic}-{date}.ndjson'), max_bytes: 500 }, () => DAY1);
    await s.send(events('web', 0, 1), 'web');
    await s.send(events('web', 1, 20), 'web');
    await s.send(events('web', 21, 1), 'web');
    expect(filesOf(dir).map((n) => records(join(dir, n)).length)).toEqual([1, 20, 1]);
  });

  it('rolls by age and when the date changes', async () => {
    const dir = tempDir();
    let now = DAY1;
    const s = sink({ path: join(dir, '{topic}-{date}.ndjson'), max_age: 1000 }, () => now);
    await s.send(events('web', 0, 1), 'web');
    now += 500;
    await s.send(events('web', 1, 1), 'web');
    now += 600; // the first file is 1.1s old
    await s.send(events('web', 2, 1), 'web');
    now = DAY2; // midnight UTC: a new name
    await s.send(events('web', 3, 1), 'web');
    expect(filesOf(dir)).toEqual(['web-2024-05-01.ndjson', 'web-2024-05-01.1.ndjson', 'web-2024-05-02.ndjson']);
    expect(filesOf(dir).map((n) => records(join(dir, n)).map((r) => r.offset))).toEqual([[0, 1], [2], [3]]);
  });

  it('closes an aged file on its own when nothing arrives, so it is final', async () => {
    const dir = tempDir();
    const s = sink({ path: join(dir, '{topic}-{date}.ndjson'), max_age: 100 });
    await s.send(events('web', 0, 1), 'web');
    expect(Object.keys(s.describe().files as object)).toEqual(['web']);
    await until(() => Object.keys(s.describe().files as object).length === 0, 3000, 'idle roll');
    expect(s.describe()).toMatchObject({ rolled: 1 });
    await s.send(events('web', 1, 1), 'web');
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('keeps the newest `keep` files per topic and never touches another topic\'s', async () => {
    const dir = tempDir();
    const s = sink({ path: join(dir, '{topic}-{date}.ndjson'), max_bytes: 300, keep: 3 }, () => DAY1);
    for (let i = 0; i < 8; i++) await s.send(events('web', i, 1), 'web');
    await s.send(events('web.1', 0, 1), 'web.1');
    await s.send(events('web', 8, 1), 'web');
    const web = filesOf(dir).filter((n) => n.startsWith('web-'));
    expect(web).toEqual(['web-2024-05-01.6.ndjson', 'web-2024-05-01.7.ndjson', 'web-2024-05-01.8.ndjson']);
    expect(web.flatMap((n) => records(join(dir, n)).map((r) => r.offset))).toEqual([6, 7, 8]);
    expect(filesOf(dir)).toContain('web.1-2024-05-01.ndjson');
    expect(s.describe()).toMatchObject({ deleted: 6 });
  });

  it('orders files by date then number when pruning, with a folder per topic', async () => {
    const dir = tempDir();
    let now = DAY1;
    const s = sink({ path: join(dir, '{topic}', '{date}.ndjson'), max_bytes: 300, keep: 2 }, () => now);
    await s.send(events('web', 0, 1), 'web');
    await s.send(events('web', 1, 1), 'web');
    now = DAY2;
    await s.send(events('web', 2, 1), 'web');
    expect(filesOf(join(dir, 'web'))).toEqual(['2024-05-01.1.ndjson', '2024-05-02.ndjson']);
  });

  it('never appends to a file from an earlier run', async () => {
    const dir = tempDir();
    const first = sink({ path: join(dir, '{topic}-{date}.ndjson') }, () => DAY1);
    await first.send(events('web', 0, 2), 'web');
    await first.close();
    // A crash mid-line in the earlier run leaves its last line incomplete; the next run starts clean.
    writeFileSync(join(dir, 'web-2024-05-01.ndjson'), '{"topic":"web","off', { flag: 'a' });
    const second = sink({ path: join(dir, '{topic}-{date}.ndjson') }, () => DAY1);
    await second.send(events('web', 2, 2), 'web');
    expect(filesOf(dir)).toEqual(['web-2024-05-01.ndjson', 'web-2024-05-01.1.ndjson']);
    expect(records(join(dir, 'web-2024-05-01.1.ndjson')).map((r) => r.offset)).toEqual([2, 3]);
  });

  it('a write it cannot do is retriable, names the file, and leaves no partial batch', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'blocker'), 'a file where the folder should be');
    const s = sink({ path: join(dir, 'blocker', '{topic}', '{date}.ndjson') });
    const error = await s.send(events('web', 0, 1), 'web').catch((e: unknown) => e);
    expect(isRetriable(error)).toBe(true);
    expect((error as Error).message).toMatch(/^sink "archive": cannot create folder .*blocker\/web: /);
    // Once the way is clear, the same batch goes through.
    rmSync(join(dir, 'blocker'));
    await s.send(events('web', 0, 1), 'web');
    expect(readdirSync(join(dir, 'blocker', 'web'))).toHaveLength(1);
  });

  it('on a full disk: retriable, no half batch left behind, and the retry completes once space is freed', async (t) => {
    const disk = smallDisk();
    if (!disk) return t.skip();
    writeFileSync(join(disk, 'ballast'), Buffer.alloc(40 * 1024));
    const s = sink({ path: join(disk, '{topic}', '{date}.ndjson') }, () => DAY1);
    let error: unknown;
    let b = 0;
    for (; b < 100; b++) {
      error = await s.send(events('web', b * 10, 10, 200), 'web').catch((e: unknown) => e);
      if (error) break;
    }
    expect(isRetriable(error)).toBe(true);
    expect((error as Error).message).toMatch(/^sink "archive": cannot write .*2024-05-01\.ndjson: no space left on device$/);
    const file = join(disk, 'web', '2024-05-01.ndjson');
    expect(records(file).map((r) => r.offset)).toEqual(Array.from({ length: b * 10 }, (_, i) => i));
    rmSync(join(disk, 'ballast'));
    await s.send(events('web', b * 10, 10, 200), 'web');
    expect(records(file).map((r) => r.offset)).toEqual(Array.from({ length: (b + 1) * 10 }, (_, i) => i));
    await s.close();
  });

  it('refuses path patterns that would mix topics, and reports them in preflight', async () => {
    expect(checkPathPattern('./out/{topic}-{date}.ndjson')).toBeNull();
    expect(checkPathPattern('./out/{topic}/events.ndjson')).toBeNull();
    expect(checkPathPattern('./out/{collector}/{topic}-{hour}.ndjson')).toBeNull();
    expect(checkPathPattern('./out/{topic}.ndjson')).toMatch(/put \{topic\} in a folder/);
    expect(checkPathPattern('./out/{date}/{topic}.ndjson')).toMatch(/file name, not in a folder/);
    expect(checkPathPattern('./out/{topic}-{day}.ndjson')).toMatch(/unknown placeholder \{day\}/);
    expect(await fileSink.preflight!({ path: './out/{topic}.ndjson', max_bytes: 0, max_age: 0, keep: 0, fsync: true }, 'sinks.archive')).toEqual([
      { path: 'sinks.archive.path', message: expect.stringMatching(/put \{topic\} in a folder/) },
    ]);
    const dir = tempDir();
    expect(await fileSink.preflight!({ path: join(dir, 'new', 'deeper', '{topic}-{date}.ndjson'), max_bytes: 0, max_age: 0, keep: 0, fsync: true }, 'sinks.archive')).toEqual([]);
    if (process.getuid?.() !== 0) {
      chmodSync(dir, 0o500);
      const problems = await fileSink.preflight!({ path: join(dir, 'x', '{topic}-{date}.ndjson'), max_bytes: 0, max_age: 0, keep: 0, fsync: true }, 'sinks.archive');
      chmodSync(dir, 0o700);
      expect(problems[0].message).toMatch(/permission denied/);
    }
  });

  it('builds from the registry with defaults and a {collector} placeholder', async () => {
    const dir = tempDir();
    const s = buildSink({ type: 'file', path: join(dir, '{collector}', '{topic}-{date}.ndjson') }, 'archive');
    await s.send(events('web', 0, 1), 'web');
    await s.close();
    const [name] = readdirSync(join(dir, 'edge-1'));
    expect(name).toMatch(/^web-\d{4}-\d{2}-\d{2}\.ndjson$/);
  });
});
