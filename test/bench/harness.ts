/**
 * The benchmark harness. A benchmark module is one file, `test/bench/<name>.bench.ts`, whose
 * default export is `defineBench({ name, summary, run })`; `run` measures and calls
 * `b.figure('<name>.<figure>', { value, unit, better, baseline, notes, goal })` for each figure.
 * `npm run bench [-- FILTER…]` (run.ts) finds the modules, runs them, prints a table, merges the
 * figures into bench/latest.json and regenerates docs/benchmarks.md from it. A FILTER selects the
 * modules whose name contains it, or, written `<module>.<figure…>`, only some figures of one
 * module: a module skips the work behind figures that `b.wants(name)` says nobody asked for.
 *
 * bench/latest.json:
 *   { "<figure>": { "value": n, "unit": "events/s", "baseline": n|null, "ratio": n|null,
 *                   "notes": "…", "better": "higher"|"lower", "goal": n?, "module": "channel",
 *                   "ran": true|false, "measuredAt": "ISO time", "machine": "…" } }
 *
 * `ratio` compares the figure with its baseline, measured in the same run on the same machine,
 * oriented so that higher is better: value / baseline when higher values are better (throughput),
 * baseline / value when lower values are better (latency). `goal` is the least acceptable ratio.
 * `ran` is true for the figures measured by the run that last wrote the file; the others keep
 * their last measurement.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, platform, arch, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FigureInput {
  value: number;
  /** e.g. `events/s`, `ms`. */
  unit: string;
  better: 'higher' | 'lower';
  /** The same measurement done the plain way, in the same run; null when there is none. */
  baseline: number | null;
  /** What was measured and how, what the baseline is, anything that helps read the number. */
  notes: string;
  /** The least acceptable ratio, if the figure has a goal. */
  goal?: number;
}

export interface Figure extends FigureInput {
  ratio: number | null;
  module: string;
  ran: boolean;
  measuredAt: string;
  machine: string;
}

export type Figures = Record<string, Figure>;

export interface BenchContext {
  /** `--quick`: a smoke run with small sizes; nothing is written. */
  readonly quick: boolean;
  /** A fresh folder under os.tmpdir(), removed when the module finishes. */
  tempDir(label?: string): string;
  figure(name: string, input: FigureInput): void;
  /** Whether this run asked for the figure (no filter, a filter matching the module, or one matching the figure). */
  wants(figure: string): boolean;
  /** Progress for the person watching (stderr). */
  log(message: string): void;
}

export interface BenchModule {
  /** The file's stem: `channel` for channel.bench.ts. Figure names start with `<name>.`. */
  name: string;
  summary: string;
  /** Other figure-name prefixes this module owns (e.g. `http` for `http.ingest` in the collector module). */
  prefixes?: string[];
  run(b: BenchContext): Promise<void> | void;
}

export function defineBench(module: BenchModule): BenchModule {
  return module;
}

/** The machine, and its load when a figure was taken: other processes skew wall-clock figures. */
export function machine(): string {
  const c = cpus();
  const model = c[0]?.model.trim() ?? 'unknown CPU';
  return `${c.length} × ${model}, Node ${process.version}, ${platform()} ${arch()}, load average ${loadavg()[0].toFixed(1)}`;
}

/** Whether a module is selected by the command line's filters (see the top of this file). */
export function selects(filters: readonly string[], module: string): boolean {
  return filters.length === 0 || filters.some((f) => module.includes(f) || f.startsWith(`${module}.`));
}

/** Whether a figure of a selected module is asked for. */
export function wants(filters: readonly string[], module: string, figure: string): boolean {
  return filters.length === 0 || filters.some((f) => module.includes(f) || figure.includes(f));
}

export function ratioOf(input: FigureInput): number | null {
  if (input.baseline === null || input.baseline <= 0 || input.value <= 0) return null;
  return input.better === 'higher' ? input.value / input.baseline : input.baseline / input.value;
}

/** Rounds for storage and display: integers from 100 up, four significant digits below. */
export function round(n: number): number {
  if (!Number.isFinite(n)) return n;
  return Math.abs(n) >= 100 ? Math.round(n) : Number(n.toPrecision(4));
}

