/**
 * Everything a test starts is cleaned up on every exit path, however the test ends (docs/testing.md):
 *
 * - `spawnTracked` starts a child in its own process group and registers it; `tempDir` registers
 *   the folder. The file's own hooks stop what they started; then the setup file's `afterAll`
 *   (test/helpers/setup.ts) kills every registered group that is still alive and removes the
 *   folders — so a test that gave up (timeout, failed assertion) leaves nothing running.
 * - If the test worker itself exits or is signalled, `process.on('exit')` and signal handlers kill
 *   the registered groups synchronously.
 * - Every process the run starts, by any means, inherits `SLUICE_TEST_RUN` (set by the global
 *   setup); the global teardown kills whatever still carries this run's mark and removes the run's
 *   temp root, which holds every temp folder (TMPDIR points there). Runs of other people on the
 *   same machine carry other marks and are never touched.
 *
 * Waits scale with the machine's load: `scaled(ms)` multiplies by SLUICE_TEST_TIMEOUT_SCALE
 * (set by vitest.config.ts from the load average unless given).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RUN_MARK = 'SLUICE_TEST_RUN';

/** How much longer than on an idle machine any wait may take (≥ 1). */
export function timeoutScale(): number {
  const scale = Number(process.env.SLUICE_TEST_TIMEOUT_SCALE);
  return Number.isFinite(scale) && scale >= 1 ? scale : 1;
}

/** A wait, timeout or deadline for this machine's load: `scaled(30_000)`. */
export function scaled(ms: number): number {
  return Math.round(ms * timeoutScale());
}

// One registry per process, even if this module is evaluated again (vitest may re-import modules
// per test file in the same worker): the exit and signal handlers are installed once.
interface Registry {
  children: Set<ChildProcess>;
  dirs: Set<string>;
  installed: boolean;
}
const REGISTRY = Symbol.for('sluice.test.children');
const registry: Registry = ((globalThis as Record<symbol, Registry | undefined>)[REGISTRY] ??= { children: new Set(), dirs: new Set(), installed: false });
const { children, dirs } = registry;

function install(): void {
  if (registry.installed) return;
  registry.installed = true;
  process.on('exit', killNow);
  for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.once(signal, () => {
      killNow();
      process.exit(128 + number);
    });
  }
}

/**
 * `spawn` for tests: the child leads its own process group (so its own children die with it) and
 * is killed when the test file ends, the worker exits or the run is torn down.
 */
function spawnTrackedImpl(command: string, args: readonly string[] | SpawnOptions = [], options: SpawnOptions = {}): ChildProcess {
  install();
  const [argv, opts] = Array.isArray(args) ? [args as readonly string[], options] : [[], args as SpawnOptions];
  const child = spawn(command, argv, { ...opts, detached: true });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** `spawn` for tests (same signatures and stream types): see spawnTrackedImpl. */
export const spawnTracked = spawnTrackedImpl as typeof spawn;

/** A temp folder removed when the test file ends (or by the run's teardown at the latest). */
export function tempDir(prefix = 'sluice-test-'): string {
  install();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Kills every registered process group now (SIGKILL) and removes the registered folders. */
function killNow(): void {
  for (const child of children) killGroup(child.pid);
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** What a test file left behind, killed and removed; resolves once the processes have exited. */
export async function cleanupChildren(): Promise<{ killed: number; removed: number }> {
  const alive = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  const exits = alive.map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()))));
  for (const child of alive) killGroup(child.pid);
  children.clear();
  await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, scaled(10_000)).unref())]);
  const removed = dirs.size;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
  return { killed: alive.length, removed };
}

/**
 * Processes carrying `mark` in their environment (Linux /proc), except this one and `except`.
 * Reading another user's environ fails; those are not ours.
 */
export function markedProcesses(mark: (value: string) => boolean, except: ReadonlySet<number> = new Set()): number[] {
  const found: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return found;
  }
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid || except.has(pid)) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      const entry = env.find((e) => e.startsWith(`${RUN_MARK}=`));
      if (entry && mark(entry.slice(RUN_MARK.length + 1))) found.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
