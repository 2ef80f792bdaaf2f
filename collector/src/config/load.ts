/**
 * Loading and validating the collector config: one YAML file with `collector`, `log`, `channel`,
 * `admin`, `sources` and `sinks` sections, sources and sinks keyed by name. Validation comes
 * from the component specs; every problem is reported in one pass with its path (and the YAML
 * line), and the result is frozen. The source and sink types come from the registries the
 * caller passes in (builtins.ts in production): this module imports no component.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { errorMessage, ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { validateChain } from '../interceptors/index.ts';
import type { InterceptorConfig } from '../interceptors/types.ts';
import { deepFreeze, formatProblem, nearest, validateConfig, type ConfigProblem } from '../../../shared/src/spec.ts';
import type { ChannelOptions } from '../channel/channel.ts';
import type { Registries, SinkSpec, SourceSpec } from '../components.ts';
import { checkPortFree, checkTlsFiles, isLoopback, parseListen } from '../net.ts';
import { AdminSection, ChannelSection, CollectorSection, FleetSection, LogSection, SinkRunnerKeys, SinkRunnerSchema, TOP_LEVEL_KEYS, toBytes, toMinFreeSpace, toMs } from './schema.ts';

export interface ResolvedSource {
  name: string;
  type: string;
  spec: SourceSpec;
  config: Record<string, unknown>;
  interceptors: readonly InterceptorConfig[];
}

export interface ResolvedSinkRunner {
  topics: readonly string[];
  batch: { maxEvents: number; maxBytes: number; maxWaitMs: number };
  retry: { initialMs: number; maxMs: number };
  startFrom: 'earliest' | 'latest';
  onRejected: 'park' | 'stop';
}

export interface ResolvedSink {
  name: string;
  type: string;
  spec: SinkSpec;
  config: Record<string, unknown>;
  runner: ResolvedSinkRunner;
}

export interface ResolvedAdmin extends Omit<Static<typeof AdminSection>, 'max_body_bytes'> {
  maxBodyBytes: number;
}

export interface ResolvedFleet {
  report: boolean;
  reportIntervalMs: number;
  staleAfter: number;
}

export interface ResolvedConfig {
  /** The file it came from, if any (interceptor changes are written back there). */
  file: string | null;
  collectorId: string;
  logLevel: string;
  channel: ChannelOptions;
  admin: ResolvedAdmin;
  fleet: ResolvedFleet;
  sources: readonly ResolvedSource[];
  sinks: readonly ResolvedSink[];
  /** The source and sink types this config was resolved with: the runtime builds group members and reloads with them. */
  registries: Registries;
}

/**
 * Every problem of a config, in line order, each with its path and (from a file) its line:
 *
 *     sluice.yaml: 2 problems
 *       line 3: channel.max_bytes: expected a size such as 64MiB, 512KiB or 1GiB (…); got "lots"
 *       line 7: admin.listen: expected host:port with port 1–65535, …; got "127.0.0.1:99999"
 */
