/**
 * Channel integrity (issue #12 items 8 and 9) on real database files: CRCs checked on read and by
 * the start scan, damaged ranges named and isolated, the schema 1 → 2 migration, and retention
 * counted from arrival with every expiry counted.
 */
import Database from 'better-sqlite3';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { Channel, type ChannelOptions } from './channel.ts';
import { runDoctor } from './doctor.ts';
import { batchCrc } from './integrity.ts';
import { SCHEMA_VERSION } from './schema.ts';
import { writeV1 } from './v1-fixture.ts';

const dirs: string[] = [];
const open: Channel[] = [];

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-integrity-'));
  dirs.push(dir);
  return join(dir, 'channel.db');
}

function openChannel(options: Partial<ChannelOptions> & { file?: string } = {}): Channel {
  const channel = Channel.open({ file: options.file ?? tempFile(), retentionIntervalMs: 0, integrityScan: false, ...options });
  open.push(channel);
  return channel;
}

function ev(topic: string, body: string, ts = 1_000): EventDraft {
  return makeEvent(topic, body, { ts });
}

/** 10 batches of 100 events each: offsets 0–999 of topic t, bodies `e<offset>` padded. */
async function fill(channel: Channel, topic = 't'): Promise<void> {
  for (let b = 0; b < 10; b++) {
    await channel.append({ events: Array.from({ length: 100 }, (_, i) => ev(topic, `e${b * 100 + i}:`.padEnd(300, 'x'))) });
  }
}

function caught(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (error) {
    return error as SluiceError;
  }
  throw new Error('expected an error');
}

afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('CRC per record batch', () => {
  it('stores the CRC-32 of every payload at append', async () => {
    const file = tempFile();
    const channel = openChannel({ file, maxBatchEvents: 100 });
    await fill(channel);
    const raw = new Database(file, { readonly: true });
    const rows = raw.prepare('SELECT payload, crc FROM batches').all() as { payload: Buffer; crc: number }[];
    raw.close();
    expect(rows).toHaveLength(10);
    for (const r of rows) expect(r.crc).toBe(batchCrc(r.payload));
  });

  it('answers a read of a damaged batch with SLUICE_CHANNEL_CORRUPT naming its offsets, and serves the ranges around it', async () => {
    const file = tempFile();
    const channel = openChannel({ file, maxBatchEvents: 100 });
    await fill(channel);
    // Flip bytes inside the payload of the batch holding offsets 300–399 (a bit rot, not a SQLite-level damage).
    const raw = new Database(file);
    raw.prepare(`UPDATE batches SET payload = CAST(substr(payload, 1, 100) || X'DEADBEEF' || substr(payload, 105) AS BLOB) WHERE base_offset = 300`).run();
    raw.close();

    const error = caught(() => channel.read('t', 300));
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe(ErrorCodes.CHANNEL_CORRUPT);
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('topic "t": offsets 300–399 are damaged');
    expect(error.message).toContain('crc mismatch');
    expect(error.message).toContain(`sluice doctor ${file}`);
    expect(error.message).toContain('read from offset 400 on');
    expect(() => channel.read('t', 350)).toThrow(/offsets 300–399 are damaged/);

    // A read running into the damage returns what came before it; reads after it are untouched.
    const before = channel.read('t', 250, { maxEvents: 1000 });
    expect(before.map((e) => e.offset)).toEqual(Array.from({ length: 50 }, (_, i) => 250 + i));
    expect(channel.read('t', 400, { maxEvents: 1000 })).toHaveLength(600);
    expect(fromUtf8(channel.read('t', 400)[0].body)).toMatch(/^e400:/);
    // Newest-N paging backward stops above the damage too.
    expect(channel.readLast('t', 1000)[0].offset).toBe(400);
    expect(channel.damaged()).toEqual([expect.objectContaining({ topic: 't', first: 300, last: 399, reason: 'crc mismatch' })]);
  });

  it('finds damage at open in the background, without anyone reading it, while appends go on', async () => {
    const file = tempFile();
    let channel = openChannel({ file, maxBatchEvents: 100 });
    await fill(channel);
    await channel.append({ events: [ev('other', 'o')] });
    await channel.close();
    const raw = new Database(file);
    raw.prepare(`UPDATE batches SET payload = CAST(X'00' || substr(payload, 2) AS BLOB) WHERE base_offset IN (100, 700)`).run();
    raw.close();

    channel = openChannel({ file, maxBatchEvents: 100, integrityScan: true });
    const appended = channel.append({ events: [ev('t', 'during the scan')] });
    expect(channel.integrity().scan).toBe('scanning');
    const status = await channel.scanIntegrity({ batchesPerTurn: 2 });
    expect((await appended).ranges[0].first).toBe(1000);
    expect(status).toMatchObject({ scan: 'done', uncheckedBatches: 0, fileProblem: null });
    expect(status.checkedBatches).toBeGreaterThanOrEqual(11);
    expect(channel.damaged().map((r) => [r.topic, r.first, r.last])).toEqual([
      ['t', 100, 199],
      ['t', 700, 799],
    ]);
  });

  it('names the range when SQLite itself finds the file damaged; retention of other topics goes on', async () => {
    const file = tempFile();
    let now = 1_000_000;
    let channel = openChannel({ file, now: () => now, maxBatchEvents: 100, defaults: { retentionMs: 1000 } });
    // Large bodies: each batch spans many overflow pages, so bytes in the middle of the file land in one.
    for (let b = 0; b < 10; b++) {
      await channel.append({ events: Array.from({ length: 100 }, (_, i) => ev('t', `${b * 100 + i}:`.padEnd(2000, String.fromCharCode(97 + b)))) });
    }
    await channel.close();
    const image = readFileSync(file);
    const marker = image.indexOf(Buffer.from('g'.repeat(2000 - 10))); // inside batch 6 (offsets 600–699)
    expect(marker).toBeGreaterThan(0);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, marker);
    closeSync(fd);

    channel = openChannel({ file, now: () => now, maxBatchEvents: 100, defaults: { retentionMs: 1000 } });
    await channel.scanIntegrity();
    const damaged = channel.damaged();
    expect(damaged.length).toBeGreaterThanOrEqual(1);
    expect(damaged[0]).toMatchObject({ topic: 't', first: 600 });
    const error = caught(() => channel.read('t', damaged[0].first));
    expect(error.code).toBe(ErrorCodes.CHANNEL_CORRUPT);
    expect(error.message).toContain(`topic "t": offsets ${damaged[0].first}–${damaged[0].last} are damaged`);
    expect(channel.read('t', 0, { maxEvents: 1000 })).toHaveLength(600);
    const after = damaged[damaged.length - 1].last + 1;
    expect(channel.read('t', after, { maxEvents: 1000 }).length).toBe(1000 - after);

    // Retention by arrival would remove all of t (no sink protects it) but SQLite cannot delete
    // the damaged rows: t is reported as blocked, and retention of other topics goes on.
    await channel.append({ events: [ev('u', 'old')] });
    now += 10_000;
    await channel.append({ events: [ev('t', 'fresh'), ev('u', 'fresh')] });
    expect(() => channel.runRetention()).not.toThrow();
    expect(channel.topic('u')).toMatchObject({ low: 1, high: 2 });
    expect(channel.integrity().retentionBlocked).toEqual([{ topic: 't', message: expect.stringContaining(`sluice doctor ${file}`) }]);
    expect(channel.damaged()).toHaveLength(damaged.length);
  });
});

