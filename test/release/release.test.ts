/**
 * The edge release (`npm run dist:collector`, docs/install.md) as a user gets it: the tarball
 * unpacked into a temporary folder and started with its own `bin/sluice`, with no other Node on
 * the PATH; the .deb's files, control data and maintainer scripts, and its systemd unit checked
 * by `systemd-analyze verify` where that exists.
 *
 * Building the release is slow the first time (better-sqlite3 compiles for Node 24; minutes), so
 * it is built once: `dist-collector.js --if-stale` does nothing when the tarball and the .deb are
 * newer than their sources (CI builds them before the tests), and caches the slow parts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, removeDir, REPO, tempDir, until } from '../helpers/process.ts';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
const NAME = `sluice-${pkg.version}-linux-x64`;
const TARBALL = join(REPO, 'dist', `${NAME}.tar.gz`);
const DEB = join(REPO, 'dist', `sluice_${pkg.version}_amd64.deb`);
const hasDpkgDeb = spawnSync('dpkg-deb', ['--version']).status === 0;
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function sh(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${result.status}\n${result.stderr}`);
  return result.stdout;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

beforeAll(() => {
  // Minutes when nothing is cached (better-sqlite3 compiles from source); nothing when fresh.
  sh(process.execPath, [join(REPO, 'release/dist-collector.js'), '--if-stale']);
}, 20 * 60_000);

describe('the release tarball', () => {
  it('runs bin/sluice start on its own Node 24 with no other node on the PATH: ingests, reads back, stops', async () => {
    const dir = tempDir('sluice-release-');
    dirs.push(dir);
    sh('tar', ['xzf', TARBALL, '-C', dir]);
    const root = join(dir, NAME);
    // A PATH holding only the tools the launcher uses: `node` is not on it.
    const bin = join(dir, 'path-bin');
    mkdirSync(bin);
    for (const tool of ['readlink', 'dirname']) symlinkSync(sh('sh', ['-c', `command -v ${tool}`]).trim(), join(bin, tool));
    const env = { PATH: bin, HOME: dir, SLUICE_LOG_LEVEL: 'warn' };
    expect(spawnSync('sh', ['-c', 'command -v node'], { env }).status).not.toBe(0);

    expect(sh(join(root, 'bin/sluice'), ['--version'], { env }).trim()).toBe(pkg.version);
    const [adminPort, httpPort, nowhere] = [await freePort(), await freePort(), await freePort()];
    const config = join(dir, 'sluice.yaml');
    // A JSONata interceptor and a Kafka sink: the packages loaded on first use (outside the
    // bundle) must be in the release's node_modules. No broker listens: the sink keeps retrying.
    writeFileSync(
      config,
      `channel:\n  path: ${join(dir, 'data')}\nadmin:\n  listen: 127.0.0.1:${adminPort}\n` +
        `sources:\n  web:\n    type: http\n    listen: 127.0.0.1:${httpPort}\n    interceptors:\n      - type: jsonata\n        expression: '$merge([$, {"edge": true}])'\n` +
        `sinks:\n  bus:\n    type: kafka\n    brokers: ["127.0.0.1:${nowhere}"]\n`,
    );
    const proc = spawn(join(root, 'bin/sluice'), ['start', '--config', config], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    proc.stdout.resume();
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      await until(() => fetch(`http://127.0.0.1:${adminPort}/api/v1/health`).then((r) => r.ok), { what: `the released collector's admin API (${stderr})` });
      // The launcher exec'd the release's own runtime.
      expect(readlinkSync(`/proc/${proc.pid}/exe`)).toBe(join(root, 'node/bin/node'));
      const body = ['{"n":1}', '{"n":2}', '{"n":3}'].join('\n');
      const ingest = await fetch(`http://127.0.0.1:${httpPort}/edge`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      expect(ingest.status).toBe(200);
      const read = (await (await fetch(`http://127.0.0.1:${adminPort}/api/v1/topics/edge/events?from=0`)).json()) as { events: { offset: number; body: unknown }[] };
      expect(read.events.map((e) => [e.offset, e.body])).toEqual([
        [0, { n: 1, edge: true }],
        [1, { n: 2, edge: true }],
        [2, { n: 3, edge: true }],
      ]);
      // kafkajs loaded and tried the (absent) broker.
      await until(async () => {
        const sink = (await (await fetch(`http://127.0.0.1:${adminPort}/api/v1/sinks/bus`)).json()) as { lastError: { message: string } | null };
        return sink.lastError !== null;
      }, { what: 'the Kafka sink to report the absent broker' });
      // The web UI is in the release.
      const ui = await fetch(`http://127.0.0.1:${adminPort}/`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain('<div id="root">');
    } finally {
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('carries better-sqlite3 built for its own runtime and no build tools', () => {
    const dir = tempDir('sluice-release-');
    dirs.push(dir);
    sh('tar', ['xzf', TARBALL, '-C', dir]);
    const root = join(dir, NAME);
    expect(sh(join(root, 'node/bin/node'), ['--version']).trim()).toMatch(/^v24\./);
    expect(existsSync(join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    for (const buildOnly of ['esbuild', 'tsx', 'vite', 'typescript', 'electron']) expect(existsSync(join(root, 'node_modules', buildOnly)), buildOnly).toBe(false);
    const unit = readFileSync(join(root, 'systemd/sluice.service'), 'utf8');
    expect(unit).toMatch(/^User=sluice$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toContain('--config /etc/sluice/sluice.yaml');
    expect(readFileSync(join(root, 'etc/sluice.yaml'), 'utf8')).toMatch(/^ {2}path: \/var\/lib\/sluice$/m);
  });
});

describe.skipIf(!hasDpkgDeb)('the .deb', () => {
  it('installs the release under /opt/sluice with the unit, the config as a conffile and /usr/bin/sluice', () => {
    const dir = tempDir('sluice-deb-');
    dirs.push(dir);
    const control = sh('dpkg-deb', ['--field', DEB]);
    expect(control).toMatch(/^Package: sluice$/m);
    expect(control).toMatch(new RegExp(`^Version: ${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
    expect(control).toMatch(/^Architecture: amd64$/m);
    const contents = sh('dpkg-deb', ['--contents', DEB]);
    // Owned by root in the archive (the postinst gives the data and config folders to sluice).
    expect(contents.split('\n').filter(Boolean).every((l) => l.includes(' root/root '))).toBe(true);
    sh('dpkg-deb', ['-x', DEB, dir]);
    for (const f of ['opt/sluice/bin/sluice', 'opt/sluice/node/bin/node', 'opt/sluice/dist/collector/main.js', 'lib/systemd/system/sluice.service', 'etc/sluice/sluice.yaml']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(readlinkSync(join(dir, 'usr/bin/sluice'))).toBe('/opt/sluice/bin/sluice');
    const meta = join(dir, 'DEBIAN');
    sh('dpkg-deb', ['-e', DEB, meta]);
    expect(readFileSync(join(meta, 'conffiles'), 'utf8').trim()).toBe('/etc/sluice/sluice.yaml');
    for (const script of ['postinst', 'prerm', 'postrm']) sh('sh', ['-n', join(meta, script)]);
  });

  it('maintainer scripts: install creates the user and /var/lib/sluice and enables the unit; remove stops and disables it; data is kept', () => {
    const dir = tempDir('sluice-deb-');
    dirs.push(dir);
    const meta = join(dir, 'DEBIAN');
    sh('dpkg-deb', ['-e', DEB, meta]);
    // The system tools the scripts call, recorded instead of run (they would change this machine).
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    mkdirSync(bin);
    for (const tool of ['groupadd', 'useradd', 'install', 'chown', 'chmod', 'systemctl', 'rm']) {
      writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> ${calls}\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    writeFileSync(join(bin, 'getent'), '#!/bin/sh\nexit 2\n'); // no such user or group yet
    chmodSync(join(bin, 'getent'), 0o755);
    const env = { PATH: `${bin}:/usr/bin:/bin` };
    const run = (script: string, ...args: string[]) => {
      writeFileSync(calls, '');
      sh('sh', [join(meta, script), ...args], { env });
      return readFileSync(calls, 'utf8');
    };
    const install = run('postinst', 'configure', '');
    expect(install).toContain('groupadd --system sluice');
    expect(install).toMatch(/useradd --system --gid sluice --home-dir \/var\/lib\/sluice .*--shell \/usr\/sbin\/nologin .*sluice/);
    expect(install).toContain('install -d -o sluice -g sluice -m 0750 /var/lib/sluice');
    expect(install).toContain('systemctl enable sluice.service');
    const remove = run('prerm', 'remove');
    expect(remove).toContain('systemctl disable sluice.service');
    expect(remove).not.toContain('/var/lib/sluice');
    const purge = run('postrm', 'purge');
    expect(purge).toContain('rm -rf /etc/sluice');
    expect(purge).not.toContain('/var/lib/sluice');
  });

  it.skipIf(!hasSystemdAnalyze)('has a unit that systemd-analyze verify accepts', () => {
    const root = tempDir('sluice-deb-root-');
    dirs.push(root);
    sh('dpkg-deb', ['-x', DEB, root]);
    // verify resolves the unit's dependencies (targets) and commands inside --root.
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/kill', join(root, 'bin/kill'));
    chmodSync(join(root, 'bin/kill'), 0o755);
    for (const target of ['multi-user.target', 'network-online.target', 'sysinit.target', 'basic.target', 'shutdown.target']) {
      if (existsSync(`/lib/systemd/system/${target}`)) copyFileSync(`/lib/systemd/system/${target}`, join(root, 'lib/systemd/system', target));
    }
    const result = spawnSync('systemd-analyze', ['verify', `--root=${root}`, 'sluice.service'], { encoding: 'utf8' });
    expect(result.stderr.trim()).toBe('');
    expect(result.status).toBe(0);
  });
});
