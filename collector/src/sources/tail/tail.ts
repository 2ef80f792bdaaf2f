/**
 * The tail source: follows files matched by globs, one event per line (or per multi-line event),
 * body = the line (`text/plain`), header `tail.path`.
 *
 * Positions. Each file is known by its identity `dev:ino` and has one position in the channel's
 * state table, namespace `tail:<source name>`, key `<dev>:<ino>`, value (JSON)
 *   { "path": "/var/log/app.log", "offset": 81920, "headLen": 1024, "head": "<sha1 of the first headLen bytes>", "discarding": false }
 * `offset` is the first byte not yet in a committed event. It is written in the same channel
 * transaction as the events read up to it (`ctx.ingest(events, { state })`), so after a crash
 * the file is read again from exactly there: no line lost, none twice. The key `~run` marks that
 * the source has run before (`read_from` only applies on the first run).
 *
 * Rotation. A file renamed away (logrotate's default) keeps its identity: it is read to its end
 * through the open descriptor, and after `rotate_wait_ms` without growth it is closed and its
 * position deleted; the new file at the path is read from its start. After a restart, a position
 * whose file is no longer matched is looked for by inode in the folder it was in, and finished.
 * Truncation (copytruncate): the file is smaller than the position, or its first bytes changed
 * (`head`). Lines not yet read are then taken from the copy — a file in the same folder that
 * starts with the same bytes — before the truncated file is read from 0.
 */
import { Type, type Static } from '@sinclair/typebox';
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorMessage, isRetriable } from '../../../../shared/src/errors.ts';
import { ContentTypes, TOPIC_PATTERN, type EventDraft, type Headers } from '../../../../shared/src/event.ts';
import type { ConfigProblem } from '../../../../shared/src/spec.ts';
import type { StateWrite } from '../../channel/channel.ts';
import type { Source, SourceContext, SourceSpec } from '../../components.ts';
import { Backoff, sleep } from '../../retry.ts';
import { GlobSet } from './glob.ts';
import { splitEvents } from './split.ts';

const TailConfig = Type.Object(
  {
    paths: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Files to follow: paths or globs (`*`, `**`, `{a,b}`)' }),
    exclude: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Globs of files not to follow (e.g. compressed rotations)' }),
    topic: Type.String({ pattern: TOPIC_PATTERN.source, default: 'logs', description: 'Topic of every event' }),
    read_from: Type.Union([Type.Literal('start'), Type.Literal('end')], {
      default: 'end',
      description: "Where to start files found at the source's first start; files that appear later are always read from their start",
    }),
    multiline: Type.Optional(
      Type.Object(
        {
          start: Type.String({ minLength: 1, description: 'Regex matching the first line of an event; other lines continue the event before them' }),
          timeout_ms: Type.Integer({ minimum: 1, default: 1000, description: 'Emit an unfinished event after the file is quiet this long' }),
        },
        { additionalProperties: false, description: 'Multi-line events (stack traces)' },
      ),
    ),
    max_line_bytes: Type.Integer({ minimum: 16, default: 1024 * 1024, description: 'Longer lines (or multi-line events) are cut to this length' }),
    rotate_wait_ms: Type.Integer({ minimum: 0, default: 5000, description: 'Keep reading a rotated or deleted file until it has not grown for this long' }),
    poll_interval_ms: Type.Integer({ minimum: 10, default: 500, description: 'Check files for growth at least this often (file-system events make it sooner)' }),
    scan_interval_ms: Type.Integer({ minimum: 10, default: 2000, description: 'Expand the globs at least this often, to find new and rotated files' }),
    path_header: Type.String({ default: 'tail.path', description: 'Header holding the file path; empty: none' }),
  },
  { additionalProperties: false },
);

export type TailSourceConfig = Static<typeof TailConfig>;