describe('schema version 1 → 2', () => {
  it('migrates in place keeping every event: old batches unchecked (crc NULL) and arrived at the migration', async () => {
    const file = tempFile();
    writeV1(file);
    const before = Date.now();
    const channel = openChannel({ file, defaults: { retentionMs: 60_000 } });
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const row = raw.prepare('SELECT crc, arrived_at FROM batches WHERE base_offset = 0').get() as { crc: number | null; arrived_at: number };
    raw.close();
    expect(row.crc).toBeNull();
    expect(row.arrived_at).toBeGreaterThanOrEqual(before);
    expect(channel.read('t', 0).map((e) => fromUtf8(e.body))).toEqual(['a', 'b', 'c']);
    // Events with ts 1000 (1970) are not expired: they count as arrived at the migration.
    channel.runRetention();
    expect(channel.topic('t')).toMatchObject({ low: 0, high: 3 });
    // New appends get a CRC; the scan counts the old batch as unchecked but sound.
    await channel.append({ events: [ev('t', 'd')] });
    const status = await channel.scanIntegrity();
    expect(status).toMatchObject({ scan: 'done', checkedBatches: 2, uncheckedBatches: 1 });
    expect(channel.damaged()).toEqual([]);
  });

  it('reports an unchecked (version 1) batch whose payload no longer decodes', async () => {
    const file = tempFile();
    writeV1(file);
    const raw = new Database(file);
    raw.prepare(`UPDATE batches SET payload = X'C1C1C1C1'`).run();
    raw.close();
    const channel = openChannel({ file });
    await channel.scanIntegrity();
    expect(channel.damaged()).toEqual([expect.objectContaining({ topic: 't', first: 0, last: 2, reason: 'undecodable payload' })]);
  });

  it('refuses to migrate a file opened read-only, saying how to upgrade it', () => {
    const file = tempFile();
    writeV1(file);
    expect(() => Channel.open({ file, readonly: true, retentionIntervalMs: 0 })).toThrow(/schema version 1 and is open read-only, so it cannot be upgraded to \d+; open it once with a collector/);
  });
});

describe('retention counts from arrival', () => {
  it('keeps an event whose own timestamp is older than max_age for max_age after it arrived', async () => {
    let now = Date.UTC(2026, 11, 1);
    const channel = openChannel({ now: () => now, defaults: { retentionMs: 60_000 } });
    const lastMonth = now - 30 * 24 * 3600_000;
    await channel.append({ events: [ev('syslog', 'from last month', lastMonth)] }); // no sink covers it
    now += 59_000;
    expect(channel.runRetention().deletedEvents).toBe(0);
    expect(channel.read('syslog', 0).map((e) => [fromUtf8(e.body), e.ts])).toEqual([['from last month', lastMonth]]);
    now += 2_000;
    expect(channel.runRetention().deletedEvents).toBe(1);
    expect(channel.expiredCounts()).toContainEqual({ topic: 'syslog', reason: 'age', events: 1 });
  });

  it('counts every expiry by topic and reason: age, size, capacity', async () => {
    let now = 1_000_000;
    const channel = openChannel({
      now: () => now,
      maxBatchEvents: 10,
      maxBytes: 40_000,
      topics: { aged: { retentionMs: 1000 }, sized: { retentionMs: null, retentionBytes: 3000 }, full: { retentionMs: null } },
    });
    await channel.append({ events: Array.from({ length: 10 }, () => ev('aged', 'a'.repeat(50))) });
    for (let i = 0; i < 10; i++) await channel.append({ events: Array.from({ length: 10 }, () => ev('sized', 'x'.repeat(100))) });
    now += 5000;
    channel.runRetention();
    const counts = (topic: string, reason: string) => channel.expiredCounts().find((c) => c.topic === topic && c.reason === reason)?.events ?? 0;
    expect(counts('aged', 'age')).toBe(10);
    expect(counts('sized', 'size')).toBe(channel.topic('sized')!.expired);
    expect(counts('sized', 'size')).toBeGreaterThan(0);
    // Full channel: delivered (unprotected) events go first, counted as capacity.
    for (let i = 0; i < 40; i++) await channel.append({ events: [ev('full', 'f'.repeat(1000))] });
    expect(counts('full', 'capacity')).toBeGreaterThan(0);
    expect(counts('full', 'capacity')).toBe(channel.topic('full')!.expired + channel.topic('full')!.dropped);
  });
});

describe('refusals name the file and what to do', () => {
  it('a file that is not a database', () => {
    const file = tempFile();
    writeFileSync(file, 'this is a log file, not a channel\n'.repeat(200));
    const error = caught(() => Channel.open({ file, retentionIntervalMs: 0 }));
    expect(error.code).toBe(ErrorCodes.CHANNEL_VERSION);
    expect(error.message).toContain(`${file} is not a SQLite database`);
    expect(error.message).toMatch(/point channel\.path at a folder holding a Sluice channel\.db, or move this file away/);
  });

  it('a truncated channel file', async () => {
    const file = tempFile();
    const channel = openChannel({ file, maxBatchEvents: 100 });
    await fill(channel);
    await channel.close();
    truncateSync(file, Math.floor(readFileSync(file).length / 2));
    const error = caught(() => Channel.open({ file, retentionIntervalMs: 0 }));
    expect(error.code).toBe(ErrorCodes.CHANNEL_CORRUPT);
    expect(error.message).toContain(`${file} is damaged`);
    expect(error.message).toContain('truncated');
    expect(error.message).toContain(`sluice doctor ${file} --out NEW.db`);
  });
});

