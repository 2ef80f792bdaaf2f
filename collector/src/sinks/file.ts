/**
 * file sink: NDJSON records (record.ts) in rolling files, one open file per topic.
 *
 * File names come from `path`, a pattern with placeholders (docs/sinks.md "file"):
 *   {topic}      the topic (required)            {date}  UTC date of the write, YYYY-MM-DD
 *   {collector}  the collector id                {hour}  UTC hour of the write, HH
 * `{date}` and `{hour}` belong in the file name, not in a folder. A file is closed ("rolled") when
 * the next batch would take it past `max_bytes`, when it is older than `max_age`, or when the
 * rendered name changes (a new day or hour); the next batch opens a new file. A new file gets the
 * rendered name, or `.<n>` before the extension when that name is taken:
 *   out/web-2024-05-01.ndjson, out/web-2024-05-01.1.ndjson, out/web-2024-05-01.2.ndjson, …
 * A file is never appended to after it was closed or by another process start, so a crash can
 * leave at most the last line of one file incomplete. To keep one topic's files from being
 * mistaken for another's, `{topic}` must be a folder or be followed by `{date}` or `{hour}` in the
 * file name. `keep` bounds the files per topic (the oldest go first, by date, hour, then number).
 *
 * A batch is one write; `send` resolves after the write and, with `fsync: true`, after
 * fdatasync (and an fsync of the folder when a file was created), so a confirmed batch survives
 * power loss. A failed write is cut back off the file, so a retry never leaves half a batch.
 */
import { Type, type Static } from '@sinclair/typebox';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import type { ConfigProblem } from '../../../shared/src/spec.ts';
import type { Sink, SinkSpec } from '../components.ts';
import { Duration, Size, toBytes, toMs } from '../units.ts';
import type { Logger } from '../log.ts';
import { ndjson } from './record.ts';

const FileConfig = Type.Object(
  {
    path: Type.String({
      pattern: '\\{topic\\}',
      default: './out/{topic}-{date}.ndjson',
      description: 'File name pattern with {topic} (required), {date}, {hour} (UTC) and {collector}; rolled files get .<n> before the extension',
      examples: ['./out/{topic}-{date}.ndjson', '/var/log/sluice/{topic}/{date}-{hour}.ndjson'],
    }),
    max_bytes: Size('Roll to a new file before one grows past this (0: no size limit; a single larger batch still goes into one file)', '100MiB'),
    max_age: Duration('Roll to a new file once the current one is this old (0: only by size and by name)', '1h'),
    keep: Type.Integer({ minimum: 0, default: 0, description: 'Files kept per topic, counting the one being written; older ones are deleted (0: keep all)' }),
    fsync: Type.Boolean({ default: true, description: 'Confirm a batch only after it reached the disk (fdatasync); false confirms once the OS has it' }),
  },
  { additionalProperties: false },
);

export type FileConfig = Static<typeof FileConfig>;

interface OpenFile {
  path: string;
  /** The rendered name without the `.<n>`: when it changes (new day/hour), the file rolls. */
  base: string;
  handle: FileHandle;
  bytes: number;
  openedAt: number;
}

interface Pattern {
  dir: string;
  /** The file-name pattern up to the extension, and the extension (`.ndjson`, or ''). */
  stem: string;
  ext: string;
}

const PLACEHOLDER = /\{(topic|date|hour|collector)\}/g;

/** Why a path pattern cannot be used, or null. */
export function checkPathPattern(pattern: string): string | null {
  const unknown = /\{(?!(?:topic|date|hour|collector)\})[^}]*\}/.exec(pattern);
  if (unknown) return `unknown placeholder ${unknown[0]} (use {topic}, {date}, {hour}, {collector})`;
  const dir = dirname(pattern);
  const name = basename(pattern);
  if (/\{(date|hour)\}/.test(dir)) return '{date} and {hour} belong in the file name, not in a folder';
  if (!pattern.includes('{topic}')) return 'must contain {topic} (one file per topic)';
  if (!dir.includes('{topic}')) {
    const afterTopic = name.slice(name.lastIndexOf('{topic}'));
    if (!/\{(date|hour)\}/.test(afterTopic)) {
      return 'put {topic} in a folder (./out/{topic}/{date}.ndjson) or follow it with {date} or {hour} (./out/{topic}-{date}.ndjson), so one topic\'s rolled files cannot be mistaken for another\'s';
    }
  }
  return null;
}