export class ConfigError extends SluiceError {
  constructor(readonly problems: readonly ConfigProblem[], where: string) {
    super(ErrorCodes.CONFIG_INVALID, `${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  }
}

/** The embedded defaults (DESIGN §10): everything on 127.0.0.1, channel in ./data. */
export const EMBEDDED_DEFAULTS = `# Sluice embedded defaults: what \`sluice start\` runs without --config.
channel:
  path: ./data
admin:
  listen: 127.0.0.1:9410
sources:
  http:
    type: http
    listen: 127.0.0.1:9880
  syslog:
    type: syslog
    listen: 127.0.0.1:5514
    protocols: [udp, tcp]
  forward:
    type: forward
    listen: 127.0.0.1:24224
`;

const SourceCommon = Type.Object(
  {
    type: Type.String({ description: 'The source type' }),
    interceptors: Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true }), {
      default: [],
      description: 'Interceptor chain run on every event of this source, in order',
    }),
  },
  { additionalProperties: true },
);

export interface LoadOptions {
  /** The source and sink types a config may name (builtinRegistries() in production). */
  registries: Registries;
  /** Skip checks that touch the outside world (ports, files): for tests and `inspect`. */
  preflight?: boolean;
  /** Names of sources whose listen addresses are already ours (a reload): skip their port checks. */
  ownedListeners?: ReadonlySet<string>;
  /**
   * Where ports found in use go: problems (the default: `start` cannot listen there), or warnings
   * handed to this callback, with their lines — `sluice check` on the config of a running
   * collector finds its own ports taken, and checking before a restart is what it is for.
   */
  onPortInUse?: (problem: ConfigProblem) => void;
}

const PORT_IN_USE = / already in use$/;

/** Reads and validates a config file. Throws ConfigError listing every problem. */
export async function loadConfigFile(file: string, options: LoadOptions): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder, not a file' : (error as Error).message;
    throw new ConfigError([{ path: file, message: `cannot read the config file: ${why}${code ? ` (${code})` : ''}` }], file);
  }
  return loadConfigText(text, resolve(file), options);
}

export async function loadConfigText(text: string, file: string | null, options: LoadOptions): Promise<ResolvedConfig> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const where = file ?? 'embedded config';
  if (doc.errors.length > 0) {
    // Not YAML: nothing more can be checked, but every syntax error is reported.
    throw new ConfigError(
      doc.errors.map((e) => ({
        path: `column ${e.linePos?.[0]?.col ?? '?'}`,
        message: `not valid YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
        ...(e.linePos?.[0]?.line === undefined ? {} : { line: e.linePos[0].line }),
      })),
      where,
    );
  }
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  const { config, problems, checked } = validateAll(raw, options.registries);
  // Checks that touch the outside world run on every part that is valid, so one pass finds all.
  if (options.preflight !== false) {
    const found = await preflight(checked, options);
    const warn = options.onPortInUse;
    problems.push(...(warn ? found.filter((p) => !PORT_IN_USE.test(p.message)) : found));
    if (warn) for (const p of inLineOrder(found.filter((f) => PORT_IN_USE.test(f.message)), doc, lineCounter)) warn(p);
  }
  if (problems.length > 0 || !config) throw new ConfigError(inLineOrder(problems, doc, lineCounter), where);
  return freezeConfig({ ...config, file });
}

/** Freezes everything a user configured; the component specs themselves stay as registered. */
function freezeConfig(config: ResolvedConfig): ResolvedConfig {
  deepFreeze(config.channel);
  deepFreeze(config.admin);
  for (const s of config.sources) {
    deepFreeze(s.config);
    deepFreeze(s.interceptors);
    Object.freeze(s);
  }
  for (const s of config.sinks) {
    deepFreeze(s.config);
    deepFreeze(s.runner);
    Object.freeze(s);
  }
  Object.freeze(config.sources);
  Object.freeze(config.sinks);
  return Object.freeze(config);
}

