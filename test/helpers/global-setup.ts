/**
 * Vitest global setup: gives this run a mark and a temp root, and at the end kills whatever the
 * run left running and removes the root (see test/helpers/children.ts and docs/testing.md).
 * Runs of other people on the same machine are never touched: only processes carrying this run's
 * mark, or the mark of a run whose vitest process is gone, are killed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { markedProcesses, RUN_MARK } from './children.ts';

const PREFIX = 'sluice-test-run-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the vitest process that made a run mark (`sluice-test-run-<pid>-XXXXXX`). */
function runPid(mark: string): number | undefined {
  const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(mark);
  return m ? Number(m[1]) : undefined;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim().slice(0, 160);
  } catch {
    return '(gone)';
  }
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** This process's direct children: vitest's workers (and its own helpers), not a test's leftovers. */
function ownChildren(): Set<number> {
  const out = new Set<number>();
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.add(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

/** Leftovers of earlier runs that died without their teardown (vitest killed): processes and roots. */
function sweepDeadRuns(root: string): void {
  const dead = (mark: string) => {
    const pid = runPid(mark);
    return pid !== undefined && !alive(pid);
  };
  const orphans = markedProcesses(dead);
  if (orphans.length > 0) {
    console.warn(`sluice tests: killing ${orphans.length} process(es) left by an earlier run that died:\n${orphans.map((p) => `  ${p} ${commandLine(p)}`).join('\n')}`);
    killAll(orphans);
  }
  for (const name of readdirSync(root)) {
    if (name.startsWith(PREFIX) && dead(name)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  // Build the collector bundle once, before any test starts a collector (each would otherwise
  // find it stale and build it itself, all at once, on a machine that is already busy).
  const build = '../../release/build.js'; // plain JavaScript, no types: imported by a computed name
  const { buildCollector, collectorStale } = (await import(build)) as { buildCollector: () => Promise<unknown>; collectorStale: () => boolean };
  if (collectorStale()) await buildCollector();
  const systemTmp = tmpdir();
  sweepDeadRuns(systemTmp);
  const runRoot = mkdtempSync(join(systemTmp, `${PREFIX}${process.pid}-`));
  const mark = basename(runRoot);
  // Inherited by the workers and everything they start.
  process.env[RUN_MARK] = mark;
  process.env.TMPDIR = runRoot;
  return async function teardown() {
    const leftovers = markedProcesses((m) => m === mark, ownChildren());
    if (leftovers.length > 0) {
      console.warn(`sluice tests: killing ${leftovers.length} process(es) still running at the end of the run:\n${leftovers.map((p) => `  ${p} ${commandLine(p)}`).join('\n')}`);
      killAll(leftovers);
    }
    rmSync(runRoot, { recursive: true, force: true });
  };
}
