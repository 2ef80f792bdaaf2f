/**
 * Writes or checks docs/api/openapi.json, the OpenAPI description of /api/v1 generated from the
 * route schemas (openapi.ts):
 *   node bin/run-ts.js collector/src/admin/openapi-doc.ts --write    regenerate it
 *   node bin/run-ts.js collector/src/admin/openapi-doc.ts --check    exit 1 if it is stale
 * The document is built from a real admin app on a throwaway channel, so it lists exactly the
 * routes the collector serves.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinRegistries } from '../builtins.ts';
import { loadConfigText } from '../config/load.ts';
import { silentLogger } from '../log.ts';
import { Collector } from '../runtime/collector.ts';
import { buildAdminApp } from './app.ts';

export const OPENAPI_FILE = resolve(import.meta.dirname, '../../../docs/api/openapi.json');

export async function generateOpenApi(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-openapi-'));
  try {
    const config = await loadConfigText(`channel:\n  path: ${join(dir, 'data')}\nadmin:\n  listen: 127.0.0.1:0\n`, null, { preflight: false, registries: builtinRegistries() });
    const collector = new Collector(config, { log: silentLogger });
    const app = await buildAdminApp(collector);
    try {
      const r = await app.inject({ url: '/api/v1/openapi.json' });
      if (r.statusCode !== 200) throw new Error(`GET /api/v1/openapi.json: ${r.statusCode} ${r.body}`);
      return r.json() as Record<string, unknown>;
    } finally {
      await app.close();
      await collector.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderOpenApi(doc: Record<string, unknown>): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const text = renderOpenApi(await generateOpenApi());
  if (process.argv.includes('--write')) {
    mkdirSync(dirname(OPENAPI_FILE), { recursive: true });
    writeFileSync(OPENAPI_FILE, text);
    console.log(`wrote ${OPENAPI_FILE}`);
  } else {
    let current = '';
    try {
      current = readFileSync(OPENAPI_FILE, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${OPENAPI_FILE} is stale: run node bin/run-ts.js collector/src/admin/openapi-doc.ts --write`);
      process.exit(1);
    }
    console.log(`${OPENAPI_FILE} is up to date`);
  }
}