/** Static validation of every section; collects all problems. */
export function validateAll(raw: Record<string, unknown>, registries: Registries): { config?: Omit<ResolvedConfig, 'file'>; problems: ConfigProblem[]; checked: ValidParts } {
  const problems: ConfigProblem[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { problems: [{ path: '(top level)', message: `expected a mapping with the sections ${TOP_LEVEL_KEYS.join(', ')}` }], checked: { sources: [], sinks: [] } };
  }
  for (const key of Object.keys(raw)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) {
      const near = nearest(key, TOP_LEVEL_KEYS);
      problems.push({ path: key, message: `unknown section "${key}"; ${near ? `did you mean "${near}"?` : `known: ${TOP_LEVEL_KEYS.join(', ')}`}` });
    }
  }
  const section = <S extends TSchema>(schema: S, key: string) => {
    const r = validateConfig(schema, raw[key] ?? {}, key);
    problems.push(...r.problems);
    return r.value;
  };
  const collector = section(CollectorSection, 'collector');
  const log = section(LogSection, 'log');
  const channel = section(ChannelSection, 'channel');
  const admin = section(AdminSection, 'admin');
  const fleet = section(FleetSection, 'fleet');
  if (admin && !admin.token && !isLoopback(parseListen(admin.listen).host)) {
    problems.push({ path: 'admin.token', message: `required because admin.listen (${admin.listen}) is not a loopback address` });
  }

  const sources: ResolvedSource[] = [];
  for (const [name, value] of entries(raw.sources, 'sources', problems)) {
    const source = validateSource(registries, name, value, problems);
    if (source) sources.push(source);
  }
  const sinks: ResolvedSink[] = [];
  for (const [name, value] of entries(raw.sinks, 'sinks', problems)) {
    const sink = validateSink(registries, name, value, `sinks.${name}`, problems);
    if (sink) sinks.push(sink);
  }
  checkDuplicateListeners(sources, admin?.listen, problems);

  const checked: ValidParts = { admin, channelPath: channel?.path, sources, sinks };
  if (problems.length > 0 || !collector || !log || !channel || !admin || !fleet) return { problems, checked };
  return {
    problems,
    checked,
    config: {
      collectorId: collector.id ?? hostname(),
      logLevel: log.level,
      channel: {
        file: resolve(channel.path, 'channel.db'),
        synchronous: channel.synchronous,
        maxBytes: toBytes(channel.max_bytes),
        minFreeSpace: toMinFreeSpace(channel.min_free_space),
        commitWindowMs: channel.commit_window_ms,
        defaults: {
          retentionMs: channel.retention.max_age === null ? null : toMs(channel.retention.max_age),
          retentionBytes: channel.retention.max_bytes === null ? null : toBytes(channel.retention.max_bytes),
          whenFull: channel.when_full,
        },
        topics: Object.fromEntries(
          Object.entries(channel.topics).map(([pattern, p]) => [
            pattern,
            {
              ...(p.max_age === undefined ? {} : { retentionMs: p.max_age === null ? null : toMs(p.max_age) }),
              ...(p.max_bytes === undefined ? {} : { retentionBytes: p.max_bytes === null ? null : toBytes(p.max_bytes) }),
              ...(p.when_full === undefined ? {} : { whenFull: p.when_full }),
            },
          ]),
        ),
      },
      admin: { ...withoutKey(admin, 'max_body_bytes'), maxBodyBytes: toBytes(admin.max_body_bytes) },
      fleet: {
        report: fleet.report === 'auto' ? sinks.some((s) => s.spec.name === 'forward') : fleet.report,
        reportIntervalMs: toMs(fleet.report_interval),
        staleAfter: fleet.stale_after,
      },
      sources,
      sinks,
      registries,
    },
  };
}

/** The parts of a config that passed static validation: what preflight can check. */
interface ValidParts {
  admin?: Static<typeof AdminSection>;
  channelPath?: string;
  sources: readonly ResolvedSource[];
  sinks: readonly ResolvedSink[];
}

function withoutKey<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const copy = { ...value };
  delete copy[key];
  return copy;
}

function entries(value: unknown, path: string, problems: ConfigProblem[]): [string, Record<string, unknown>][] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ path, message: 'expected a mapping of names to components' });
    return [];
  }
  const out: [string, Record<string, unknown>][] = [];
  for (const [name, v] of Object.entries(value)) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      problems.push({ path: `${path}.${name}`, message: 'names use letters, digits, _ and - (at most 64)' });
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push({ path: `${path}.${name}`, message: 'expected a mapping with a `type`' });
      continue;
    }
    out.push([name, v as Record<string, unknown>]);
  }
  return out;
}

export function validateSource(registries: Registries, name: string, value: Record<string, unknown>, problems: ConfigProblem[]): ResolvedSource | undefined {
  const sourceRegistry = registries.sources;
  const path = `sources.${name}`;
  const common = validateConfig(SourceCommon, { type: value.type, interceptors: value.interceptors }, path);
  if (typeof value.type !== 'string') {
    problems.push({ path: `${path}.type`, message: `missing; one of: ${sourceRegistry.names().join(', ')}` });
    return undefined;
  }
  problems.push(...common.problems);
  const spec = sourceRegistry.get(value.type);
  if (!spec) {
    problems.push({ path: `${path}.type`, message: unknownType('source', value.type, sourceRegistry.names()) });
    return undefined;
  }
  const { type: _type, interceptors: _interceptors, ...own } = value;
  const r = validateConfig(spec.config, own, path);
  problems.push(...r.problems);
  const chain = (common.value?.interceptors ?? []) as InterceptorConfig[];
  problems.push(...validateInterceptors(chain, `${path}.interceptors`));
  if (!r.value || r.problems.length > 0) return undefined;
  return { name, type: spec.name, spec, config: r.value as Record<string, unknown>, interceptors: chain };
}

function unknownType(kind: string, type: string, known: string[]): string {
  const near = nearest(type, known);
  return `unknown ${kind} type "${type}"; ${near ? `did you mean "${near}"? ` : ''}one of: ${known.join(', ')}`;
}

export function validateInterceptors(chain: readonly InterceptorConfig[], path: string): ConfigProblem[] {
  return validateChain(chain, path);
}

