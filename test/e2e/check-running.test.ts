/**
 * `sluice check` on the config of a collector that is running: its own ports are taken, and
 * checking a config before a restart is what the command is for — so a port in use is a warning
 * (exit 0), while a real mistake in the same file is still an error (exit 2).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, removeDir, SLUICE, spawnTracked, startCollector, type CollectorProcess } from '../helpers/process.ts';

function sluice(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTracked(process.execPath, [SLUICE, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('sluice check beside the running collector', () => {
  let collector: CollectorProcess;
  let config: string;

  beforeAll(async () => {
    const [admin, http] = [await freePort(), await freePort()];
    config = ['channel:', '  path: ./data', 'admin:', `  listen: 127.0.0.1:${admin}`, 'sources:', '  web:', '    type: http', `    listen: 127.0.0.1:${http}`, ''].join('\n');
    collector = await startCollector({ config });
  });

  afterAll(async () => {
    await collector?.kill();
    if (collector) removeDir(collector.dir);
  });

  it('warns about the ports the running collector holds, and passes', async () => {
    const r = await sluice(['check', '--config', collector.configFile!], collector.dir);
    expect(r.stderr).toMatch(/^warning: line 4: admin\.listen: port \d+ already in use \(a running collector/m);
    expect(r.stderr).toMatch(/^warning: line 8: sources\.web\.listen: port \d+ already in use/m);
    expect(r.stdout).toBe(`${collector.configFile}: ok (1 source, 0 sinks), 2 warnings\n`);
    expect(r.code).toBe(0);
  });

  it('still fails on a real mistake in the same file, naming it; the ports it holds are not counted as mistakes', async () => {
    const broken = join(collector.dir, 'broken.yaml');
    writeFileSync(broken, config.replace('  path: ./data', '  path: ./data\n  max_bytes: lots'));
    const r = await sluice(['check', '--config', broken], collector.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 3: channel\.max_bytes: .*size/);
    expect(r.stderr).not.toMatch(/^\s+line \d+: .*already in use/m);
  });
});