describe('doctor', () => {
  it('reports each damaged range and salvages every readable batch with offsets, cursors and state kept', async () => {
    const file = tempFile();
    const channel = openChannel({ file, maxBatchEvents: 100 });
    await fill(channel);
    await fill(channel, 'u');
    channel.commit([{ consumer: 'sink:s', topic: 't', next: 250, protects: true }], [{ namespace: 'tail', key: '/var/log/x', value: '123' }]);
    await channel.close();
    const raw = new Database(file);
    raw.prepare(`UPDATE batches SET payload = CAST(X'00' || substr(payload, 2) AS BLOB) WHERE base_offset = 500 AND topic_id = (SELECT id FROM topics WHERE name = 't')`).run();
    raw.close();

    const out = join(tempFile(), '..', 'salvaged.db');
    const phases = new Set<string>();
    const report = await runDoctor(file, { out, progress: (phase) => phases.add(phase) });
    expect(phases).toEqual(new Set(['check', 'salvage']));
    expect(report).toMatchObject({ schemaVersion: SCHEMA_VERSION, sqliteCheck: ['ok'], batches: 20, checkedBatches: 20, fileProblem: null });
    expect(report.damaged).toEqual([expect.objectContaining({ topic: 't', first: 500, last: 599, reason: 'crc mismatch' })]);
    expect(report.salvage).toMatchObject({ topics: 2, batches: 19, events: 1900, lostBatches: 1 });
    await expect(runDoctor(file, { out })).rejects.toThrow(/already exists; name a new file/);

    const salvaged = openChannel({ file: out, integrityScan: true });
    expect((await salvaged.scanIntegrity()).checkedBatches).toBe(19);
    expect(salvaged.damaged()).toEqual([]);
    expect(salvaged.topic('t')).toMatchObject({ low: 0, high: 1000, count: 900, dropped: 100 });
    expect(salvaged.topic('u')).toMatchObject({ low: 0, high: 1000, count: 1000 });
    expect(salvaged.getCursor('sink:s', 't')).toBe(250);
    expect(salvaged.getState('tail', '/var/log/x')).toBe('123');
    // Across the gap a read goes on after it; offsets go on from where they were.
    expect(salvaged.read('t', 500)[0].offset).toBe(600);
    expect(fromUtf8(salvaged.read('t', 600)[0].body)).toMatch(/^e600:/);
    expect((await salvaged.append({ events: [ev('t', 'next')] })).ranges[0].first).toBe(1000);
  });

  it('salvages every batch when the offset index itself is damaged, and health names the file problem', async () => {
    const file = tempFile();
    const channel = openChannel({ file, maxBatchEvents: 100 });
    await fill(channel);
    await channel.close();
    const raw = new Database(file, { readonly: true });
    const root = (raw.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'batches_by_offset'`).get() as { rootpage: number }).rootpage;
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    raw.close();
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (root - 1) * pageSize);
    closeSync(fd);

    const damaged = openChannel({ file, integrityScan: true });
    expect((await damaged.scanIntegrity()).fileProblem).toMatch(/the offset index of the channel file cannot be read/);
    await damaged.close();
    const out = join(tempFile(), '..', 'salvaged.db');
    const report = await runDoctor(file, { out });
    expect(report.sqliteCheck).not.toEqual(['ok']);
    expect(report.salvage).toMatchObject({ batches: 10, events: 1000, lostBatches: 0 });
    const salvaged = openChannel({ file: out });
    expect(salvaged.read('t', 0, { maxEvents: 5000 }).map((e) => e.offset)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('says plainly when the file is not a channel', async () => {
    const file = tempFile();
    writeFileSync(file, 'not a database at all'.repeat(100));
    await expect(runDoctor(file)).rejects.toThrow(`${file} is not a SQLite database`);
    await expect(runDoctor(`${file}.missing`)).rejects.toThrow(/no such file/);
  });
});