/** Validates a sink, including nested group members (a `sinks:` mapping inside a sink). */
export function validateSink(registries: Registries, name: string, value: Record<string, unknown>, path: string, problems: ConfigProblem[], nested = false): ResolvedSink | undefined {
  const sinkRegistry = registries.sinks;
  if (typeof value.type !== 'string') {
    problems.push({ path: `${path}.type`, message: `missing; one of: ${sinkRegistry.names().join(', ')}` });
    return undefined;
  }
  const spec = sinkRegistry.get(value.type);
  if (!spec) {
    problems.push({ path: `${path}.type`, message: unknownType('sink', value.type, sinkRegistry.names()) });
    return undefined;
  }
  const runnerRaw: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'type') continue;
    if (k in SinkRunnerKeys && !nested) runnerRaw[k] = v;
    else own[k] = v;
  }
  const batchDefaults = spec.runnerDefaults?.batch ?? groupBatchDefaults(registries, own.sinks);
  if (batchDefaults && (runnerRaw.batch === undefined || (typeof runnerRaw.batch === 'object' && runnerRaw.batch !== null && !Array.isArray(runnerRaw.batch)))) {
    runnerRaw.batch = { ...batchDefaults, ...(runnerRaw.batch as Record<string, unknown> | undefined) };
  }
  const runner = validateConfig(SinkRunnerSchema, runnerRaw, path);
  const r = validateConfig(spec.config, own, path);
  problems.push(...runner.problems, ...r.problems);
  // Group members: validated through the registry like top-level sinks, without runner keys.
  const members = own.sinks;
  if (members && typeof members === 'object' && !Array.isArray(members)) {
    for (const [member, memberConfig] of Object.entries(members as Record<string, unknown>)) {
      if (memberConfig && typeof memberConfig === 'object' && !Array.isArray(memberConfig)) {
        const { priority: _p, weight: _w, ...rest } = memberConfig as Record<string, unknown>;
        validateSink(registries, member, rest, `${path}.sinks.${member}`, problems, true);
      }
    }
  }
  if (!r.value || !runner.value || r.problems.length > 0 || runner.problems.length > 0) return undefined;
  const rc = runner.value;
  return {
    name,
    type: spec.name,
    spec,
    config: r.value as Record<string, unknown>,
    runner: {
      topics: rc.topics,
      batch: { maxEvents: rc.batch.max_events, maxBytes: toBytes(rc.batch.max_bytes), maxWaitMs: toMs(rc.batch.max_wait) },
      retry: { initialMs: toMs(rc.retry.initial), maxMs: toMs(rc.retry.max) },
      startFrom: rc.start_from,
      onRejected: rc.on_rejected,
    },
  };
}

function checkDuplicateListeners(sources: ResolvedSource[], adminListen: string | undefined, problems: ConfigProblem[]): void {
  const seen = new Map<string, string>();
  if (adminListen) seen.set(`tcp:${adminListen}`, 'admin.listen');
  for (const s of sources) {
    const listen = s.config.listen;
    if (typeof listen !== 'string') continue;
    const protocols = Array.isArray(s.config.protocols) ? (s.config.protocols as string[]) : ['tcp'];
    for (const proto of protocols) {
      const key = `${proto === 'udp' ? 'udp' : 'tcp'}:${listen}`;
      const other = seen.get(key);
      if (other) problems.push({ path: `sources.${s.name}.listen`, message: `${listen} is also used by ${other}` });
      else seen.set(key, `sources.${s.name}.listen`);
    }
  }
}

/** Checks that touch the outside world: ports free, files readable, component preflights. */
async function preflight(parts: ValidParts, options: LoadOptions): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const tasks: Promise<ConfigProblem[]>[] = [];
  // A check that throws is a problem of the thing it checks, never a crash of `sluice check`.
  const guarded = (path: string, check: () => Promise<ConfigProblem[]>) =>
    tasks.push(
      Promise.resolve()
        .then(check)
        .catch((error: unknown) => [{ path, message: `cannot be checked: ${errorMessage(error)}` }]),
    );
  if (parts.admin) {
    const admin = parts.admin;
    if (!options.ownedListeners?.has('admin')) guarded('admin.listen', () => checkPortFree(parseListen(admin.listen), 'admin.listen'));
    problems.push(...checkTlsFiles(admin.tls, 'admin'));
  }
  if (parts.channelPath !== undefined) problems.push(...checkChannelFolder(parts.channelPath));
  for (const s of parts.sources) {
    if (options.ownedListeners?.has(`source:${s.name}`)) continue;
    const path = `sources.${s.name}`;
    const { preflight: check } = s.spec;
    if (check) guarded(path, () => check(s.config as never, path));
    else if (typeof s.config.listen === 'string') guarded(`${path}.listen`, () => checkPortFree(parseListen(s.config.listen as string), `${path}.listen`));
  }
  for (const s of parts.sinks) {
    const { preflight: check } = s.spec;
    if (check) guarded(`sinks.${s.name}`, () => check(s.config as never, `sinks.${s.name}`));
  }
  for (const r of await Promise.all(tasks)) problems.push(...r);
  return problems;
}

