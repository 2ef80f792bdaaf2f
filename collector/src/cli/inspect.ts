/**
 * `sluice inspect FILE.db [--port N] [--host H]`: offline inspection of a channel file, e.g. a
 * buffer taken from an edge machine. The file (and its -wal, which holds the newest commits) is
 * copied to a temporary folder and the copy opened read-only by a Collector in inspect mode —
 * no sources, no sinks, no retention — serving the same admin API (and the web UI) on
 * 127.0.0.1. The original is never opened, so a collector may still be writing it. The copy is
 * removed on exit.
 */
import type { Command } from 'commander';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { errorMessage } from '../../../shared/src/errors.ts';
import type { Collector } from '../runtime/collector.ts';
import { formatBytes } from '../../../shared/src/format.ts';
import { action, CliError } from './client.ts';

export interface InspectSession {
  collector: Collector;
  url: string;
  copy: string;
  close(): Promise<void>;
}

/** Copies `file` (+ -wal) and serves it read-only; for the command and for tests. */
export async function startInspect(file: string, options: { host?: string; port?: number; logLevel?: string; progress?: boolean } = {}): Promise<InspectSession> {
  const source = resolve(file);
  if (!existsSync(source) || !statSync(source).isFile()) throw new CliError(`${file}: no such file`, 2);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-inspect-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    // Loaded here, not at the top: `sluice --help` and the other commands never load the collector.
    const [{ buildAdminApp }, { builtinRegistries }, { loadConfigText }, { createLogger }, { Collector }] = await Promise.all([
      import('../admin/app.ts'),
      import('../builtins.ts'),
      import('../config/load.ts'),
      import('../log.ts'),
      import('../runtime/collector.ts'),
    ]);
    // The -wal after the main file: a commit landing in between is at worst missing from the copy, never half there.
    await copyWithProgress([
      [source, join(dir, 'channel.db')],
      ...(existsSync(`${source}-wal`) ? [[`${source}-wal`, join(dir, 'channel.db-wal')] as [string, string]] : []),
    ], options.progress ?? false);
    // A file from an older Sluice (schema 1) is upgraded — the copy, never the original.
    (await import('../channel/schema.ts')).upgradeCopy(join(dir, 'channel.db'));
    const host = options.host ?? '127.0.0.1';
    const listen = host.includes(':') ? `[${host}]:${options.port ?? 0}` : `${host}:${options.port ?? 0}`;
    const config = await loadConfigText(`channel:\n  path: ${JSON.stringify(dir)}\nadmin:\n  listen: ${JSON.stringify(listen)}\n`, null, { preflight: false, registries: builtinRegistries() });
    const log = createLogger({ level: options.logLevel ?? 'warn', destination: process.stderr });
    let collector: Collector;
    try {
      collector = new Collector(config, { log, inspect: true });
    } catch (error) {
      throw new CliError(`${file}: ${errorMessage(error)}`);
    }
    await collector.start((c) => buildAdminApp(c));
    return {
      collector,
      url: collector.adminAddress!,
      copy: join(dir, 'channel.db'),
      async close() {
        await collector.stop();
        remove();
      },
    };
  } catch (error) {
    remove();
    throw error;
  }
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('serve the admin API (and web UI) read-only on a copy of a channel file')
    .argument('<file>', 'a channel file (channel.db)')
    .option('--port <port>', 'admin port (default: a free one)')
    .option('--host <host>', 'address to listen on (loopback only without a token)', '127.0.0.1')
    .option('--log-level <level>', 'log level', 'warn')
    .option('--no-progress', 'no progress bar while the file is copied')
    .action(
      action(async (file: string, options: { port?: string; host: string; logLevel: string; progress: boolean }) => {
        const port = options.port === undefined ? 0 : Number(options.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port: "${options.port}" is not a port`, 2);
        let session: InspectSession;
        try {
          session = await startInspect(file, { host: options.host, port, logLevel: options.logLevel, progress: options.progress });
        } catch (error) {
          if (error instanceof CliError) throw error;
          throw new CliError(errorMessage(error));
        }
        const topics = session.collector.channel.topics();
        const stats = session.collector.channel.stats();
        console.log(
          [
            `sluice inspect: ${resolve(file)} (read-only copy in ${session.copy})`,
            `  ${topics.length} topic${topics.length === 1 ? '' : 's'}, ${stats.events} events, ${formatBytes(stats.bytes)}`,
            `  admin API  ${session.url}/api/v1`,
            `  web UI     ${session.url}/`,
            'Ctrl-C to stop (the copy is removed)',
          ].join('\n'),
        );
        const stop = async () => {
          await session.close();
          process.exit(0);
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      }),
    );
}

/**
 * Copies the channel file and its WAL; on a terminal, a file large enough to take a while gets a
 * progress bar (a channel taken from an edge machine can be gigabytes).
 */
async function copyWithProgress(files: [string, string][], progress: boolean): Promise<void> {
  const total = files.reduce((a, [from]) => a + statSync(from).size, 0);
  const show = progress && process.stderr.isTTY && total >= 64 * 1024 * 1024;
  const bar = show
    ? new (await import('cli-progress')).default.SingleBar({ format: 'copying the channel file {bar} {percentage}% | {done} of {size}', hideCursor: true, stream: process.stderr })
    : null;
  bar?.start(total, 0, { done: formatBytes(0), size: formatBytes(total) });
  let done = 0;
  try {
    for (const [from, to] of files) {
      const count = new Transform({
        transform(chunk: Buffer, _enc, next) {
          done += chunk.length;
          bar?.update(done, { done: formatBytes(done) });
          next(null, chunk);
        },
      });
      await pipeline(createReadStream(from), count, createWriteStream(to));
    }
  } finally {
    bar?.stop();
  }
}
