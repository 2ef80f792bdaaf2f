/**
 * `sluice inspect` on a channel file from an older Sluice: the copy is upgraded and served; the
 * original is never touched.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { fromUtf8 } from '../../../shared/src/event.ts';
import { writeV1 } from '../channel/v1-fixture.ts';
import { startInspect, type InspectSession } from './inspect.ts';

const dirs: string[] = [];
const sessions: InspectSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('serves a schema 1 file from an older edge, upgrading only the copy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-inspect-v1-'));
  dirs.push(dir);
  const file = join(dir, 'channel.db');
  writeV1(file);
  const before = readFileSync(file);
  const session = await startInspect(file);
  sessions.push(session);
  expect(session.collector.channel.read('t', 0).map((e) => fromUtf8(e.body))).toEqual(['a', 'b', 'c']);
  const r = await fetch(`${session.url}/api/v1/topics/t`);
  expect(await r.json()).toMatchObject({ low: 0, high: 3, count: 3 });
  expect(readFileSync(file).equals(before)).toBe(true);
  const raw = new Database(file, { readonly: true });
  expect(raw.pragma('user_version', { simple: true })).toBe(1);
  raw.close();
});