/**
 * The channel folder exists as a folder, or can be made: its nearest existing ancestor is a
 * folder this process may write to. (Opening the database reports anything subtler.)
 */
function checkChannelFolder(path: string): ConfigProblem[] {
  const problem = (message: string) => [{ path: 'channel.path', message }];
  let dir = resolve(path);
  for (;;) {
    let stats;
    try {
      stats = statSync(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return problem(`cannot use ${dir}: ${code ?? errorMessage(error)}`);
      const parent = dirname(dir);
      if (parent === dir) return [];
      dir = parent;
      continue;
    }
    if (!stats.isDirectory()) return problem(dir === resolve(path) ? `${dir} is a file, not a folder` : `cannot create ${resolve(path)}: ${dir} is a file, not a folder`);
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      return problem(dir === resolve(path) ? `no permission to write in ${dir}` : `cannot create ${resolve(path)}: no permission to write in ${dir}`);
    }
    return [];
  }
}

/** Adds the YAML line of each problem's path and sorts them in line order (those without a line last). */
function inLineOrder(problems: ConfigProblem[], doc: Document, lines: LineCounter): ConfigProblem[] {
  const located = problems.map((p, index) => {
    const line = p.line ?? lineOf(p.path, doc, lines);
    return { problem: line === undefined ? p : { ...p, line }, index };
  });
  located.sort((a, b) => (a.problem.line ?? Infinity) - (b.problem.line ?? Infinity) || a.index - b.index);
  return located.map((l) => l.problem);
}

/**
 * The line of the deepest node on a problem's path (`sources.web.interceptors[1].rate`,
 * `channel.topics.metrics.*.max_age`): keys may themselves hold dots, so at each mapping the
 * longest key that the rest of the path starts with wins.
 */
function lineOf(path: string, doc: Document, lines: LineCounter): number | undefined {
  let node: unknown = doc.contents;
  let rest = path;
  let offset: number | undefined;
  while (rest !== '' && node) {
    if (isMap(node)) {
      let match: { key: string; pair: (typeof node.items)[number] } | undefined;
      for (const pair of node.items) {
        const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
        const fits = rest === key || rest.startsWith(`${key}.`) || rest.startsWith(`${key}[`);
        if (fits && (!match || key.length > match.key.length)) match = { key, pair };
      }
      if (!match) break;
      offset = (match.pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? offset;
      rest = rest.slice(match.key.length).replace(/^\./, '');
      node = match.pair.value;
    } else if (isSeq(node)) {
      const m = /^\[?(\d+)\]?\.?/.exec(rest);
      const item = m ? (node.items[Number(m[1])] as { range?: [number, number, number] } | undefined) : undefined;
      if (!m || !item) break;
      offset = item.range?.[0] ?? offset;
      rest = rest.slice(m[0].length);
      node = item;
    } else break;
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

/** A group whose members all bring the same runner batch defaults (e.g. failover between forward hubs) reads batches that size. */
function groupBatchDefaults(registries: Registries, members: unknown): { max_events?: number; max_bytes?: string } | undefined {
  if (!members || typeof members !== 'object' || Array.isArray(members)) return undefined;
  const found = Object.values(members as Record<string, unknown>).map((m) => {
    const type = m && typeof m === 'object' ? (m as { type?: unknown }).type : undefined;
    return typeof type === 'string' ? registries.sinks.get(type)?.runnerDefaults?.batch : undefined;
  });
  if (found.length === 0 || found.some((d) => d === undefined)) return undefined;
  return found.every((d) => JSON.stringify(d) === JSON.stringify(found[0])) ? found[0] : undefined;
}