/** A context that collects one module's figures. */
export function createContext(module: BenchModule, options: { quick: boolean; filters: readonly string[] }, log: (m: string) => void): {
  context: BenchContext;
  figures: Figures;
  cleanup(): void;
} {
  const figures: Figures = {};
  const dirs: string[] = [];
  const context: BenchContext = {
    quick: options.quick,
    tempDir(label = module.name) {
      const dir = mkdtempSync(join(tmpdir(), `sluice-bench-${label}-`));
      dirs.push(dir);
      return dir;
    },
    figure(name, input) {
      const prefixes = [module.name, ...(module.prefixes ?? [])];
      if (!prefixes.some((p) => name.startsWith(`${p}.`))) throw new Error(`bench "${module.name}": figure "${name}" must be named "${prefixes.join('|')}.<figure>"`);
      if (figures[name]) throw new Error(`bench "${module.name}": figure "${name}" recorded twice`);
      if (!Number.isFinite(input.value)) throw new Error(`bench "${module.name}": figure "${name}" has no finite value (${input.value})`);
      const ratio = ratioOf(input);
      figures[name] = {
        value: round(input.value),
        unit: input.unit,
        baseline: input.baseline === null ? null : round(input.baseline),
        ratio: ratio === null ? null : round(ratio),
        notes: input.notes,
        better: input.better,
        ...(input.goal === undefined ? {} : { goal: input.goal }),
        module: module.name,
        ran: true,
        measuredAt: new Date().toISOString(),
        machine: machine(),
      };
    },
    wants: (figure) => wants(options.filters, module.name, figure),
    log: (m) => log(`[${module.name}] ${m}`),
  };
  return {
    context,
    figures,
    cleanup() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** The figures of this run over the previous file's: figures not measured now keep their values, with `ran: false`. */
export function mergeFigures(previous: Figures, fresh: Figures): Figures {
  const merged: Figures = {};
  for (const [name, f] of Object.entries(previous)) merged[name] = { ...f, ran: false };
  for (const [name, f] of Object.entries(fresh)) merged[name] = f;
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)));
}

function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  return Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : String(round(n));
}

function verdict(f: Figure): string {
  if (f.goal === undefined || f.ratio === null) return '';
  return f.ratio >= f.goal ? `≥ ${f.goal} ✓` : `< ${f.goal} ✗`;
}

/** The table printed at the end of a run. */
export function renderTable(figures: Figures): string {
  const header = ['figure', 'value', 'unit', 'baseline', 'ratio', 'goal', 'notes'];
  const rows = Object.entries(figures).map(([name, f]) => [
    `${f.ran ? '' : '(old) '}${name}`,
    fmt(f.value),
    f.unit,
    fmt(f.baseline),
    fmt(f.ratio),
    verdict(f),
    f.notes.length > 90 ? `${f.notes.slice(0, 89)}…` : f.notes,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 || i === 3 || i === 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** docs/benchmarks.md, generated from bench/latest.json. */
export function renderMarkdown(figures: Figures): string {
  const out: string[] = [
    '<!-- Generated by `npm run bench` from bench/latest.json. Do not edit: run the benchmarks instead. -->',
    '# Benchmarks',
    '',
    '*This page is generated by `npm run bench` (test/bench/run.ts) from `bench/latest.json`; edits are overwritten.*',
    '',
    'Run every benchmark with `npm run bench`, or only the modules whose name matches with',
    '`npm run bench -- channel`. Each figure has a **baseline** measured in the same run on the same',
    'machine, and a **ratio** oriented so that higher is better: value ÷ baseline for throughput,',
    'baseline ÷ value for latency. A **goal** is the least acceptable ratio. Add a benchmark by adding',
    'one file, `test/bench/<name>.bench.ts` (see test/bench/harness.ts).',
    '',
    '| figure | value | unit | baseline | ratio | goal | measured |',
    '|---|--:|---|--:|--:|---|---|',
  ];
  for (const [name, f] of Object.entries(figures)) {
    out.push(`| \`${name}\` | ${fmt(f.value)} | ${f.unit} | ${fmt(f.baseline)} | ${fmt(f.ratio)} | ${verdict(f)} | ${f.measuredAt.slice(0, 10)}${f.ran ? '' : ' (earlier run)'} |`);
  }
  out.push('', '## Notes', '');
  for (const [name, f] of Object.entries(figures)) {
    out.push(`### \`${name}\``, '', f.notes, '', `Measured ${f.measuredAt} on ${f.machine}.`, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

// ─── Measuring ────────────────────────────────────────────────────────────────────────────────

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export { prng } from '../helpers/random.ts';