function splitPattern(pattern: string): Pattern {
  const dir = dirname(pattern);
  const name = basename(pattern);
  // The extension is the literal tail after the last placeholder, from its first dot.
  const lastPlaceholderEnd = Math.max(...[...name.matchAll(PLACEHOLDER)].map((m) => m.index! + m[0].length), 0);
  const dot = name.indexOf('.', lastPlaceholderEnd);
  return dot === -1 ? { dir, stem: name, ext: '' } : { dir, stem: name.slice(0, dot), ext: name.slice(dot) };
}

function safeName(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_');
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class FileSink implements Sink {
  readonly #config: FileConfig;
  readonly #name: string;
  readonly #log: Logger;
  readonly #collector: string;
  readonly #pattern: Pattern;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #files = new Map<string, OpenFile>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #timer: NodeJS.Timeout | null;
  readonly #now: () => number;
  #rolled = 0;
  #deleted = 0;
  #closed = false;

  constructor(config: FileConfig, options: { name: string; log: Logger; collectorId: string; now?: () => number }) {
    const problem = checkPathPattern(config.path);
    if (problem) throw new SluiceError(ErrorCodes.CONFIG_INVALID, `sinks.${options.name}.path: ${problem}`, { where: `sinks.${options.name}.path` });
    this.#config = config;
    this.#name = options.name;
    this.#log = options.log;
    this.#collector = safeName(options.collectorId);
    this.#now = options.now ?? Date.now;
    this.#pattern = splitPattern(resolve(config.path));
    this.#maxBytes = toBytes(config.max_bytes);
    this.#maxAgeMs = toMs(config.max_age);
    // Closes files that aged out or whose day/hour passed even when nothing arrives, so a closed
    // file is final soon after its time is up.
    const timeBound = this.#maxAgeMs > 0 || /\{(date|hour)\}/.test(config.path);
    const every = this.#maxAgeMs > 0 ? Math.min(1000, Math.max(50, Math.floor(this.#maxAgeMs / 2))) : 1000;
    this.#timer = timeBound ? setInterval(() => this.#rollIdle(), every) : null;
    this.#timer?.unref();
  }

  send(events: readonly StoredEvent[], topic: string): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.#withLock(topic, () => this.#write(events, topic));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.allSettled([...this.#locks.values()]);
    const errors: unknown[] = [];
    for (const [topic, file] of this.#files) {
      this.#files.delete(topic);
      try {
        await this.#closeFile(file);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw this.#ioError('cannot close', '', errors[0]);
  }

  describe(): Record<string, unknown> {
    const files: Record<string, { path: string; bytes: number; openedAt: number }> = {};
    for (const [topic, f] of this.#files) files[topic] = { path: f.path, bytes: f.bytes, openedAt: f.openedAt };
    return { files, rolled: this.#rolled, deleted: this.#deleted };
  }

  async #write(events: readonly StoredEvent[], topic: string): Promise<void> {
    if (this.#closed) throw new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${this.#name}": closed`, { retriable: true });
    const data = ndjson(events);
    const now = this.#now();
    let file = this.#files.get(topic);
    if (file && this.#shouldRoll(file, now, data.length, topic)) {
      await this.#roll(topic, file);
      file = undefined;
    }
    if (!file) {
      file = await this.#openNext(topic, now);
      this.#files.set(topic, file);
      if (this.#config.keep > 0) await this.#prune(topic, file);
    }
    const before = file.bytes;
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await file.handle.write(data, written, data.length - written, before + written);
        written += bytesWritten;
      }
      if (this.#config.fsync) await file.handle.datasync();
      file.bytes = before + data.length;
    } catch (error) {
      // Cut the partial batch off so the retry starts on a line boundary; if even that fails,
      // start a new file next time rather than append after half a line.
      try {
        await file.handle.truncate(before);
      } catch {
        this.#files.delete(topic);
        await file.handle.close().catch(() => {});
      }
      throw this.#ioError('cannot write', file.path, error);
    }
  }

  #shouldRoll(file: OpenFile, now: number, incoming: number, topic: string): boolean {
    if (this.#maxBytes > 0 && file.bytes > 0 && file.bytes + incoming > this.#maxBytes) return true;
    if (this.#maxAgeMs > 0 && now - file.openedAt >= this.#maxAgeMs) return true;
    return this.#render(topic, now).base !== file.base;
  }

  async #roll(topic: string, file: OpenFile): Promise<void> {
    this.#files.delete(topic);
    this.#rolled++;
    try {
      await this.#closeFile(file);
    } catch (error) {
      this.#log.warn({ sink: this.#name, file: file.path, err: (error as Error).message }, `sink "${this.#name}": closing ${file.path} failed`);
    }
  }

  async #closeFile(file: OpenFile): Promise<void> {
    try {
      if (this.#config.fsync) await file.handle.sync();
    } finally {
      await file.handle.close();
    }
  }

  #rollIdle(): void {
    const now = this.#now();
    for (const [topic, file] of this.#files) {
      if (this.#closed) return;
      const aged = (this.#maxAgeMs > 0 && now - file.openedAt >= this.#maxAgeMs) || this.#render(topic, now).base !== file.base;
      if (!aged) continue;
      void this.#withLock(topic, async () => {
        if (this.#files.get(topic) === file) await this.#roll(topic, file);
      });
    }
  }

  #render(topic: string, now: number): { dir: string; base: string; stem: string } {
    const iso = new Date(now).toISOString();
    const values: Record<string, string> = { topic, collector: this.#collector, date: iso.slice(0, 10), hour: iso.slice(11, 13) };
    const fill = (s: string) => s.replace(PLACEHOLDER, (_, key: string) => values[key]);
    const dir = fill(this.#pattern.dir);
    const stem = fill(this.#pattern.stem);
    return { dir, stem, base: join(dir, stem + this.#pattern.ext) };
  }

  /** Files of `topic` in its folder: a regex over names, capturing date, hour and the number. */
  #matcher(topic: string): { regex: RegExp; keys: string[] } {
    const keys: string[] = [];
    let source = '';
    let last = 0;
    const stem = this.#pattern.stem;
    for (const m of stem.matchAll(PLACEHOLDER)) {
      source += escapeRegex(stem.slice(last, m.index));
      const key = m[1];
      if (key === 'topic') source += escapeRegex(topic);
      else if (key === 'collector') source += escapeRegex(this.#collector);
      else {
        keys.push(key);
        source += key === 'date' ? '(\\d{4}-\\d{2}-\\d{2})' : '(\\d{2})';
      }
      last = m.index! + m[0].length;
    }
    source += escapeRegex(stem.slice(last)) + '(?:\\.(\\d+))?' + escapeRegex(this.#pattern.ext);
    return { regex: new RegExp(`^${source}$`), keys };
  }

  async #openNext(topic: string, now: number): Promise<OpenFile> {
    const { dir, stem, base } = this.#render(topic, now);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw this.#ioError('cannot create folder', dir, error);
    }
    const taken = new RegExp(`^${escapeRegex(stem)}(?:\\.(\\d+))?${escapeRegex(this.#pattern.ext)}$`);
    let seq = -1;
    try {
      for (const entry of await readdir(dir)) {
        const m = taken.exec(entry);
        if (m) seq = Math.max(seq, m[1] === undefined ? 0 : Number(m[1]));
      }
    } catch (error) {
      throw this.#ioError('cannot list', dir, error);
    }
    for (let attempt = 0; ; attempt++) {
      seq++;
      const path = seq === 0 ? base : join(dir, `${stem}.${seq}${this.#pattern.ext}`);
      let handle: FileHandle;
      try {
        // 'wx': never write into a file that already exists (another process, an earlier run).
        handle = await open(path, 'wx', 0o644);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 100) continue;
        throw this.#ioError('cannot create', path, error);
      }
      if (this.#config.fsync) await syncDir(dir);
      return { path, base, handle, bytes: 0, openedAt: now };
    }
  }

  /** Deletes the oldest files of `topic` so that at most `keep` remain, counting `current`. */
  async #prune(topic: string, current: OpenFile): Promise<void> {
    const dir = dirname(current.path);
    const { regex, keys } = this.#matcher(topic);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    const files: { name: string; sort: string[]; seq: number }[] = [];
    for (const name of entries) {
      if (join(dir, name) === current.path) continue;
      const m = regex.exec(name);
      if (!m) continue;
      files.push({ name, sort: keys.map((_, i) => m[i + 1]), seq: m[keys.length + 1] === undefined ? 0 : Number(m[keys.length + 1]) });
    }
    files.sort((a, b) => {
      for (let i = 0; i < a.sort.length; i++) if (a.sort[i] !== b.sort[i]) return a.sort[i] < b.sort[i] ? -1 : 1;
      return a.seq - b.seq;
    });
    const excess = files.length + 1 - this.#config.keep;
    for (const f of files.slice(0, Math.max(0, excess))) {
      try {
        await unlink(join(dir, f.name));
        this.#deleted++;
      } catch (error) {
        this.#log.warn({ sink: this.#name, file: f.name, err: (error as Error).message }, `sink "${this.#name}": cannot delete old file ${join(dir, f.name)}`);
      }
    }
  }

  #withLock<T>(topic: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(topic) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => {});
    this.#locks.set(topic, settled);
    void settled.then(() => {
      if (this.#locks.get(topic) === settled) this.#locks.delete(topic);
    });
    return next;
  }

  #ioError(what: string, path: string, error: unknown): SluiceError {
    const e = error as NodeJS.ErrnoException;
    const why = e.code === 'ENOSPC' ? 'no space left on device' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'EROFS' ? 'read-only file system' : e.message;
    // File errors are retriable: the events stay in the channel until the disk or the permissions are fixed.
    const target = path ? `${what} ${path}` : what;
    return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${this.#name}": ${target}: ${why}`, { retriable: true, cause: error, where: path || undefined });
  }
}

async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on folders; the file's own fdatasync still holds.
  } finally {
    await handle?.close();
  }
}

/** The folder a pattern writes under, before any placeholder. */
function staticRoot(pattern: string): string {
  const i = pattern.indexOf('{');
  const head = i === -1 ? pattern : pattern.slice(0, i);
  return head.endsWith('/') ? head.slice(0, -1) || '/' : dirname(head);
}

export const fileSink: SinkSpec<typeof FileConfig> = {
  kind: 'sink',
  name: 'file',
  summary: 'Writes NDJSON records to files rolled by size and time, one file per topic',
  config: FileConfig,
  examples: [
    { title: 'Daily files per topic, rolled at 100 MiB', config: { path: './out/{topic}-{date}.ndjson' } },
    { title: 'A folder per topic, hourly files, keep a day', config: { path: '/var/lib/sluice/out/{topic}/{date}-{hour}.ndjson', max_bytes: '1GiB', max_age: '1h', keep: 24 } },
  ],
  create: (config, ctx) => new FileSink(config, { name: ctx.name, log: ctx.log, collectorId: ctx.collectorId }),
  async preflight(config, path) {
    const problem = checkPathPattern(config.path);
    if (problem) return [{ path: `${path}.path`, message: problem }];
    // The folder may not exist yet (the sink creates it): check the nearest one that does.
    let dir = resolve(staticRoot(config.path));
    for (;;) {
      try {
        await access(dir, constants.F_OK);
        break;
      } catch {
        if (dirname(dir) === dir) break;
        dir = dirname(dir);
      }
    }
    const problems: ConfigProblem[] = [];
    try {
      await access(dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push({ path: `${path}.path`, message: `cannot create files under ${dir}: ${code === 'EACCES' ? 'permission denied' : (code ?? (error as Error).message)}` });
    }
    return problems;
  },
};
