/**
 * Disk full (issue #12 item 1): a real `sluice start` process with its channel on a small
 * filesystem, four clients posting until it is full. The process must stay up, refuse with
 * 503 + Retry-After, say why in health and /metrics, take events again without a restart once
 * space is freed, and keep every event it answered 2xx — once, in order — across a restart.
 *
 * The small filesystem is a tmpfs (32 or 64 MiB) mounted in a private mount namespace (`unshare -m`,
 * held by a `cat` that ends when this test's stdin pipe closes); the collector joins it with
 * `nsenter`, and the test reaches its files through /proc/<holder>/root. That needs root (CI
 * runs as root). Where mounts are impossible the same test runs on the real disk with
 * `min_free_space` set just under its free space, and a 64 MiB filler to delete — the guard's
 * path only, and other writers on the disk can disturb it; the log says which mode ran.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, removeDir, scaled, spawnTracked, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const MiB = 1024 * 1024;
const CLIENTS = 4;
const EVENTS_PER_POST = 100;
/** A wait for `until()`, which scales it with the load itself. */
const WAIT_MS = 60_000;

const root = tempDir('sluice-disk-full-');
const running: CollectorProcess[] = [];
const holders: ChildProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  for (const h of holders) h.kill('SIGKILL');
  removeDir(root);
});

/** Whether this process may mount a tmpfs in a new mount namespace. */
function canMount(): boolean {
  const probe = join(root, 'probe');
  mkdirSync(probe, { recursive: true });
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=1m sluice-probe "$0"', probe], { stdio: 'ignore' });
  return r.status === 0;
}

/** SLUICE_TEST_NO_MOUNT=1 runs the fallback even where mounts work. */
const TMPFS = process.env.SLUICE_TEST_NO_MOUNT !== '1' && canMount();
console.log(`disk-full e2e: ${TMPFS ? 'tmpfs in a private mount namespace' : 'FALLBACK: real disk with min_free_space just under its free space (no mount possible here, or SLUICE_TEST_NO_MOUNT=1)'}`);

interface SmallDisk {
  /** The data folder as the collector sees it (its config). */
  dataDir: string;
  prefix?: string[];
  minFreeSpace: string | number;
  filler: string;
}

/** A tmpfs of `sizeMiB` at `dataDir` in a private mount namespace, with a filler file of `fillerMiB`. */
async function tmpfsDisk(dir: string, minFreeSpace: string | number, sizeMiB: number, fillerMiB: number): Promise<SmallDisk> {
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const holder = spawnTracked('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=${sizeMiB}m sluice-test "$0" && echo mounted && exec cat`, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  holders.push(holder);
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`mount namespace holder exited (${code})`)));
  });
  const filler = `/proc/${holder.pid}/root${dataDir}/filler`;
  writeFileSync(filler, Buffer.alloc(fillerMiB * MiB, 1));
  return { dataDir, prefix: ['nsenter', `--mount=/proc/${holder.pid}/ns/mnt`, '--'], minFreeSpace, filler };
}

/** The real disk, with min_free_space 8 MiB under its free space after a 64 MiB filler. */
function realDisk(dir: string): SmallDisk {
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const filler = join(dataDir, 'filler');
  writeFileSync(filler, Buffer.alloc(64 * MiB, 1));
  const s = statfsSync(dataDir);
  return { dataDir, minFreeSpace: s.bavail * s.bsize - 8 * MiB, filler };
}

function config(disk: SmallDisk, ports: { admin: number; http: number; dead: number }): string {
  return `admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${disk.dataDir}
  min_free_space: ${disk.minFreeSpace}
sources:
  web:
    type: http
    listen: 127.0.0.1:${ports.http}
sinks:
  # Nobody listens: the sink backs off and every event stays undelivered (protected from retention).
  away:
    type: http
    url: http://127.0.0.1:${ports.dead}/
    retry: { initial: 1s, max: 5s }
`;
}

function body(client: number, from: number): string {
  const items: string[] = [];
  for (let i = 0; i < EVENTS_PER_POST; i++) items.push(`{"client":${client},"seq":${from + i},"pad":"${'p'.repeat(300)}"}`);
  return `[${items.join(',')}]`;
}

interface Client {
  /** Events acknowledged with 200: seqs 0 … acked-1 (a refused batch is sent again, same seqs). */
  acked: number;
  refused: number;
  retryAfter: string | null;
  /** Acknowledged after `mark` was set. */
  ackedSinceMark: number;
}

/**
 * Reads a topic through the restarted collector's admin API (SQLite resolves the
 * /proc/<pid>/root link, so the test cannot open the file in the namespace itself).
 */
async function checkTopic(collector: CollectorProcess, topic: string, expected: number) {
  const seen = new Uint8Array(expected);
  const duplicates: number[] = [];
  const missing: number[] = [];
  let events = 0;
  let last = -1;
  let inOrder = true;
  let dense = true;
  for (let from = 0; ; ) {
    const page = await collector.api<{ events: { offset: number; body: { seq: number } }[]; next: number }>(`/api/v1/topics/${topic}/events?from=${from}&limit=10000&raw=false`);
    if (page.events.length === 0) break;
    for (const e of page.events) {
      if (e.offset !== events) dense = false;
      events++;
      const seq = e.body.seq;
      if (seq <= last) inOrder = false;
      last = seq;
      if (seq >= expected || seen[seq]++ > 0) duplicates.push(seq);
    }
    from = page.next;
  }
  for (let i = 0; i < expected; i++) if (!seen[i]) missing.push(i);
  return { events, duplicates: duplicates.slice(0, 20), missing: missing.slice(0, 20), inOrder, dense };
}

