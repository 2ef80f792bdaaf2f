/**
 * `npm run bench [-- [FILTER…] [--quick] [--list]]`: runs the benchmark modules
 * (test/bench/*.bench.ts; with FILTERs only those whose name contains one of them, or only the
 * figures named by a `<module>.<figure…>` filter), prints their
 * figures, merges them into bench/latest.json and regenerates docs/benchmarks.md from it.
 * `--quick` is a smoke run with small sizes that writes nothing. See harness.ts.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createContext, machine, mergeFigures, renderMarkdown, renderTable, selects, type BenchModule, type Figures } from './harness.ts';

const BENCH_DIR = import.meta.dirname;
const ROOT = resolve(BENCH_DIR, '../..');
const LATEST = join(ROOT, 'bench/latest.json');
const DOC = join(ROOT, 'docs/benchmarks.md');
const SUFFIX = '.bench.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const unknown = args.filter((a) => a.startsWith('--') && a !== '--quick' && a !== '--list');
if (unknown.length > 0) {
  console.error(`unknown option ${unknown.join(', ')}; usage: npm run bench -- [FILTER…] [--quick] [--list]`);
  process.exit(2);
}
const filters = args.filter((a) => !a.startsWith('--'));
const names = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith(SUFFIX))
  .map((f) => f.slice(0, -SUFFIX.length))
  .sort();

if (args.includes('--list')) {
  for (const name of names) console.log(name);
  process.exit(0);
}
const selected = names.filter((n) => selects(filters, n));
if (selected.length === 0) {
  console.error(`no benchmark module matches ${filters.map((f) => `"${f}"`).join(', ')}; modules: ${names.join(', ') || 'none'}`);
  process.exit(2);
}

const log = (m: string) => process.stderr.write(`${m}\n`);
log(`bench: ${selected.join(', ')}${quick ? ' (quick: small sizes, nothing written)' : ''} on ${machine()}`);

const fresh: Figures = {};
const failed: string[] = [];
for (const name of selected) {
  const started = performance.now();
  let module: BenchModule;
  try {
    module = (await import(pathToFileURL(join(BENCH_DIR, `${name}${SUFFIX}`)).href)).default as BenchModule;
    if (!module || typeof module.run !== 'function') throw new Error(`${name}${SUFFIX} must \`export default defineBench({ … })\``);
    if (module.name !== name) throw new Error(`${name}${SUFFIX} defines bench "${module.name}"; name it after its file`);
  } catch (error) {
    log(`bench "${name}" failed to load: ${(error as Error).stack ?? String(error)}`);
    failed.push(name);
    continue;
  }
  log(`── ${name}: ${module.summary}`);
  const { context, figures, cleanup } = createContext(module, { quick, filters }, log);
  try {
    await module.run(context);
  } catch (error) {
    log(`bench "${name}" failed: ${(error as Error).stack ?? String(error)}`);
    failed.push(name);
  } finally {
    cleanup();
  }
  Object.assign(fresh, figures);
  log(`── ${name}: ${Object.keys(figures).length} figures in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  (globalThis as { gc?: () => void }).gc?.();
}

console.log(`\n${renderTable(fresh)}\n`);

if (!quick && Object.keys(fresh).length > 0) {
  const previous: Figures = existsSync(LATEST) ? (JSON.parse(readFileSync(LATEST, 'utf8')) as Figures) : {};
  const merged = mergeFigures(previous, fresh);
  mkdirSync(dirname(LATEST), { recursive: true });
  writeFileSync(LATEST, `${JSON.stringify(merged, null, 2)}\n`);
  writeFileSync(DOC, renderMarkdown(merged));
  console.log(`wrote ${Object.keys(fresh).length} figures to bench/latest.json (${Object.keys(merged).length} in all) and docs/benchmarks.md`);
}
if (failed.length > 0) {
  console.error(`failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