const MARKER = '~run';
const HEAD_BYTES = 1024;
const READ_BYTES = 256 * 1024;
/** Bytes read across all files per commit; shrunk (down to MIN_READ) while the channel refuses, so space freed in small steps is usable. */
const CYCLE_BYTES = 4 * 1024 * 1024;
const MIN_READ = 16 * 1024;
const MAX_WATCHERS = 512;

/**
 * A copytruncate copy being read. While it is read the live file is not, so it may be truncated
 * again meanwhile (the lines written since are then in the next copy). `liveHead` is the live
 * file's head when the copy was found (or, if it was empty then, when the copy was done): the
 * live file is read again from 0 only after its first bytes are checked against it, and if they
 * changed, the next copy is looked for by it.
 */
interface Recovery {
  fh: FileHandle;
  path: string;
  size: number;
  liveHeadLen: number;
  liveHead: string;
}

interface Position {
  path: string;
  offset: number;
  headLen: number;
  head: string;
  discarding?: boolean;
}

interface TailedFile {
  id: string;
  dev: number;
  ino: number;
  path: string;
  fh: FileHandle;
  offset: number;
  headLen: number;
  head: string;
  discarding: boolean;
  /** Size at the last check, and when it last changed. */
  size: number;
  grewAt: number;
  /** The head must be checked before the next read (after a restart, or when the size changed). */
  verify: boolean;
  /** Not at any matched path any more (renamed away or deleted), since when. */
  rotatedAt: number | null;
  /** Reading the rest of the previous contents from a copytruncate copy. */
  recovery: Recovery | null;
}

/** What one file contributes to a commit; applied to the file once the commit succeeded. */
interface Step {
  file: TailedFile;
  offset: number;
  discarding: boolean;
  headLen: number;
  head: string;
  finished: boolean;
  endRecovery: boolean;
}

export class TailSource implements Source {
  readonly #config: TailSourceConfig;
  readonly #ctx: SourceContext;
  readonly #namespace: string;
  readonly #globs: GlobSet;
  readonly #start: RegExp | null;
  readonly #readCap: number;
  readonly #stop = new AbortController();
  readonly #files = new Map<string, TailedFile>();
  readonly #watchers = new Map<string, FSWatcher>();
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** A file-system event arrived since the last cycle started. */
  #woken = false;
  #rescanWanted = true;
  #lastScan = 0;
  #roundRobin = 0;
  #nextDeadline = Infinity;
  #budget = CYCLE_BYTES;
  /** Start-up state writes the channel refused: committed with the first cycle that gets through. */
  #pendingWrites: StateWrite[] = [];
  readonly #backoff = new Backoff({ initialMs: 50, maxMs: 5000 });
  readonly stats = { rotations: 0, truncations: 0, recovered: 0, truncatedLines: 0, commits: 0 };

