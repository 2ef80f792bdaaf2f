/**
 * The admin API client the CLI commands use (`--admin URL`, `--token`, or SLUICE_ADMIN and
 * SLUICE_TOKEN). Errors come back as CliError with the API's own message, so a command prints
 * `sluice: topic "x" does not exist` rather than a stack.
 */
import type { Command } from 'commander';
import http from 'node:http';
import https from 'node:https';
import { formatProblem, type ConfigProblem } from '../../../shared/src/spec.ts';

export const DEFAULT_ADMIN = 'http://127.0.0.1:9410';

export interface AdminOptions {
  admin?: string;
  token?: string;
  insecure?: boolean;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** For an error answer of the API: its HTTP status and error code. */
    readonly api?: { status: number; code?: string },
  ) {
    super(message);
  }
}

/** Adds --admin, --token and --insecure to a command that talks to a collector. */
export function withAdminOptions(command: Command): Command {
  return command
    .option('--admin <url>', `admin API of the collector (default: $SLUICE_ADMIN or ${DEFAULT_ADMIN})`)
    .option('--token <token>', 'bearer token (default: $SLUICE_TOKEN)')
    .option('--insecure', 'accept a self-signed TLS certificate');
}

export class AdminClient {
  readonly base: URL;
  readonly #token: string | undefined;
  readonly #insecure: boolean;

  constructor(options: AdminOptions = {}) {
    const url = options.admin ?? process.env.SLUICE_ADMIN ?? DEFAULT_ADMIN;
    try {
      this.base = new URL(url);
    } catch {
      throw new CliError(`--admin: "${url}" is not a URL (e.g. ${DEFAULT_ADMIN})`, 2);
    }
    this.#token = options.token ?? process.env.SLUICE_TOKEN;
    this.#insecure = options.insecure ?? false;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** A GET whose answer is read as a stream (an export); an error answer is a CliError as for request(). */
  stream(path: string): Promise<http.IncomingMessage> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method: 'GET', headers, ...(url.protocol === 'https:' && this.#insecure ? { rejectUnauthorized: false } : {}) }, (res) => {
        if ((res.statusCode ?? 500) < 400) {
          resolve(res);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let message = `GET ${url.pathname}: HTTP ${res.statusCode}`;
          try {
            message = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { message?: string } }).error?.message ?? message;
          } catch {
            // not JSON: the status says it
          }
          reject(new CliError(message, 1, { status: res.statusCode ?? 500 }));
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        reject(new CliError(`cannot reach the admin API at ${this.base.origin}: ${error.code ?? error.message}; is the collector running? (set --admin URL)`));
      });
      req.end();
    });
  }

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) headers['content-type'] = 'application/json';
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = lib.request(url, { method, headers, ...(url.protocol === 'https:' && this.#insecure ? { rejectUnauthorized: false } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            reject(new CliError(`${method} ${url.pathname}: answer ${res.statusCode} is not JSON: ${text.slice(0, 200)}`));
            return;
          }
          if ((res.statusCode ?? 500) >= 400) {
            const e = (json as { error?: { code?: string; message?: string; problems?: ConfigProblem[] } } | null)?.error;
            const problems = e?.problems?.length ? `\n${e.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}` : '';
            reject(new CliError(`${e?.message ?? `${method} ${url.pathname}: HTTP ${res.statusCode}`}${problems}`, 1, { status: res.statusCode ?? 500, code: e?.code }));
            return;
          }
          resolve(json as T);
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', (error: NodeJS.ErrnoException) => {
        reject(new CliError(`cannot reach the admin API at ${this.base.origin}: ${error.code ?? error.message}; is the collector running? (set --admin URL)`));
      });
      req.end(payload);
    });
  }
}

/** Runs a command's action, printing a CliError as `sluice: message` and exiting with its code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      if (error instanceof CliError) {
        console.error(`sluice: ${error.message}`);
        process.exit(error.exitCode);
      }
      throw error;
    }
  };
}

/** A plain text table: columns padded, numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === '–'));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

