import { describe, expect, it } from 'vitest';
import { interceptors } from '../../../shared/src/interceptors/index.ts';
import { sinks, sources } from '../components.ts';
import { staleReferenceFiles } from './docs.ts';
import { ConfigError, EMBEDDED_DEFAULTS, loadConfigText, validateInterceptors, validateSink, validateSource } from './load.ts';

async function problemsOf(yaml: string): Promise<{ path: string; message: string }[]> {
  try {
    await loadConfigText(yaml, null, { preflight: false });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

describe('config validation', () => {
  it('accepts the embedded defaults', async () => {
    const config = await loadConfigText(EMBEDDED_DEFAULTS, null, { preflight: false });
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
`,
      null,
      { preflight: false },
    );
    const batch = (name: string) => config.sinks.find((s) => s.name === name)!.runner.batch;
    expect(batch('plain')).toMatchObject({ maxEvents: 20_000, maxBytes: 32 * 1024 ** 2 });
    expect(batch('small')).toMatchObject({ maxEvents: 500, maxBytes: 32 * 1024 ** 2 });
    expect(batch('out')).toMatchObject({ maxEvents: 1000, maxBytes: 4 * 1024 ** 2 });
  });

  it('reports five different mistakes in one pass, each with its path and line', async () => {
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
`);
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['channel.synchronous', 'channel.max_bytes', 'sources.web.colour', 'sources.logs.type', 'sinks.out.batch.max_events']));
    expect(problems.find((p) => p.path === 'sources.web.colour')?.message).toMatch(/unknown key \(line 9\)/);
    expect(problems.find((p) => p.path === 'sources.logs.type')?.message).toMatch(/unknown source type "sylsog"; one of: .*syslog/);
  });

  it('requires a token when the admin API listens beyond loopback', async () => {
    const problems = await problemsOf('admin:\n  listen: 0.0.0.0:9410\n');
    expect(problems).toContainEqual(expect.objectContaining({ path: 'admin.token', message: expect.stringMatching(/required because admin.listen \(0.0.0.0:9410\) is not a loopback address/) }));
  });

  it('reports YAML syntax errors with their line', async () => {
    const problems = await problemsOf('sources:\n  web: [unclosed\n');
    expect(problems[0].path).toMatch(/^line \d+:\d+$/);
  });

  it('reports a port already in use', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await loadConfigText(`admin:\n  listen: 127.0.0.1:${port}\n`, null);
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
    for (const spec of sources.all()) for (const ex of spec.examples) validateSource(`ex_${spec.name}`, { type: spec.name, ...ex.config }, problems as never);
    for (const spec of sinks.all()) for (const ex of spec.examples) validateSink(`ex_${spec.name}`, { type: spec.name, ...ex.config }, `sinks.ex_${spec.name}`, problems as never);
    for (const spec of interceptors.all()) for (const ex of spec.examples) problems.push(...validateInterceptors([{ type: spec.name, ...ex.config }], `interceptors.${spec.name}`));
    expect(problems).toEqual([]);
    expect(sources.names().length).toBeGreaterThan(0);
    expect(sinks.names().length).toBeGreaterThan(0);
  });

  it('the generated reference in docs/reference is up to date (run `npm run docs`)', () => {
    expect(staleReferenceFiles()).toEqual([]);
  });
});
