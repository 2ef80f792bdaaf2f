/** The channel's statements prepare against the current schema; a read-only connection gets no writers. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureSchema } from './schema.ts';
import { prepareStatements } from './statements.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('channel statements', () => {
  it('prepare against a new channel file; read-only connections get null for every writing statement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-stmt-'));
    dirs.push(dir);
    const file = join(dir, 'channel.db');
    const db = new Database(file);
    ensureSchema(db, file, false);
    const writable = prepareStatements(db, false);
    expect(Object.values(writable).every((s) => s !== null)).toBe(true);
    writable.insertTopic!.run('t', 1);
    expect(writable.topicByName.get('t')).toMatchObject({ name: 't', next_offset: 0 });
    db.close();

    const ro = new Database(file, { readonly: true });
    const readonly = prepareStatements(ro, true);
    const writers = Object.entries(readonly).filter(([, s]) => s === null).map(([name]) => name);
    expect(writers).toEqual(expect.arrayContaining(['insertTopic', 'insertBatch', 'upsertCursor', 'putState', 'deletePrefix']));
    expect(readonly.topicByName.get('t')).toMatchObject({ name: 't' });
    ro.close();
  });
});
