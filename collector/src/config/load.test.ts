import { describe, expect, it } from 'vitest';
import type { ConfigProblem } from '../../../shared/src/spec.ts';
import { interceptors } from '../interceptors/index.ts';
import { builtinRegistries } from '../builtins.ts';
import { staleReferenceFiles } from './docs.ts';
import { ConfigError, EMBEDDED_DEFAULTS, loadConfigText, validateInterceptors, validateSink, validateSource } from './load.ts';

const registries = builtinRegistries();
const { sources, sinks } = registries;

async function problemsOf(yaml: string): Promise<ConfigProblem[]> {
  try {
    await loadConfigText(yaml, null, { preflight: false, registries });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

describe('config validation', () => {
  it('accepts the embedded defaults', async () => {
    const config = await loadConfigText(EMBEDDED_DEFAULTS, null, { preflight: false, registries });
    expect(config.sources.map((s) => s.name)).toEqual(['http', 'syslog', 'forward']);
    expect(config.admin.listen).toBe('127.0.0.1:9410');
    expect(config.channel.synchronous).toBe('full');
    expect(Object.isFrozen(config.sources[0].config)).toBe(true);
  });

  it('a sink kind\'s runner defaults apply under the config\'s own batch keys (forward reads 20,000-event batches)', async () => {
    const config = await loadConfigText(
      `
sinks:
  plain:
    type: forward
    servers: [127.0.0.1:24224]
  small:
    type: forward
    servers: [127.0.0.1:24224]
    batch: { max_events: 500 }
  out:
    type: stdout
  hubs:
    type: failover
    sinks:
      a: { type: forward, servers: [127.0.0.1:24224], priority: 2 }
      b: { type: forward, servers: [127.0.0.1:24225], priority: 1 }
  mixed:
    type: failover
    sinks:
      a: { type: forward, servers: [127.0.0.1:24224] }
      b: { type: stdout }
`,
      null,
      { preflight: false, registries },
    );
    const batch = (name: string) => config.sinks.find((s) => s.name === name)!.runner.batch;
    expect(batch('plain')).toMatchObject({ maxEvents: 20_000, maxBytes: 32 * 1024 ** 2 });
    expect(batch('small')).toMatchObject({ maxEvents: 500, maxBytes: 32 * 1024 ** 2 });
    expect(batch('out')).toMatchObject({ maxEvents: 1000, maxBytes: 4 * 1024 ** 2 });
    // a group of forward members reads forward-sized batches; a mixed group keeps the general defaults
    expect(batch('hubs')).toMatchObject({ maxEvents: 20_000, maxBytes: 32 * 1024 ** 2 });
    expect(batch('mixed')).toMatchObject({ maxEvents: 1000, maxBytes: 4 * 1024 ** 2 });
  });

  it('reports every mistake in one pass, in line order, each with its path and line', async () => {
    const problems = await problemsOf(`
channel:
  synchronous: sometimes        # 1: not an allowed value
  max_bytes: lots               # 2: not a size
sources:
  web:
    type: http
    listen: 127.0.0.1:9880
    colour: blue                # 3: unknown key
  logs:
    type: sylsog                # 4: unknown type
sinks:
  out:
    type: stdout
    batch:
      max_events: -5            # 5: out of range
admin:
  listen: 127.0.0.1:99999       # 6: port out of range (after the sources in the file, so last)
`);
    expect(problems.map((p) => `${p.line}: ${p.path}`)).toEqual([
      '3: channel.synchronous',
      '4: channel.max_bytes',
      '9: sources.web.colour',
      '11: sources.logs.type',
      '16: sinks.out.batch.max_events',
      '18: admin.listen',
    ]);
  });

  // Each mistake a user makes, and exactly what they read: plain words, the path, the line.
  const cases: [string, string, string][] = [
    ['a duration', 'channel:\n  retention:\n    max_age: soon\n', 'line 3: channel.retention.max_age: expected a duration such as 30s, 5m or 7d, or null; got "soon"'],
    ['a duration without null', 'sinks:\n  out:\n    type: stdout\n    retry:\n      max: forever\n', 'line 5: sinks.out.retry.max: expected a duration such as 30s, 5m or 7d; got "forever"'],
    ['a size', 'channel:\n  max_bytes: 64 megs\n', 'line 2: channel.max_bytes: expected a size such as 64MiB, 512KiB or 1GiB; got "64 megs"'],
    ['a port beyond 65535', 'admin:\n  listen: 127.0.0.1:99999\n', 'line 2: admin.listen: expected host:port with port 1–65535, such as 127.0.0.1:9880 or [::1]:9880; got "127.0.0.1:99999"'],
    ['a listen address without a port', 'sources:\n  web:\n    type: http\n    listen: localhost\n', 'line 4: sources.web.listen: expected host:port with port 1–65535, such as 127.0.0.1:9880 or [::1]:9880; got "localhost"'],
    ['a server address with port 0', 'sinks:\n  hub:\n    type: forward\n    servers: ["hub:0"]\n', 'line 4: sinks.hub.servers.0: expected host:port with port 1–65535, such as hub.example.com:24224; got "hub:0"'],
    ['an enum', 'log:\n  level: loud\n', 'line 2: log.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent"; got "loud"'],
    ['an enum inside a list', 'sources:\n  s:\n    type: syslog\n    protocols: [udp, sctp]\n', 'line 4: sources.s.protocols.1: expected one of "udp", "tcp"; got "sctp"'],
    ['an unknown key near a known one', 'admin:\n  tokn: abcdefghijklmnopq\n', 'line 2: admin.tokn: unknown key "tokn"; did you mean "token"?'],
    ['an unknown key far from any', 'channel:\n  retention:\n    forever: true\n', 'line 3: channel.retention.forever: unknown key "forever"; known keys: max_age, max_bytes'],
    ['a misspelt section', 'chanel:\n  path: ./data\n', 'line 1: chanel: unknown section "chanel"; did you mean "channel"?'],
    ['a misspelt source type', 'sources:\n  s:\n    type: sylsog\n', `line 3: sources.s.type: unknown source type "sylsog"; did you mean "syslog"? one of: ${sources.names().join(', ')}`],
    ['a free-space guard', 'channel:\n  min_free_space: plenty\n', 'line 2: channel.min_free_space: expected a size such as 512MiB, a share of the filesystem such as 5%, auto, or 0 (off); got "plenty"'],
    ['a topic name', 'sources:\n  web:\n    type: http\n    topic: "bad topic!"\n', 'line 4: sources.web.topic: expected a topic name: 1 to 249 letters, digits, ".", "_" or "-"; got "bad topic!"'],
    ['a URL', 'sinks:\n  up:\n    type: http\n    url: hub.example.com/in\n', 'line 4: sinks.up.url: expected an http:// or https:// URL such as https://hub.example.com:9880/{topic}; got "hub.example.com/in"'],
    ['a number out of range', 'sinks:\n  out:\n    type: stdout\n    batch: { max_events: 0 }\n', 'line 4: sinks.out.batch.max_events: expected a whole number from 1 to 100000; got 0'],
    ['a number that is text', 'channel:\n  commit_window_ms: soon\n', 'line 2: channel.commit_window_ms: expected a whole number from 0 to 1000; got "soon"'],
    ['a short token, never echoed', 'admin:\n  token: hunter2\n', 'line 2: admin.token: too short: at least 16 characters, got 7'],
    ['a missing required key', 'sources:\n  t:\n    type: tail\n', 'line 2: sources.t.paths: missing (required)'],
    ['a glob topic key holding dots', 'channel:\n  topics:\n    "metrics.*":\n      when_full: maybe\n', 'line 4: channel.topics.metrics.*.when_full: expected one of "block", "drop_oldest"; got "maybe"'],
    ['a section that is not a mapping', 'sources: [http]\n', 'line 1: sources: expected a mapping of names to components'],
    ['YAML that does not parse', 'sources:\n  web: [unclosed\n', 'line 3: column 1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  ];
  it.each(cases)('says what is wrong with %s', async (_what, yaml, expected) => {
    const error = await loadConfigText(yaml, 'sluice.yaml', { preflight: false, registries }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`sluice.yaml: 1 problem\n  ${expected}`);
  });

  it('checks ports on the valid parts even when other parts have mistakes: one pass finds all', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const error = await loadConfigText(`log:\n  level: loud\nsources:\n  web:\n    type: http\n    listen: 127.0.0.1:${port}\n`, 'sluice.yaml', { registries, ownedListeners: new Set(['admin']) }).then(
        () => undefined,
        (e: unknown) => e as ConfigError,
      );
      expect(error?.problems).toEqual([
        { path: 'log.level', line: 2, message: expect.stringMatching(/^expected one of /) },
        { path: 'sources.web.listen', line: 6, message: `port ${port} already in use` },
      ]);
    } finally {
      server.close();
    }
  });

  it('TLS files that are readable but wrong are found by the check, not at start', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
    try {
      for (const name of ['a', 'b']) {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      }
      writeFileSync(join(dir, 'junk.pem'), 'not pem\n');
      const tls = (cert: string, key: string) => `admin:\n  listen: 127.0.0.1:0\n  tls:\n    cert: ${join(dir, cert)}\n    key: ${join(dir, key)}\n`;
      const problems = async (yaml: string) => loadConfigText(yaml, null, { registries }).then(() => [], (e: unknown) => (e as ConfigError).problems.map((p) => `${p.line}: ${p.path}: ${p.message}`));
      expect(await problems(tls('a.crt', 'a.key'))).toEqual([]);
      expect(await problems(tls('a.crt', 'b.key'))).toEqual([`5: admin.tls.key: ${join(dir, 'b.key')} is not the private key of the certificate ${join(dir, 'a.crt')}`]);
      expect(await problems(tls('junk.pem', 'junk.pem'))).toEqual([
        `4: admin.tls.cert: ${join(dir, 'junk.pem')} is not a PEM certificate (expected a "-----BEGIN CERTIFICATE-----" block)`,
        `5: admin.tls.key: ${join(dir, 'junk.pem')} is not a PEM private key (expected a "-----BEGIN … PRIVATE KEY-----" block, not encrypted)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a channel folder that cannot be made is found by the check', async () => {
    const problems = async (path: string) =>
      loadConfigText(`channel:\n  path: ${path}\nadmin:\n  listen: 127.0.0.1:0\n`, null, { registries }).then(
        () => [],
        (e: unknown) => (e as ConfigError).problems.map((p) => `${p.line}: ${p.path}: ${p.message}`),
      );
    const file = import.meta.filename;
    expect(await problems(file)).toEqual([`2: channel.path: ${file} is a file, not a folder`]);
    expect(await problems(`${file}/data`)).toEqual([`2: channel.path: cannot create ${file}/data: ${file} is a file, not a folder`]);
  });

  it('a check that fails to run is a problem of what it checks, not a crash', async () => {
    // Preflight binds ports; a port the schema lets through must never escape as an exception.
    const problems = await loadConfigText('admin:\n  listen: 203.0.113.1:9410\n  token: abcdefghijklmnopqrstuvwxyz\n', null, { registries }).then(
      () => [],
      (e: unknown) => [...(e as ConfigError).problems],
    );
    expect(problems).toEqual([{ path: 'admin.listen', line: 2, message: 'address 203.0.113.1 is not an address of this machine' }]);
  });

  it('requires a token when the admin API listens beyond loopback', async () => {
    const problems = await problemsOf('admin:\n  listen: 0.0.0.0:9410\n');
    expect(problems).toContainEqual(expect.objectContaining({ path: 'admin.token', message: expect.stringMatching(/required because admin.listen \(0.0.0.0:9410\) is not a loopback address/) }));
  });

  it('reports a port already in use', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await loadConfigText(`admin:\n  listen: 127.0.0.1:${port}\n`, null, { registries });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems).toContainEqual(expect.objectContaining({ path: 'admin.listen', message: expect.stringMatching(`port ${port} already in use`) }));
    } finally {
      server.close();
    }
  });
});

describe('component specs', () => {
  it('every source, sink and interceptor example validates against its own schema', () => {
    const problems: unknown[] = [];
    for (const spec of sources.all()) for (const ex of spec.examples) validateSource(registries, `ex_${spec.name}`, { type: spec.name, ...ex.config }, problems as never);
    for (const spec of sinks.all()) for (const ex of spec.examples) validateSink(registries, `ex_${spec.name}`, { type: spec.name, ...ex.config }, `sinks.ex_${spec.name}`, problems as never);
    for (const spec of interceptors.all()) for (const ex of spec.examples) problems.push(...validateInterceptors([{ type: spec.name, ...ex.config }], `interceptors.${spec.name}`));
    expect(problems).toEqual([]);
    expect(sources.names().length).toBeGreaterThan(0);
    expect(sinks.names().length).toBeGreaterThan(0);
  });

  it('the generated reference in docs/reference is up to date (run `npm run docs`)', () => {
    expect(staleReferenceFiles(registries)).toEqual([]);
  });
});
