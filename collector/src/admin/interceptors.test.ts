/**
 * Interceptor chains through the admin API: read, validate, preview on sampled events, apply
 * live with the YAML written back (comments kept); and the component catalogue.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { PreviewResponse } from '../../../shared/src/api/interceptors.ts';
import { fromUtf8, makeEvent } from '../../../shared/src/event.ts';
import { readAll } from '../sources/testing.ts';
import { adminFixture, type AdminFixture } from './testing.ts';

const fixtures: AdminFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

async function fixture(): Promise<AdminFixture> {
  const f = await adminFixture({
    yaml: ['sources:', '  # where the tests push events', '  mem:', '    type: memory # the test source', '    interceptors:', '      - type: static # tag everything', '        header: stage', '        value: one', ''].join('\n'),
  });
  fixtures.push(f);
  return f;
}

const NEW_CHAIN = [
  { type: 'regex_filter', pattern: 'health', exclude: true },
  { type: 'static', header: 'stage', value: 'two', preserve_existing: false },
];

describe('interceptor chains', () => {
  it('reads the chain with its version', async () => {
    const f = await fixture();
    const r = await f.app.inject({ url: '/api/v1/sources/mem/interceptors' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ source: 'mem', type: 'memory', chainVersion: 1, interceptors: [{ type: 'static', header: 'stage', value: 'one' }] });
    expect((await f.app.inject({ url: '/api/v1/sources/nope/interceptors' })).statusCode).toBe(404);
  });

  it('validates with the config schemas: every problem with its path', async () => {
    const f = await fixture();
    const ok = await f.app.inject({ method: 'POST', url: '/api/v1/sources/mem/interceptors/validate', payload: { interceptors: NEW_CHAIN } });
    expect(ok.json()).toEqual({ valid: true, problems: [] });
    const bad = await f.app.inject({
      method: 'POST',
      url: '/api/v1/sources/mem/interceptors/validate',
      payload: { interceptors: [{ type: 'regex_filter', pattern: '(' }, { type: 'nope' }, { type: 'static', header: 'x', value: 'y', bogus: 1 }] },
    });
    expect(bad.statusCode).toBe(200);
    const { valid, problems } = bad.json();
    expect(valid).toBe(false);
    const paths = problems.map((p: { path: string }) => p.path);
    expect(paths).toContain('sources.mem.interceptors[0].pattern');
    expect(paths).toContain('sources.mem.interceptors[1].type');
    expect(paths).toContain('sources.mem.interceptors[2].bogus');
  });

  it('previews a proposed chain on the newest events of a topic: before, after, and which step dropped each', async () => {
    const f = await fixture();
    await f.ingest(['GET /health', 'GET /api', 'POST /health', 'GET /'].map((b) => makeEvent('web', b)));
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/sources/mem/interceptors/preview', payload: { interceptors: NEW_CHAIN, sample: { topic: 'web', last: 3 } } });
    expect(r.statusCode, r.body).toBe(200);
    const p = r.json() as PreviewResponse;
    expect(p).toMatchObject({ topic: 'web', sampled: 3, kept: 2, dropped: 1 });
    expect(p.events.map((e) => e.offset)).toEqual([1, 2, 3]);
    expect(p.events[0]).toMatchObject({ before: { body: 'GET /api', headers: { stage: 'one' } }, after: { body: 'GET /api', headers: { stage: 'two' } }, droppedBy: null, afterTopic: 'web' });
    expect(p.events[1]).toMatchObject({ before: { body: 'POST /health' }, after: null, droppedBy: { index: 0, type: 'regex_filter' } });
    // Nothing changed: the live chain is still the old one.
    await f.ingest([makeEvent('web', 'GET /health')]);
    expect(readAll(f.collector.channel, 'web').at(-1)!.headers.stage).toBe('one');
    // A range, and an invalid chain.
    const range = await f.app.inject({ method: 'POST', url: '/api/v1/sources/mem/interceptors/preview', payload: { interceptors: [], sample: { topic: 'web', from: 0, to: 2 } } });
    expect((range.json() as PreviewResponse).events.map((e) => e.offset)).toEqual([0, 1]);
    const invalid = await f.app.inject({ method: 'POST', url: '/api/v1/sources/mem/interceptors/preview', payload: { interceptors: [{ type: 'nope' }], sample: { topic: 'web' } } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.problems[0].path).toBe('sources.mem.interceptors[0].type');
  });

  it('applies a chain live from a clear point and writes it into the YAML, keeping the comments', async () => {
    const f = await fixture();
    await f.ingest([makeEvent('t', 'a1'), makeEvent('t', 'health a2')]);
    const r = await f.app.inject({ method: 'PUT', url: '/api/v1/sources/mem/interceptors', payload: { interceptors: NEW_CHAIN } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ source: 'mem', chainVersion: 2, persisted: true, interceptors: NEW_CHAIN });
    await f.ingest([makeEvent('t', 'b1'), makeEvent('t', 'health b2'), makeEvent('t', 'b3')]);
    const stored = readAll(f.collector.channel, 't').map((e) => `${fromUtf8(e.body)}:${e.headers.stage}`);
    expect(stored).toEqual(['a1:one', 'health a2:one', 'b1:two', 'b3:two']);

    const yaml = readFileSync(f.configFile, 'utf8');
    expect(yaml).toContain('# test config: comments must survive a chain change');
    expect(yaml).toContain('# where the tests push events');
    expect(yaml).toContain('type: memory # the test source');
    expect(yaml).toMatch(/- type: regex_filter\n\s+pattern: health\n\s+exclude: true\n\s+- type: static\n\s+header: stage\n\s+value: two/);
    expect(yaml).not.toContain('value: one');

    // persist: false changes the running chain only.
    const live = await f.app.inject({ method: 'PUT', url: '/api/v1/sources/mem/interceptors', payload: { interceptors: [], persist: false } });
    expect(live.json()).toMatchObject({ chainVersion: 3, persisted: false });
    expect(readFileSync(f.configFile, 'utf8')).toBe(yaml);

    const invalid = await f.app.inject({ method: 'PUT', url: '/api/v1/sources/mem/interceptors', payload: { interceptors: [{ type: 'static' }] } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('SLUICE_CONFIG_INVALID');
    expect(invalid.json().error.problems.length).toBeGreaterThan(0);
    expect(f.collector.sources.get('mem')!.chainVersion).toBe(3);
  });
});

describe('components', () => {
  it('lists every source, interceptor and sink spec with its JSON schema and examples', async () => {
    const f = await fixture();
    const r = await f.app.inject({ url: '/api/v1/components' });
    expect(r.statusCode).toBe(200);
    const { sources, interceptors, sinks } = r.json();
    const names = (list: { name: string }[]) => list.map((c) => c.name);
    expect(names(interceptors)).toEqual(expect.arrayContaining(['static', 'regex_filter', 'jsonata', 'timestamp']));
    expect(names(sinks)).toEqual(expect.arrayContaining(['stdout', 'file', 'http']));
    expect(names(sources)).toContain('memory');
    const staticSpec = interceptors.find((c: { name: string }) => c.name === 'static');
    expect(staticSpec.schema).toMatchObject({ type: 'object', additionalProperties: false, properties: { header: { type: 'string' } } });
    expect(staticSpec.examples[0]).toMatchObject({ title: expect.any(String), config: expect.any(Object) });
  });
});
