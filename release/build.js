#!/usr/bin/env node
// Builds what production runs (docs/decisions/runtime-build.md):
//   dist/collector/   the collector and CLI: one esbuild bundle, ESM, code-split so a chunk (a CLI
//                     command, the Kafka client, JSONata, …) is parsed only when it is imported.
//   desktop/renderer/dist/   the web UI (vite), which the collector serves at / of its admin address.
//
//   node release/build.js            build what is stale (the collector; the UI when vite is installed)
//   node release/build.js --force    rebuild both, from an empty dist/collector
//   node release/build.js --collector | --ui   only that part
//
// Plain JavaScript, so it runs without tsx; it needs esbuild (a dependency) and, for the UI, vite
// (a devDependency: after `npm ci --omit=dev` the UI is not built and the collector says how).
// Several processes may build at once (tests start many collectors): each output file is written
// to a temporary name and renamed, chunks have content-hashed names, the entry files come last.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const COLLECTOR_OUT = join(ROOT, 'dist/collector');
export const COLLECTOR_ENTRY = join(COLLECTOR_OUT, 'main.js');
const UI_DIR = join(ROOT, 'desktop/renderer');
const UI_INDEX = join(UI_DIR, 'dist/index.html');

/** What the collector bundle is made of: a newer file here means the bundle is stale. */
export const COLLECTOR_INPUTS = ['collector/src', 'shared/src', 'package.json', 'release/build.js'].map((p) => join(ROOT, p));
const UI_INPUTS = [join(UI_DIR), join(ROOT, 'desktop/bridge.ts'), join(ROOT, 'shared/src')];

/**
 * Packages left outside the bundle, loaded from node_modules at run time: native addons, the
 * packages that load native addons or worker files by path, and the ones loaded only when the
 * config names them (kafkajs, through createRequire in kafka-client.ts) or the admin API first
 * needs them (fastify's schema compilers, admin/lazy-validation.ts; re2js for regex filters).
 */
export const EXTERNAL = ['better-sqlite3', 'msgpackr', 'msgpackr-extract', 'pino', 'thread-stream', 'pino-pretty', 'kafkajs', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', 're2js'];

/**
 * CommonJS packages whose default export is a function, loaded on its first call instead of at
 * start-up: a JSONata filter costs its ~10 MB only where one is used. The import is replaced by a
 * stub that requires the package from node_modules when first called. (The JSONata interceptor
 * reads jsonata's ES5 build from node_modules itself, on its first expression: jsonata-sync.ts.)
 */
export const LOADED_ON_FIRST_CALL = ['jsonata'];

const loadOnFirstCall = {
  name: 'load-on-first-call',
  setup(build) {
    const filter = new RegExp(`^(${LOADED_ON_FIRST_CALL.map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'load-on-first-call' }));
    build.onLoad({ filter: /.*/, namespace: 'load-on-first-call' }, (args) => ({
      loader: 'js',
      contents: `import { createRequire } from 'node:module';
let loaded;
export default function firstCall(...args) {
  loaded ??= createRequire(import.meta.url)(${JSON.stringify(args.path)});
  return loaded(...args);
}`,
    }));
  },
};

function say(message) {
  process.stderr.write(`sluice build: ${message}\n`);
}

/** Newest modification time (ms) of the files under `paths`; test files and dist folders do not count. */
export function newest(paths) {
  let max = 0;
  const walk = (p) => {
    let s;
    try {
      s = statSync(p);
    } catch {
      return;
    }
    if (s.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'node_modules' && name !== 'dist') walk(join(p, name));
    } else if (s.mtimeMs > max && !/\.test\.tsx?$/.test(p)) max = s.mtimeMs;
  };
  for (const p of paths) walk(p);
  return max;
}

export function collectorStale() {
  return !existsSync(COLLECTOR_ENTRY) || statSync(COLLECTOR_ENTRY).mtimeMs < newest(COLLECTOR_INPUTS);
}

function writeAtomically(file, contents) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

export async function buildCollector({ force = false } = {}) {
  if (!force && !collectorStale()) return false;
  const started = performance.now();
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('esbuild is not installed: run `npm ci` (or `npm ci --omit=dev`) first');
  }
  if (force) rmSync(COLLECTOR_OUT, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { main: 'collector/src/cli/main.ts' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: COLLECTOR_OUT,
    chunkNames: 'chunks/[name]-[hash]',
    external: EXTERNAL,
    plugins: [loadOnFirstCall],
    // Bundled CommonJS packages call require() for node built-ins.
    banner: { js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);" },
    // The version `sluice --version` prints, fixed at build time (no package.json read at start).
    define: { 'process.env.SLUICE_VERSION': JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version) },
    legalComments: 'linked',
    // Whitespace and syntax minified, names kept (stack traces still name functions): V8 keeps
    // every loaded chunk's source in the heap, −3 MB idle RSS (docs/decisions/memory.md). The
    // linked source maps turn traces back into our files with `node --enable-source-maps`.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
    write: false,
  });
  const files = result.outputFiles;
  // Chunks first, then the entry: a process that sees the new main.js finds every chunk it names.
  const isEntry = (f) => relative(COLLECTOR_OUT, f.path) === 'main.js';
  for (const f of files.filter((f) => !isEntry(f))) writeAtomically(f.path, f.contents);
  for (const f of files.filter(isEntry)) writeAtomically(f.path, f.contents);
  // Chunks of earlier builds (hashed names) pile up in a checkout: remove those an hour old, long
  // after any process started from that build has imported what it needs.
  const current = new Set(files.map((f) => f.path));
  const chunks = join(COLLECTOR_OUT, 'chunks');
  for (const name of existsSync(chunks) ? readdirSync(chunks) : []) {
    const file = join(chunks, name);
    try {
      if (!current.has(file) && Date.now() - statSync(file).mtimeMs > 3_600_000) rmSync(file, { force: true });
    } catch {}
  }
  say(`collector → ${relative(ROOT, COLLECTOR_OUT)}/ (${files.length} files) in ${Math.round(performance.now() - started)} ms`);
  return true;
}

export function uiStale() {
  return !existsSync(UI_INDEX) || statSync(UI_INDEX).mtimeMs < newest(UI_INPUTS);
}

export async function buildUi({ force = false } = {}) {
  if (!force && !uiStale()) return false;
  try {
    createRequire(import.meta.url).resolve('vite');
  } catch {
    say('web UI not built: vite is a devDependency (after `npm ci --omit=dev` the collector runs without the UI; `npm ci` installs it)');
    return false;
  }
  say('building the web UI (vite)…');
  const started = performance.now();
  process.env.NODE_ENV = 'production';
  const { build } = await import('vite');
  await build({ configFile: join(UI_DIR, 'vite.config.ts'), logLevel: 'warn' });
  say(`web UI → ${relative(ROOT, dirname(UI_INDEX))}/ in ${Math.round(performance.now() - started)} ms`);
  return true;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !['--force', '--collector', '--ui'].includes(a));
  if (unknown.length > 0) {
    say(`unknown option ${unknown.join(', ')}; usage: node release/build.js [--force] [--collector|--ui]`);
    process.exit(2);
  }
  const force = args.includes('--force');
  const only = args.includes('--collector') || args.includes('--ui');
  try {
    if (!only || args.includes('--collector')) await buildCollector({ force });
    if (!only || args.includes('--ui')) await buildUi({ force });
  } catch (error) {
    say(`build failed: ${error?.message ?? error}`);
    process.exit(1);
  }
}
