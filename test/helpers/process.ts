/**
 * Test helpers for real collector processes: free ports, a collector started as a child process
 * (`node bin/sluice.js start --config …`), waiting for conditions. Nothing here stands in for
 * the thing under test.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import tcpPortUsed from 'tcp-port-used';
import { join, resolve } from 'node:path';
import { scaled, spawnTracked, tempDir } from './children.ts';

// Every process and folder made here is registered and removed on every exit path (children.ts).
export { scaled, spawnTracked, tempDir };

export const REPO = resolve(import.meta.dirname, '../..');
export const SLUICE = join(REPO, 'bin/sluice.js');

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export async function until<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  // Every wait scales with the machine's load (SLUICE_TEST_TIMEOUT_SCALE).
  const deadline = Date.now() + scaled(options.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(scaled(options.timeoutMs ?? 30_000) / 1000)}s waiting for ${options.what ?? 'condition'}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

export interface CollectorProcess {
  proc: ChildProcess;
  dir: string;
  configFile: string | null;
  adminUrl: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGTERM and wait. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<number | null>;
  api<T = unknown>(path: string, init?: RequestInit): Promise<T>;
}

export interface StartOptions {
  /** YAML config; `null` runs the embedded defaults. */
  config: string | null;
  dir?: string;
  adminPort?: number;
  env?: Record<string, string>;
  /** Wait for the admin API to answer (default true). */
  wait?: boolean;
  token?: string;
  /** Node options before the script, e.g. `--cpu-prof` (not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** A command the collector runs under, e.g. `['nsenter', '--mount=/proc/PID/ns/mnt', '--']`; it must exec, not fork. */
  prefix?: string[];
}

/** Starts `sluice start` in a child process; resolves once its admin API answers /health. */
export async function startCollector(options: StartOptions): Promise<CollectorProcess> {
  const dir = options.dir ?? tempDir();
  let configFile: string | null = null;
  const args = [...(options.nodeArgs ?? []), SLUICE, 'start'];
  if (options.config !== null) {
    configFile = join(dir, 'sluice.yaml');
    writeFileSync(configFile, options.config);
    args.push('--config', configFile);
  }
  const [command, ...commandArgs] = [...(options.prefix ?? []), process.execPath, ...args];
  const proc = spawnTracked(command, commandArgs, { cwd: dir, env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const adminPort = options.adminPort ?? (options.config === null ? 9410 : Number(/admin:\s*\n\s*listen:\s*[\d.]+:(\d+)/.exec(options.config)?.[1] ?? 9410));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const headers = options.token ? { authorization: `Bearer ${options.token}` } : undefined;
  const handle: CollectorProcess = {
    proc,
    dir,
    configFile,
    adminUrl,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      return exited;
    },
    async api<T>(path: string, init?: RequestInit): Promise<T> {
      const response = await fetch(`${adminUrl}${path}`, { ...init, headers: { ...headers, ...(init?.headers as Record<string, string>) } });
      const body = await response.json();
      if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${response.status} ${JSON.stringify(body)}`);
      return body as T;
    },
  };
  if (options.wait !== false) {
    const early = exited.then((code) => {
      throw new Error(`collector exited (${code}) before it answered:\n${err}\n${out}`);
    });
    early.catch(() => undefined);
    try {
      const ready = async () => {
        // The admin port accepting (tcp-port-used checks it), then /health answering. A check that
        // errors (a connection reset while the port is being bound) is a "not yet", not a failure:
        // tcp-port-used's own wait gives up on the first such error.
        await until(() => tcpPortUsed.check(adminPort, '127.0.0.1').catch(() => false), { timeoutMs: 30_000, intervalMs: 20, what: `the collector's admin port ${adminPort}` }).catch((error: Error) => {
          throw new Error(`${error.message}:\n${err}`);
        });
        await until(() => fetch(`${adminUrl}/api/v1/health`, { headers }).then((r) => r.ok), { timeoutMs: 30_000, what: `collector admin API at ${adminUrl}` });
      };
      await Promise.race([ready(), early]);
    } catch (error) {
      // A collector the test gave up on is stopped now, not left running.
      await handle.kill();
      throw error;
    }
  }
  return handle;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `sluice` CLI as a child process (tracked, so it is killed if the test file ends first),
 * leaving the test's event loop free; `input` is written to its stdin.
 */
export function runSluice(args: string[], options: { cwd?: string; input?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return new Promise((resolvePromise) => {
    const child = spawnTracked(process.execPath, [SLUICE, ...args], { cwd: options.cwd, env: options.env ? { ...process.env, ...options.env } : undefined, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (status) => resolvePromise({ status, stdout, stderr }));
    child.stdin!.end(options.input ?? '');
  });
}