async function run(disk: SmallDisk, dir: string): Promise<void> {
  const ports = { admin: await freePort(), http: await freePort(), dead: await freePort() };
  const start = async () => {
    const c = await startCollector({ config: config(disk, ports), dir, prefix: disk.prefix });
    running.push(c);
    return c;
  };
  let collector = await start();
  try {
    await exercise();
  } catch (error) {
    // What the collector said is the first thing to read when this fails.
    (error as Error).message += `\n--- collector stderr (last 3000 chars) ---\n${collector.stderr().slice(-3000)}`;
    throw error;
  }

  async function exercise(): Promise<void> {
    const clients: Client[] = Array.from({ length: CLIENTS }, () => ({ acked: 0, refused: 0, retryAfter: null, ackedSinceMark: 0 }));
    let stop = false;
    const loops = clients.map(async (c, i) => {
      while (!stop) {
        // Any transport error (connection refused or reset: the process died) fails the test.
        const r = await fetch(`http://127.0.0.1:${ports.http}/c${i}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i, c.acked) });
        const text = await r.text();
        if (r.status === 200) {
          c.acked += EVENTS_PER_POST;
          c.ackedSinceMark += EVENTS_PER_POST;
        } else if (r.status === 503) {
          c.refused++;
          c.retryAfter = r.headers.get('retry-after');
          expect(JSON.parse(text).error.code).toBe('SLUICE_CHANNEL_FULL');
          await new Promise((res) => setTimeout(res, 100));
        } else {
          throw new Error(`client ${i}: unexpected ${r.status} ${text}`);
        }
      }
    });
    const failed = Promise.all(loops);
    const watch = <T>(p: Promise<T>) => Promise.race([p, failed.then(() => Promise.reject(new Error('clients stopped')))]);

    // 1. Post until every client is refused.
    await watch(until(() => clients.every((c) => c.refused > 0), { timeoutMs: WAIT_MS, what: 'every client to get 503' }));
    expect(clients.every((c) => c.retryAfter !== null && Number(c.retryAfter) >= 1)).toBe(true);
    expect(collector.proc.exitCode).toBeNull();
    const health = await collector.api<{ status: string; problems: string[]; channel: { disk: { full: boolean; reason: string } } }>('/api/v1/health');
    expect(health.status).toBe('degraded');
    expect(health.channel.disk.full).toBe(true);
    expect(health.problems.join('\n')).toMatch(/channel refuses new events: .*(min_free_space|SQLITE_FULL)/);
    const metrics = await (await fetch(`${collector.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^sluice_channel_full 1$/m);
    expect(metrics).toMatch(/^sluice_channel_refused_appends_total\{reason="disk"\} [1-9]/m);
    expect(metrics).toMatch(/^sluice_channel_disk_free_bytes \d+/m);

    // 2. Space returns: the same process takes events again.
    for (const c of clients) c.ackedSinceMark = 0;
    rmSync(disk.filler);
    await watch(until(() => clients.every((c) => c.ackedSinceMark > 0), { timeoutMs: WAIT_MS, what: 'every client to be acknowledged again after space was freed' }));
    await until(async () => (await collector.api<{ status: string }>('/api/v1/health')).status === 'ok', { timeoutMs: WAIT_MS, what: 'health ok again' });
    stop = true;
    await failed;

    // 3. Every acknowledged event, once, in order, after a restart.
    expect(await collector.stop()).toBe(0);
    collector = await start();
    for (let i = 0; i < CLIENTS; i++) {
      const check = await checkTopic(collector, `c${i}`, clients[i].acked);
      expect(check, `client ${i}`).toEqual({ events: clients[i].acked, duplicates: [], missing: [], inOrder: true, dense: true });
    }
    expect(await collector.stop()).toBe(0);
  }
}

describe('disk full', () => {
  it.runIf(TMPFS)('the free-space guard refuses before the disk is full, and recovers without a restart (tmpfs)', async () => {
    const dir = join(root, 'guard');
    await run(await tmpfsDisk(dir, 'auto', 32, 12), dir);
  }, scaled(4 * WAIT_MS));

  // The case: a 64 MiB tmpfs filled to the last byte; SQLITE_FULL comes in commits and in checkpoints.
  // It used to fail in 2 of 4 CI runs: space freed was eaten by the next commits (the WAL grew into it) before
  // the failed checkpoint got it, or the WAL held more than the 4 MiB freed. Fixed in disk.ts (a checkpoint owed
  // holds appends) and channel.ts (checkpoint interval from free space less what was written since the probe).
  it.runIf(TMPFS)('with the guard off, SQLITE_FULL does not kill the process: 503 until space returns (64 MiB tmpfs)', async () => {
    const dir = join(root, 'raw');
    await run(await tmpfsDisk(dir, 0, 64, 4), dir);
  }, scaled(4 * WAIT_MS));

  it.runIf(TMPFS)('a collector started on a full disk says so and exits 1 (tmpfs)', async () => {
    const dir = join(root, 'start-full');
    const disk = await tmpfsDisk(dir, 'auto', 1, 0);
    try {
      writeFileSync(disk.filler, Buffer.alloc(2 * MiB, 1)); // fills the 1 MiB tmpfs to the last block
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    }
    const ports = { admin: await freePort(), http: await freePort(), dead: await freePort() };
    const collector = await startCollector({ config: config(disk, ports), dir, prefix: disk.prefix, wait: false });
    running.push(collector);
    expect(await collector.exited).toBe(1);
    expect(collector.stderr()).toMatch(/cannot start: cannot open channel file .*channel\.db: the disk holding it is full; free some space there/);
  }, scaled(WAIT_MS));

  it.runIf(!TMPFS)('FALLBACK (no mounts here): the free-space guard refuses and recovers on the real disk', async () => {
    const dir = join(root, 'fallback');
    await run(realDisk(dir), dir);
  }, scaled(4 * WAIT_MS));
});