  constructor(config: TailSourceConfig, ctx: SourceContext) {
    this.#config = config;
    this.#ctx = ctx;
    this.#namespace = `tail:${ctx.name}`;
    this.#globs = new GlobSet(config.paths, config.exclude);
    this.#start = config.multiline ? new RegExp(config.multiline.start) : null;
    this.#readCap = Math.max(READ_BYTES, config.max_line_bytes + 1);
    ctx.signal.addEventListener('abort', () => this.#stop.abort(), { once: true });
  }

  async start(): Promise<void> {
    await this.#restore();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    for (const f of this.#files.values()) await this.#close(f);
    this.#files.clear();
  }

  endpoints(): string[] {
    return this.#config.paths.map((p) => `file://${p}`);
  }

  /** Files being followed, for tests and diagnostics. */
  files(): { path: string; id: string; offset: number; rotated: boolean }[] {
    return [...this.#files.values()].map((f) => ({ path: f.path, id: f.id, offset: f.offset, rotated: f.rotatedAt !== null }));
  }

  // ─── Start-up: positions from the channel ─────────────────────────────────────────────────

  async #restore(): Promise<void> {
    const stored = new Map<string, Position>();
    let firstRun = true;
    for (const { key, value } of this.#ctx.channel.listState(this.#namespace)) {
      if (key === MARKER) firstRun = false;
      else {
        try {
          stored.set(key, JSON.parse(value) as Position);
        } catch {
          this.#ctx.log.warn({ key }, `source "${this.#ctx.name}": unreadable position for ${key}; reading that file from its start`);
        }
      }
    }
    const writes: StateWrite[] = [];
    const { files, dirs } = await this.#globs.expand();
    this.#watch(dirs);
    for (const m of files) {
      const f = await this.#open(m.path);
      if (!f || this.#files.has(f.id)) {
        if (f) await f.fh.close();
        continue;
      }
      const pos = stored.get(f.id);
      stored.delete(f.id);
      if (pos) this.#resume(f, pos);
      else if (firstRun && this.#config.read_from === 'end') {
        f.offset = f.size;
        await this.#updateHead(f, f.size);
        writes.push(this.#positionWrite(f, f.offset, false, f.headLen, f.head));
      }
      this.#files.set(f.id, f);
    }
    // Positions of files no longer matched: rotated away while we were down? Finish them.
    for (const [id, pos] of stored) {
      const path = await findByIdentity(dirname(pos.path), id);
      const f = path ? await this.#open(path) : null;
      if (f && f.id === id) {
        this.#resume(f, pos);
        f.path = pos.path;
        f.rotatedAt = Date.now();
        this.#files.set(id, f);
      } else {
        if (f) await f.fh.close();
        writes.push({ namespace: this.#namespace, key: id, value: null });
      }
    }
    if (firstRun) writes.push({ namespace: this.#namespace, key: MARKER, value: JSON.stringify({ since: new Date().toISOString() }) });
    this.#lastScan = Date.now();
    this.#rescanWanted = false;
    if (writes.length > 0) {
      try {
        await this.#ctx.ingest([], { state: writes });
      } catch (error) {
        // Don't hold up start-up on a full channel: the loop commits these before anything else.
        this.#pendingWrites = writes;
        this.#ctx.log.warn({ err: errorMessage(error) }, `source "${this.#ctx.name}": cannot store file positions yet (${errorMessage(error)}); retrying`);
      }
    }
    this.#ctx.log.info({ files: this.#files.size }, `source "${this.#ctx.name}": following ${this.#files.size} file(s)`);
  }

  #resume(f: TailedFile, pos: Position): void {
    f.offset = pos.offset;
    f.headLen = pos.headLen;
    f.head = pos.head;
    f.discarding = pos.discarding ?? false;
    f.verify = true;
  }

  // ─── The loop ─────────────────────────────────────────────────────────────────────────────

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let progressed = false;
      try {
        progressed = await this.#cycle();
      } catch (error) {
        if (signal.aborted) break;
        this.#ctx.log.error({ err: errorMessage(error) }, `source "${this.#ctx.name}": ${errorMessage(error)}`);
        await sleep(this.#config.poll_interval_ms, signal);
      }
      if (!progressed && !signal.aborted) await this.#idle();
    }
  }

  #idle(): Promise<void> {
    if (this.#woken) return Promise.resolve();
    const wait = Math.max(5, Math.min(this.#config.poll_interval_ms, this.#nextDeadline - Date.now()));
    return new Promise((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  /** One pass: find files, read what is new from each, commit events and positions together. */
  async #cycle(): Promise<boolean> {
    const now = Date.now();
    this.#woken = false;
    if (this.#rescanWanted || now - this.#lastScan >= this.#config.scan_interval_ms) await this.#rescan();
    this.#nextDeadline = Infinity;
    const files = [...this.#files.values()];
    const events: EventDraft[] = [];
    const steps: Step[] = [];
    let bytes = 0;
    const first = this.#roundRobin++ % Math.max(1, files.length);
    for (let k = 0; k < files.length && bytes < this.#budget; k++) {
      const f = files[(first + k) % files.length];
      const step = await this.#read(f, events, now, this.#budget - bytes);
      if (step) {
        steps.push(step);
        bytes += Math.max(0, step.offset - f.offset);
      }
    }
    if (steps.length === 0 && this.#pendingWrites.length === 0) return false;
    const state = [
      ...this.#pendingWrites,
      ...steps.map((s) =>
        s.finished ? { namespace: this.#namespace, key: s.file.id, value: null } : this.#positionWrite(s.file, s.offset, s.discarding, s.headLen, s.head),
      ),
    ];
    try {
      await this.#ctx.ingest(events, { state });
    } catch (error) {
      // Nothing was stored: positions stay, the next cycle reads the same bytes again, in smaller bites
      // (a full channel frees space a batch at a time; a tiny channel may refuse a large append outright).
      this.#budget = Math.max(MIN_READ, this.#budget >> 2);
      const delay = this.#backoff.next();
      this.#logRefusal(error, events.length, delay);
      await sleep(delay, this.#stop.signal);
      return true;
    }
    this.#backoff.reset();
    this.#pendingWrites = [];
    this.#budget = Math.min(CYCLE_BYTES, this.#budget * 2);
    this.stats.commits++;
    let progressed = false;
    for (const s of steps) {
      const f = s.file;
      if (s.offset !== f.offset || s.endRecovery || s.finished) progressed = true;
      f.offset = s.offset;
      f.discarding = s.discarding;
      f.headLen = s.headLen;
      f.head = s.head;
      if (s.endRecovery) await this.#endRecovery(f);
      if (s.finished) {
        this.#files.delete(f.id);
        await this.#close(f);
        this.#ctx.log.debug({ path: f.path, id: f.id }, 'finished a rotated file');
      }
    }
    return progressed;
  }

  /** Reads what is new in one file; returns the step to commit, or null when nothing changed. */
  async #read(f: TailedFile, events: EventDraft[], now: number, room: number): Promise<Step | null> {
    if (f.recovery) return this.#readRecovery(f, events, now, room);
    const st = await f.fh.stat();
    if (st.size !== f.size) {
      if (st.size > f.size) f.grewAt = now;
      f.size = st.size;
      f.verify = true;
    }
    if (st.size < f.offset || (f.verify && !(await this.#headMatches(f.fh, f.headLen, f.head)))) {
      return this.#truncated(f, events, now, room);
    }
    f.verify = false;
    const quietSince = Math.max(f.grewAt, f.rotatedAt ?? 0);
    const rotatedDone = f.rotatedAt !== null && now - quietSince >= this.#config.rotate_wait_ms;
    if (st.size === f.offset) {
      if (rotatedDone) {
        return { file: f, offset: f.offset, discarding: false, headLen: f.headLen, head: f.head, finished: true, endRecovery: false };
      }
      if (f.rotatedAt !== null) this.#deadline(quietSince + this.#config.rotate_wait_ms);
      return null;
    }
    const multilineDue = this.#start !== null && now - f.grewAt >= this.#config.multiline!.timeout_ms;
    let want = Math.min(st.size - f.offset, this.#readCap, Math.max(MIN_READ, room));
    let buf: Buffer;
    let atEnd: boolean;
    let r: ReturnType<typeof splitEvents>;
    for (;;) {
      buf = await readAt(f.fh, f.offset, want);
      if (buf.length < want) {
        // Shorter than the stat said: truncated since (copytruncate). Check it again next cycle, at once;
        // reading on would take bytes of the new contents at the old offset, or retry the short read forever.
        return this.#recheck(f);
      }
      atEnd = f.offset + buf.length >= st.size;
      const flush = atEnd && rotatedDone ? 'all' : atEnd && multilineDue ? 'events' : 'none';
      r = splitEvents(buf, { start: this.#start, maxBytes: this.#config.max_line_bytes, discarding: f.discarding, flush });
      // A line longer than the room: read as much as a line may be long, so the file always moves on.
      if (r.consumed > 0 || atEnd || want >= this.#readCap) break;
      want = Math.min(st.size - f.offset, this.#readCap);
    }
    const offset = f.offset + r.consumed;
    if (offset < st.size) {
      // Something is held back (partial line, event being built): come back when it may be flushed.
      if (this.#start) this.#deadline(f.grewAt + this.#config.multiline!.timeout_ms);
      if (f.rotatedAt !== null) this.#deadline(quietSince + this.#config.rotate_wait_ms);
    }
    if (r.consumed === 0 && r.discarding === f.discarding) return null;
    let { headLen, head } = f;
    if (headLen < HEAD_BYTES && offset > headLen) {
      const longer = await headOf(f.fh, Math.min(HEAD_BYTES, offset), f.offset === 0 ? buf : null);
      // Read again from the file: if it no longer starts with the head we had, it was truncated after
      // the lines above were read; those are in the copy, so leave them to the truncation path.
      if (headLen > 0 && (longer.buf.length < headLen || hash(longer.buf.subarray(0, headLen)) !== head)) return this.#recheck(f);
      ({ headLen, head } = longer);
    }
    this.stats.truncatedLines += r.truncated;
    this.#push(events, f, r.bodies, now);
    const finished = rotatedDone && offset >= st.size && !r.discarding;
    return { file: f, offset, discarding: r.discarding, headLen, head, finished, endRecovery: false };
  }

  /** The file shrank or its first bytes changed: copytruncate (or a new file on a reused inode). */
  async #truncated(f: TailedFile, events: EventDraft[], now: number, room: number): Promise<Step | null> {
    this.stats.truncations++;
    // headLen > 0 at offset 0: truncated again while a copy was read (see Recovery); all of the next copy is unread.
    const copy = f.headLen > 0 ? await this.#findCopy(f) : null;
    if (copy) {
      ({ headLen: copy.liveHeadLen, head: copy.liveHead } = await headOf(f.fh, HEAD_BYTES, null));
      f.recovery = copy;
      this.stats.recovered++;
      this.#ctx.log.info({ path: f.path, copy: copy.path }, `source "${this.#ctx.name}": ${f.path} was truncated; reading its unread lines from ${copy.path}`);
      return this.#readRecovery(f, events, now, room);
    }
    if (f.offset > 0 || f.headLen > 0) {
      this.#ctx.log.warn({ path: f.path, offset: f.offset }, `source "${this.#ctx.name}": ${f.path} was truncated; reading it again from the start (lines written between our last read and the truncation, if any, were not found in a copy)`);
    }
    f.verify = false;
    return { file: f, offset: 0, discarding: false, headLen: 0, head: '', finished: false, endRecovery: false };
  }

  async #readRecovery(f: TailedFile, events: EventDraft[], now: number, room: number): Promise<Step | null> {
    const copy = f.recovery!;
    // Whole lines up to the line-length cap, so each read moves on.
    const want = Math.min(copy.size - f.offset, Math.max(room, this.#readCap));
    const buf = want > 0 ? await readAt(copy.fh, f.offset, want) : Buffer.alloc(0);
    const atEnd = f.offset + buf.length >= copy.size;
    if (atEnd && copy.liveHeadLen === 0) ({ headLen: copy.liveHeadLen, head: copy.liveHead } = await headOf(f.fh, HEAD_BYTES, null));
    const r = splitEvents(buf, { start: this.#start, maxBytes: this.#config.max_line_bytes, discarding: f.discarding, flush: atEnd ? 'all' : 'none' });
    this.#push(events, f, r.bodies, now);
    const offset = f.offset + r.consumed;
    // Then the live file from its start, once its first bytes are checked against its head when the copy was found.
    if (atEnd) return { file: f, offset: 0, discarding: false, headLen: copy.liveHeadLen, head: copy.liveHead, finished: false, endRecovery: true };
    return { file: f, offset, discarding: r.discarding, headLen: f.headLen, head: f.head, finished: false, endRecovery: false };
  }

  async #endRecovery(f: TailedFile): Promise<void> {
    const copy = f.recovery;
    f.recovery = null;
    f.verify = true;
    f.size = 0;
    await copy?.fh.close().catch(() => {});
  }

  /** A file in the same folder, other than f, at least as long as f's position and starting with f's head. */
  async #findCopy(f: TailedFile): Promise<TailedFile['recovery']> {
    const dir = dirname(f.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return null;
    }
    const candidates: { path: string; mtime: number }[] = [];
    for (const name of names) {
      const path = join(dir, name);
      try {
        const s = await stat(path);
        if (s.isFile() && `${s.dev}:${s.ino}` !== f.id && s.size >= f.offset) candidates.push({ path, mtime: s.mtimeMs });
      } catch {
        // gone meanwhile
      }
    }
    candidates.sort((a, b) => b.mtime - a.mtime);
    for (const c of candidates.slice(0, 64)) {
      let fh: FileHandle | null = null;
      try {
        fh = await open(c.path, 'r');
        if (await this.#headMatches(fh, f.headLen, f.head)) return { fh, path: c.path, size: (await fh.stat()).size, liveHeadLen: 0, liveHead: '' };
      } catch {
        // unreadable: not our copy
      }
      await fh?.close().catch(() => {});
    }
    return null;
  }

  #push(events: EventDraft[], f: TailedFile, bodies: Buffer[], ts: number): void {
    if (bodies.length === 0) return;
    const headers: Headers = { 'content-type': ContentTypes.text };
    if (this.#config.path_header) headers[this.#config.path_header] = f.path;
    const topic = this.#config.topic;
    for (const body of bodies) events.push({ topic, ts, key: null, headers, body });
  }

  /** The file changed while it was read: nothing from this read is used; its head is checked next cycle, soon. */
  #recheck(f: TailedFile): null {
    f.verify = true;
    this.#deadline(Date.now());
    return null;
  }

  #deadline(at: number): void {
    if (at < this.#nextDeadline) this.#nextDeadline = at;
  }

  // ─── Finding files ────────────────────────────────────────────────────────────────────────

  async #rescan(): Promise<void> {
    this.#rescanWanted = false;
    this.#lastScan = Date.now();
    const { files, dirs } = await this.#globs.expand();
    this.#watch(dirs);
    const seen = new Set<string>();
    for (const m of files) {
      const id = `${m.stats.dev}:${m.stats.ino}`;
      const known = this.#files.get(id);
      if (known) {
        seen.add(id);
        known.path = m.path;
        known.rotatedAt = null;
        continue;
      }
      const f = await this.#open(m.path);
      if (!f) continue;
      if (this.#files.has(f.id)) {
        await f.fh.close();
        seen.add(f.id);
        continue;
      }
      seen.add(f.id);
      this.#files.set(f.id, f); // found while running: read from its start
    }
    for (const f of this.#files.values()) {
      if (!seen.has(f.id) && f.rotatedAt === null) {
        f.rotatedAt = Date.now();
        this.stats.rotations++;
      }
    }
  }

  async #open(path: string): Promise<TailedFile | null> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (error) {
      this.#ctx.log.warn({ path, err: errorMessage(error) }, `source "${this.#ctx.name}": cannot open ${path}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
      return null;
    }
    const st = await fh.stat();
    return {
      id: `${st.dev}:${st.ino}`,
      dev: st.dev,
      ino: st.ino,
      path,
      fh,
      offset: 0,
      headLen: 0,
      head: '',
      discarding: false,
      size: st.size,
      grewAt: Date.now(),
      verify: false,
      rotatedAt: null,
      recovery: null,
    };
  }

  async #close(f: TailedFile): Promise<void> {
    await f.fh.close().catch(() => {});
    await f.recovery?.fh.close().catch(() => {});
  }

  #watch(dirs: string[]): void {
    for (const dir of dirs) {
      if (this.#watchers.has(dir) || this.#watchers.size >= MAX_WATCHERS) continue;
      try {
        const w = watch(dir, { persistent: false }, (event) => {
          if (event === 'rename') this.#rescanWanted = true;
          this.#woken = true;
          this.#wake?.();
        });
        w.on('error', () => {
          w.close();
          this.#watchers.delete(dir);
        });
        this.#watchers.set(dir, w);
      } catch {
        // no file-system events here: polling covers it
      }
    }
  }

  // ─── Committing ───────────────────────────────────────────────────────────────────────────

  #positionWrite(f: TailedFile, offset: number, discarding: boolean, headLen: number, head: string): StateWrite {
    const pos: Position = { path: f.path, offset, headLen, head, ...(discarding ? { discarding } : {}) };
    return { namespace: this.#namespace, key: f.id, value: JSON.stringify(pos) };
  }

  #logRefusal(error: unknown, lines: number, delay: number): void {
    const attempt = this.#backoff.attempt;
    if (attempt !== 1 && attempt % 20 !== 0) return;
    const level = isRetriable(error) ? 'warn' : 'error';
    this.#ctx.log[level]({ err: errorMessage(error), attempt }, `source "${this.#ctx.name}": cannot store ${lines} line(s): ${errorMessage(error)}; pausing, retrying in ${delay} ms (attempt ${attempt})`);
  }

  async #headMatches(fh: FileHandle, headLen: number, head: string): Promise<boolean> {
    if (headLen === 0) return true;
    const buf = await readAt(fh, 0, headLen);
    return buf.length === headLen && hash(buf) === head;
  }

  async #updateHead(f: TailedFile, upTo: number): Promise<void> {
    ({ headLen: f.headLen, head: f.head } = await headOf(f.fh, Math.min(HEAD_BYTES, upTo), null));
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** The hash of the first `len` bytes (fewer if the file is shorter), from `fromStart` when it holds them. */
async function headOf(fh: FileHandle, len: number, fromStart: Buffer | null): Promise<{ headLen: number; head: string; buf: Buffer }> {
  const buf = fromStart && fromStart.length >= len ? fromStart.subarray(0, len) : await readAt(fh, 0, len);
  return { headLen: buf.length, head: hash(buf), buf };
}

function hash(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}

/** The path of the file with identity `id` (`dev:ino`) directly in `dir`, if any. */
async function findByIdentity(dir: string, id: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  for (const name of names) {
    try {
      const s = await stat(join(dir, name));
      if (`${s.dev}:${s.ino}` === id) return join(dir, name);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

async function preflight(config: TailSourceConfig, path: string): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  if (config.multiline) {
    try {
      new RegExp(config.multiline.start);
    } catch (error) {
      problems.push({ path: `${path}.multiline.start`, message: `invalid regular expression: ${errorMessage(error)}` });
    }
  }
  const { files } = await new GlobSet(config.paths, config.exclude).expand();
  for (const m of files) {
    try {
      const fh = await open(m.path, 'r');
      await fh.close();
    } catch (error) {
      problems.push({ path: `${path}.paths`, message: `cannot read ${m.path}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}` });
    }
  }
  return problems;
}

export const tailSource: SourceSpec<typeof TailConfig> = {
  kind: 'source',
  name: 'tail',
  summary: 'Follows files by glob across rotation and truncation; positions commit atomically with the lines',
  config: TailConfig,
  examples: [
    { title: 'Application logs, from the end on first start', config: { paths: ['/var/log/app/*.log'], topic: 'app' } },
    {
      title: 'Java logs with stack traces as one event each',
      config: { paths: ['/opt/app/logs/**/*.log'], exclude: ['**/*.gz'], topic: 'java', read_from: 'start', multiline: { start: '^\\d{4}-\\d{2}-\\d{2}', timeout_ms: 2000 } },
    },
  ],
  create: (config, ctx) => {
    if (config.multiline) new RegExp(config.multiline.start); // a bad pattern fails at start, with the config path below
    return new TailSource(config, ctx);
  },
  preflight,
};
