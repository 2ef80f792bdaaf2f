/**
 * The published OpenAPI document is the one the routes generate; every route of /api/v1 is in it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateOpenApi, OPENAPI_FILE, renderOpenApi } from './openapi-doc.ts';

describe('OpenAPI', () => {
  it('docs/api/openapi.json is up to date (regenerate: node bin/run-ts.js collector/src/admin/openapi-doc.ts --write)', async () => {
    const generated = renderOpenApi(await generateOpenApi());
    let published = '';
    try {
      published = readFileSync(OPENAPI_FILE, 'utf8');
    } catch {
      // missing: stale
    }
    expect(published === generated, 'docs/api/openapi.json is stale: run node bin/run-ts.js collector/src/admin/openapi-doc.ts --write').toBe(true);
  });

  it('documents parameters, bodies and answers from the route schemas', async () => {
    const doc = (await generateOpenApi()) as { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> };
    expect(doc.openapi).toBe('3.1.0');
    const browse = doc.paths['/api/v1/topics/{topic}/events'].get as { parameters: { name: string; in: string }[]; responses: Record<string, unknown> };
    expect(browse.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['path:topic', 'query:from', 'query:time', 'query:last', 'query:bodyRegex', 'query:jsonata', 'query:maxScanRows']));
    expect(Object.keys(browse.responses)).toEqual(expect.arrayContaining(['200', '400', '404']));
    const replay = doc.paths['/api/v1/sinks/{sink}/replay'].post as { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } };
    expect(Object.keys(replay.requestBody.content['application/json'].schema.properties)).toEqual(['topics', 'to', 'execute']);
    expect(doc.paths['/api/v1/topics/{topic}/tail'].get['x-websocket']).toBe(true);
    for (const [path, ops] of Object.entries(doc.paths)) {
      expect(path.startsWith('/api/v1/')).toBe(true);
      for (const op of Object.values(ops)) expect(op.summary, path).not.toMatch(/^(GET|POST|PUT|DELETE) /);
    }
  });
});
