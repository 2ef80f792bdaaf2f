/**
 * Loading and validating the collector config: one YAML file with `collector`, `log`, `channel`,
 * `admin`, `sources` and `sinks` sections, sources and sinks keyed by name. Validation comes
 * from the component specs; every problem is reported in one pass with its path (and the YAML
 * line), and the result is frozen.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { validateChain } from '../../../shared/src/interceptors/index.ts';
import type { InterceptorConfig } from '../../../shared/src/interceptors/types.ts';
import { deepFreeze, validateConfig, type ConfigProblem } from '../../../shared/src/spec.ts';
import type { ChannelOptions } from '../channel/channel.ts';
import { sinks as sinkRegistry, sources as sourceRegistry, type SinkSpec, type SourceSpec } from '../components.ts';
import { checkPortFree, checkTlsFiles, isLoopback, parseListen } from '../net.ts';
import '../sinks/index.ts';
import '../sources/index.ts';
import { AdminSection, ChannelSection, CollectorSection, LogSection, SinkRunnerKeys, SinkRunnerSchema, TOP_LEVEL_KEYS, toBytes, toMinFreeSpace, toMs } from './schema.ts';

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

export interface ResolvedConfig {
  /** The file it came from, if any (interceptor changes are written back there). */
  file: string | null;
  collectorId: string;
  logLevel: string;
  channel: ChannelOptions;
  admin: ResolvedAdmin;
  sources: readonly ResolvedSource[];
  sinks: readonly ResolvedSink[];
}

export class ConfigError extends SluiceError {
  constructor(readonly problems: readonly ConfigProblem[], where: string) {
    super(ErrorCodes.CONFIG_INVALID, `${where}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
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
  /** Skip checks that touch the outside world (ports, files): for tests and `inspect`. */
  preflight?: boolean;
  /** Names of sources whose listen addresses are already ours (a reload): skip their port checks. */
  ownedListeners?: ReadonlySet<string>;
}

/** Reads and validates a config file. Throws ConfigError listing every problem. */
export async function loadConfigFile(file: string, options: LoadOptions = {}): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: file, message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }], file);
  }
  return loadConfigText(text, resolve(file), options);
}

export async function loadConfigText(text: string, file: string | null, options: LoadOptions = {}): Promise<ResolvedConfig> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const where = file ?? 'embedded config';
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}`, message: e.message.split('\n')[0] })),
      where,
    );
  }
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  const { config, problems } = validateAll(raw);
  if (options.preflight !== false && config) problems.push(...(await preflight(config, options)));
  if (problems.length > 0 || !config) throw new ConfigError(withLines(problems, doc, lineCounter), where);
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
export function validateAll(raw: Record<string, unknown>): { config?: Omit<ResolvedConfig, 'file'>; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { problems: [{ path: '(top level)', message: 'expected a mapping with sources, sinks, channel, admin' }] };
  }
  for (const key of Object.keys(raw)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) problems.push({ path: key, message: `unknown section (known: ${TOP_LEVEL_KEYS.join(', ')})` });
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
  if (admin && !isLoopback(parseListen(admin.listen).host) && !admin.token) {
    problems.push({ path: 'admin.token', message: `required because admin.listen (${admin.listen}) is not a loopback address` });
  }

  const sources: ResolvedSource[] = [];
  for (const [name, value] of entries(raw.sources, 'sources', problems)) {
    const source = validateSource(name, value, problems);
    if (source) sources.push(source);
  }
  const sinks: ResolvedSink[] = [];
  for (const [name, value] of entries(raw.sinks, 'sinks', problems)) {
    const sink = validateSink(name, value, `sinks.${name}`, problems);
    if (sink) sinks.push(sink);
  }
  checkDuplicateListeners(sources, admin?.listen, problems);

  if (problems.length > 0 || !collector || !log || !channel || !admin) return { problems };
  return {
    problems,
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
      sources,
      sinks,
    },
  };
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

export function validateSource(name: string, value: Record<string, unknown>, problems: ConfigProblem[]): ResolvedSource | undefined {
  const path = `sources.${name}`;
  const common = validateConfig(SourceCommon, { type: value.type, interceptors: value.interceptors }, path);
  if (typeof value.type !== 'string') {
    problems.push({ path: `${path}.type`, message: `missing; one of: ${sourceRegistry.names().join(', ')}` });
    return undefined;
  }
  problems.push(...common.problems);
  const spec = sourceRegistry.get(value.type);
  if (!spec) {
    problems.push({ path: `${path}.type`, message: `unknown source type "${value.type}"; one of: ${sourceRegistry.names().join(', ')}` });
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

export function validateInterceptors(chain: readonly InterceptorConfig[], path: string): ConfigProblem[] {
  return validateChain(chain, path);
}

/** Validates a sink, including nested group members (a `sinks:` mapping inside a sink). */
export function validateSink(name: string, value: Record<string, unknown>, path: string, problems: ConfigProblem[], nested = false): ResolvedSink | undefined {
  if (typeof value.type !== 'string') {
    problems.push({ path: `${path}.type`, message: `missing; one of: ${sinkRegistry.names().join(', ')}` });
    return undefined;
  }
  const spec = sinkRegistry.get(value.type);
  if (!spec) {
    problems.push({ path: `${path}.type`, message: `unknown sink type "${value.type}"; one of: ${sinkRegistry.names().join(', ')}` });
    return undefined;
  }
  const runnerRaw: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'type') continue;
    if (k in SinkRunnerKeys && !nested) runnerRaw[k] = v;
    else own[k] = v;
  }
  const batchDefaults = spec.runnerDefaults?.batch;
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
        validateSink(member, rest, `${path}.sinks.${member}`, problems, true);
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
async function preflight(config: Omit<ResolvedConfig, 'file'>, options: LoadOptions): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const tasks: Promise<ConfigProblem[]>[] = [];
  if (!options.ownedListeners?.has('admin')) tasks.push(checkPortFree(parseListen(config.admin.listen), 'admin.listen'));
  problems.push(...checkTlsFiles(config.admin.tls, 'admin'));
  for (const s of config.sources) {
    if (options.ownedListeners?.has(`source:${s.name}`)) continue;
    if (s.spec.preflight) tasks.push(s.spec.preflight(s.config as never, `sources.${s.name}`));
    else if (typeof s.config.listen === 'string') tasks.push(checkPortFree(parseListen(s.config.listen), `sources.${s.name}.listen`));
  }
  for (const s of config.sinks) if (s.spec.preflight) tasks.push(s.spec.preflight(s.config as never, `sinks.${s.name}`));
  for (const r of await Promise.all(tasks)) problems.push(...r);
  return problems;
}

/** Adds the YAML line of each problem's path where it can be found. */
function withLines(problems: ConfigProblem[], doc: Document, lines: LineCounter): ConfigProblem[] {
  return problems.map((p) => {
    const keys = p.path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    for (let n = keys.length; n > 0; n--) {
      const node = doc.getIn(keys.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      const parent = n > 1 ? doc.getIn(keys.slice(0, n - 1), true) : doc.contents;
      let offset = node?.range?.[0];
      if (offset === undefined && isMap(parent)) {
        const pair = parent.items.find((it) => (it.key as { value?: unknown })?.value === keys[n - 1]);
        offset = (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
      }
      if (offset !== undefined) return { ...p, message: `${p.message} (line ${lines.linePos(offset).line})` };
    }
    return p;
  });
}
