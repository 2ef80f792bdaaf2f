import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { makeEvent, type StoredEvent } from '../../../shared/src/event.ts';
import { isRetriable } from '../../../shared/src/errors.ts';
import { createStdoutSink } from './stdout.ts';
import { spawnTracked } from '../../../test/helpers/children.ts';

function batch(n: number, from = 0): StoredEvent[] {
  return Array.from({ length: n }, (_, i) => ({ ...makeEvent('demo', JSON.stringify({ i: from + i }), { ts: 1000 + i, headers: { 'content-type': 'application/json', n: String(from + i) } }), offset: from + i }));
}

class Capture extends Writable {
  writes: Buffer[] = [];
  fail: Error | null = null;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.fail) return done(this.fail);
    this.writes.push(chunk);
    done();
  }
}

describe('stdout sink', () => {
  it('writes one JSON record per event, one write per batch', async () => {
    const out = new Capture();
    const sink = createStdoutSink({ format: 'json' }, 'console', out);
    await sink.send(batch(3), 'demo');
    await sink.send(batch(2, 3), 'demo');
    expect(out.writes).toHaveLength(2);
    const records = Buffer.concat(out.writes).toString().trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(records.map((r) => r.body.i)).toEqual([0, 1, 2, 3, 4]);
    expect(records[4]).toMatchObject({ topic: 'demo', ts: 1001, key: null, headers: { n: '4' } });
    expect(sink.describe?.()).toMatchObject({ batches: 2, events: 5 });
  });

  it('raw format writes the bodies as received', async () => {
    const out = new Capture();
    const sink = createStdoutSink({ format: 'raw' }, 'console', out);
    await sink.send(batch(2), 'demo');
    expect(Buffer.concat(out.writes).toString()).toBe('{"i":0}\n{"i":1}\n');
  });

  it('a failing stream is a retriable error naming the sink', async () => {
    const out = new Capture();
    out.fail = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const sink = createStdoutSink({ format: 'json' }, 'console', out);
    const error = await sink.send(batch(1), 'demo').catch((e: unknown) => e);
    expect(isRetriable(error)).toBe(true);
    expect((error as Error).message).toBe('sink "console": cannot write to stdout: write EPIPE');
    await sink.close();
  });

  it('writes to the real standard output of a process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-stdout-'));
    try {
      const script = join(dir, 'run.mts');
      const spec = resolve('collector/src/sinks/stdout.ts');
      const event = resolve('shared/src/event.ts');
      writeFileSync(
        script,
        `import { stdoutSink } from ${JSON.stringify(spec)};
import { makeEvent } from ${JSON.stringify(event)};
const sink = stdoutSink.create({ format: 'json' }, { name: 'console', log: undefined, signal: new AbortController().signal, collectorId: 'x', createSink() { throw new Error('no'); } } as never);
for (let b = 0; b < 20; b++) {
  await sink.send(Array.from({ length: 500 }, (_, i) => ({ ...makeEvent('demo', 'line ' + (b * 500 + i), { headers: { 'content-type': 'text/plain' } }), offset: b * 500 + i })), 'demo');
}
await sink.close();
`,
      );
      const child = spawnTracked(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const records = Buffer.concat(chunks).toString().trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(records).toHaveLength(10_000);
      expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
      expect(records[9999].body).toBe('line 9999');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
