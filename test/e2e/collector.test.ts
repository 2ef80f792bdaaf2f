/**
 * The collector as a user runs it: a real `sluice` process, real sockets. Every test uses free
 * ports, except the one for the embedded defaults: that one runs in its own network namespace,
 * where the fixed default ports are free whatever else runs on the machine.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, removeDir, REPO, SLUICE, spawnTracked, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const running: CollectorProcess[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    await c.kill();
    removeDir(c.dir);
  }
});

interface Topics {
  topics: { name: string; high: number; count: number }[];
}

describe('sluice start', () => {
  // A fresh network namespace needs root (CAP_SYS_ADMIN) and iproute2; CI and our machines have both.
  const netns = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' });
  const why = netns.error ? netns.error.message : netns.status === 0 ? '' : netns.stderr.trim();

  it.skipIf(why !== '')(`runs the embedded defaults on their fixed ports, in its own network namespace${why ? ` (skipped: ${why})` : ''}`, async () => {
    const driver = join(REPO, 'test/e2e/netns/defaults-driver.ts');
    const child = spawnTracked('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" --import tsx "$1"', process.execPath, driver], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, err).toBe(0);
    const seen = JSON.parse(out) as { status: number; topics: unknown[]; listening: Record<string, boolean>; banner: string; exitCode: number };
    expect(seen.status).toBeLessThan(300);
    expect(seen.topics).toContainEqual(expect.objectContaining({ name: 'demo', high: 1, count: 1 }));
    expect(seen.listening).toEqual({ syslogTcp: true, forward: true });
    expect(seen.banner).toMatch(/admin\s+http:\/\/127\.0\.0\.1:9410\/api\/v1/);
    expect(seen.banner).toMatch(/127\.0\.0\.1:9880/);
    expect(seen.banner).toMatch(/127\.0\.0\.1:5514/);
    expect(seen.exitCode).toBe(0);
  });

  it('SIGTERM: finishes, exits 0, and everything acknowledged is there after a restart', async () => {
    const [admin, http] = [await freePort(), await freePort()];
    const config = `admin:\n  listen: 127.0.0.1:${admin}\nsources:\n  web:\n    type: http\n    listen: 127.0.0.1:${http}\n`;
    const c = await startCollector({ config });
    running.push(c);
    let acked = 0;
    const posting = (async () => {
      for (let i = 0; i < 10_000; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${http}/t`, { method: 'POST', body: JSON.stringify({ i }), headers: { 'content-type': 'application/json' } });
          if (r.ok) acked++;
          else break;
        } catch {
          break;
        }
      }
    })();
    await until(() => acked > 50, { what: 'some acked posts' });
    // Exit code 0, not 1: it stopped by itself, before its 10 s hard deadline (no wall-clock check).
    expect(await c.stop()).toBe(0);
    await posting;
    const again = await startCollector({ config, dir: c.dir });
    running.push(again);
    const { topics } = await again.api<Topics>('/api/v1/topics');
    const t = topics.find((x) => x.name === 't')!;
    expect(t.count).toBeGreaterThanOrEqual(acked);
    expect(t.count).toBeLessThanOrEqual(acked + 1); // at most the one request in flight when the listener closed
  });

  it('SIGHUP applies a valid config and refuses an invalid one, keeping the old running', async () => {
    const [admin, http1, http2] = [await freePort(), await freePort(), await freePort()];
    const base = `admin:\n  listen: 127.0.0.1:${admin}\nsources:\n  one:\n    type: http\n    listen: 127.0.0.1:${http1}\n`;
    const c = await startCollector({ config: base });
    running.push(c);
    writeFileSync(c.configFile!, `${base}  two:\n    type: http\n    listen: 127.0.0.1:${http2}\n`);
    c.proc.kill('SIGHUP');
    await until(() => fetch(`http://127.0.0.1:${http2}/b`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }).then((r) => r.ok), { what: 'second source after reload' });

    writeFileSync(c.configFile!, `${base}  two:\n    type: http\n    listen: not-an-address\n`);
    c.proc.kill('SIGHUP');
    await until(() => c.stderr().includes('config reload refused'), { what: 'refusal in the log' });
    expect(c.stderr()).toMatch(/sources\.two\.listen/);
    const r = await fetch(`http://127.0.0.1:${http2}/b`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(r.ok).toBe(true);
  });
});

describe('sluice check', () => {
  it('reports every problem with its path and exits non-zero; a good file passes', async () => {
    const dir = tempDir();
    try {
      const bad = `${dir}/bad.yaml`;
      writeFileSync(bad, 'channel:\n  synchronous: maybe\nsources:\n  web:\n    type: http\n    listen: nowhere\n    extra: 1\nsinks:\n  x:\n    type: nope\nbogus: true\n');
      const r = spawnSync(process.execPath, [SLUICE, 'check', '--config', bad], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      for (const path of ['channel.synchronous', 'sources.web.listen', 'sources.web.extra', 'sinks.x.type', 'bogus']) expect(r.stderr).toContain(path);
      const good = `${dir}/good.yaml`;
      writeFileSync(good, `admin:\n  listen: 127.0.0.1:${await freePort()}\nsources:\n  web:\n    type: http\n    listen: 127.0.0.1:${await freePort()}\n`);
      const ok = spawnSync(process.execPath, [SLUICE, 'check', '--config', good], { encoding: 'utf8' });
      expect(ok.stderr).toBe('');
      expect(ok.stdout).toMatch(/ok \(1 source, 0 sinks\)/);
      expect(ok.status).toBe(0);
      expect(readFileSync(good, 'utf8')).toContain('web');
    } finally {
      removeDir(dir);
    }
  });
});
