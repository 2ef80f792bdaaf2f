#!/usr/bin/env node
// `npm run desktop`: builds what is stale (the renderer, the main process and the preload),
// makes sure the Electron binary is there — fetching it with Electron's own install script on
// first use — and starts the app. The binary comes from GitHub (or ELECTRON_MIRROR), not from the
// package registry, so `npm ci` never needs it; where it cannot be fetched this says what to do.
//
// Options: --build-only (build, do not start), any other argument is passed to Electron.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DESKTOP = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(DESKTOP, '..');
const ELECTRON_PKG = join(ROOT, 'node_modules/electron');
const OUT = join(DESKTOP, 'dist');
const args = process.argv.slice(2);
const buildOnly = args.includes('--build-only');

function say(message) {
  process.stderr.write(`sluice desktop: ${message}\n`);
}

/** Newest modification time of the files under `paths` (folders walked, node_modules and dist skipped). */
function newest(paths) {
  let max = 0;
  const walk = (p) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'node_modules' && name !== 'dist') walk(join(p, name));
    } else if (s.mtimeMs > max) max = s.mtimeMs;
  };
  for (const p of paths) walk(p);
  return max;
}

function stale(output, inputs) {
  return !existsSync(output) || statSync(output).mtimeMs < newest(inputs);
}

async function buildRenderer() {
  const index = join(DESKTOP, 'renderer/dist/index.html');
  if (!stale(index, [join(DESKTOP, 'renderer'), join(DESKTOP, 'bridge.ts'), join(ROOT, 'shared/src/api')])) return;
  say('building the renderer (vite)…');
  process.env.NODE_ENV = 'production'; // a production React, whatever the shell had set
  const { build } = await import('vite');
  await build({ configFile: join(DESKTOP, 'renderer/vite.config.ts'), logLevel: 'warn' });
}

/** The main process and the preload: one CommonJS file each, electron and node:* left external. */
async function buildShell() {
  const inputs = [join(DESKTOP, 'main'), join(DESKTOP, 'preload'), join(DESKTOP, 'bridge.ts')];
  const targets = [
    { name: 'main', entry: join(DESKTOP, 'main/main.ts') },
    { name: 'preload', entry: join(DESKTOP, 'preload/preload.ts') },
  ];
  if (targets.every((t) => !stale(join(OUT, `${t.name}.cjs`), inputs))) return;
  say('building the main process and the preload…');
  const { build } = await import('vite');
  for (const t of targets) {
    await build({
      configFile: false,
      logLevel: 'warn',
      root: DESKTOP,
      ssr: { noExternal: true, target: 'node' },
      build: {
        ssr: t.entry,
        outDir: OUT,
        emptyOutDir: false,
        target: 'node20',
        minify: false,
        sourcemap: false,
        rollupOptions: {
          external: ['electron', /^node:/],
          output: { format: 'cjs', entryFileNames: `${t.name}.cjs` },
        },
      },
    });
  }
}

/** The Electron executable, fetching it on first use; null with the reason when it cannot be had. */
function electronBinary() {
  if (!existsSync(join(ELECTRON_PKG, 'package.json'))) {
    return { binary: null, why: 'the electron package is not installed (npm ci installs it as a devDependency)' };
  }
  const version = JSON.parse(readFileSync(join(ELECTRON_PKG, 'package.json'), 'utf8')).version;
  const locate = () => {
    if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
      const p = join(process.env.ELECTRON_OVERRIDE_DIST_PATH, process.platform === 'win32' ? 'electron.exe' : process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron');
      return existsSync(p) ? p : null;
    }
    const pathFile = join(ELECTRON_PKG, 'path.txt');
    if (!existsSync(pathFile)) return null;
    const p = join(ELECTRON_PKG, 'dist', readFileSync(pathFile, 'utf8').trim());
    return existsSync(p) ? p : null;
  };
  let binary = locate();
  if (binary) return { binary, version };
  say(`the Electron ${version} binary is not here yet; fetching it (node node_modules/electron/install.js)…`);
  // Its output is a stack trace when the download fails: keep it, show only its first line and cause.
  const result = spawnSync(process.execPath, [join(ELECTRON_PKG, 'install.js')], { stdio: ['ignore', 'inherit', 'pipe'], cwd: ELECTRON_PKG, env: process.env, encoding: 'utf8' });
  binary = result.status === 0 ? locate() : null;
  if (binary) return { binary, version };
  return { binary: null, version, why: `fetching Electron ${version} failed (${installFailure(result)})` };
}

/** What went wrong in Electron's install script, in one line: its error, not its stack. */
function installFailure(result) {
  if (result.error) return result.error.message;
  const lines = (result.stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at '));
  const cause = lines.find((l) => /ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|certificate|status/i.test(l));
  const first = lines[0] ?? `exit code ${result.status}`;
  return cause && cause !== first ? `${first}: ${cause}` : first;
}

function explain(why, version) {
  const v = version ?? '(the version in node_modules/electron/package.json)';
  process.stderr.write(`
sluice desktop: cannot start the desktop app: ${why}.

The Electron binary is downloaded from GitHub on first use, not from the package registry.
What you can do:
  • Use a mirror you can reach, then run npm run desktop again:
      ELECTRON_MIRROR=https://npmmirror.com/mirrors/electron/ npm run desktop
    (or your company's mirror of https://github.com/electron/electron/releases)
  • Or put an unpacked Electron ${v} somewhere and point at it:
      ELECTRON_OVERRIDE_DIST_PATH=/path/to/electron-folder npm run desktop
  • Or use the same UI in a browser: start a collector (npm start) and open
      http://127.0.0.1:9410/
    (the renderer is built: desktop/renderer/dist)
`);
}

try {
  await buildRenderer();
  await buildShell();
} catch (error) {
  say(`build failed: ${error?.stack ?? error}`);
  process.exit(1);
}
if (buildOnly) {
  say(`built: ${join(OUT, 'main.cjs')}, ${join(OUT, 'preload.cjs')}, ${join(DESKTOP, 'renderer/dist')}`);
  process.exit(0);
}

const { binary, version, why } = electronBinary();
if (!binary) {
  explain(why, version);
  process.exit(1);
}
const env = { ...process.env };
delete env.ELECTRON_RUN_AS_NODE; // would make the binary a plain Node
const child = spawn(binary, [join(OUT, 'main.cjs'), ...args.filter((a) => a !== '--build-only')], { stdio: 'inherit', cwd: ROOT, env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
