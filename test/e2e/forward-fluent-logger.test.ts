/**
 * A real fluent client — Debian's python3-fluent-logger (`/usr/bin/python3`; the `python3` on
 * PATH may be another Python without it) — sends to a real `sluice start` hub. Its events arrive
 * with the tag as topic and the record intact as a JSON body, with the client's timestamps;
 * a tag that is not a topic name is mapped and kept in the `fluent.tag` header.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Channel } from '../../collector/src/channel/channel.ts';
import { fromUtf8, type StoredEvent } from '../../shared/src/event.ts';
import { hubConfig } from '../helpers/forward.ts';
import { freePort, removeDir, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const PYTHON = '/usr/bin/python3';
const dir = tempDir('sluice-forward-fluent-');
const running: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

function hasFluentLogger(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'from fluent import sender'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const SCRIPT = `
import sys
from fluent import sender
port = int(sys.argv[1])
def check(s, ok):
    if not ok:
        print("emit failed:", s.last_error, file=sys.stderr)
        sys.exit(1)

web = sender.FluentSender('app.web', host='127.0.0.1', port=port)
check(web, web.emit_with_time('access', 1700000000, {
    'path': '/index.html', 'status': 200, 'bytes': 5120, 'ok': True, 'missing': None,
    'ratio': 0.25, 'text': 'h\\u00e9llo \\u2713', 'nested': {'list': [1, 'two', {'three': 3}]},
}))
for i in range(100):
    check(web, web.emit_with_time('access', 1700000001 + i, {'seq': i, 'raw': b'bytes'}))
web.close()

precise = sender.FluentSender('app', host='127.0.0.1', port=port, nanosecond_precision=True)
check(precise, precise.emit_with_time('tick', 1700000000.123456789, {'n': 1}))
precise.close()

odd = sender.FluentSender('my app/v1', host='127.0.0.1', port=port)
check(odd, odd.emit('start', {'pid': 42}))
odd.close()
`;

function readTopic(file: string, topic: string): StoredEvent[] {
  const channel = Channel.open({ file, readonly: true, retentionIntervalMs: 0 });
  try {
    return channel.read(topic, 0, { maxEvents: 10_000 });
  } finally {
    void channel.close();
  }
}

it('python3-fluent-logger → hub: tag is the topic, the record arrives intact', async (ctx) => {
  if (!hasFluentLogger()) {
    console.log(`${PYTHON} has no fluent-logger: skipping (apt-get install python3-fluent-logger)`);
    ctx.skip();
    return;
  }
  const hubDir = join(dir, 'hub');
  mkdirSync(hubDir);
  const ports = { admin: await freePort(), forward: await freePort() };
  const hub = await startCollector({ config: hubConfig(hubDir, ports), dir: hubDir });
  running.push(hub);

  await new Promise<void>((resolve, reject) =>
    execFile(PYTHON, ['-c', SCRIPT, String(ports.forward)], (error, _stdout, stderr) => (error ? reject(new Error(`fluent-logger failed: ${stderr}`)) : resolve())),
  );
  const file = join(hubDir, 'data', 'channel.db');
  await until(() => readTopic(file, 'app.web.access').length === 101 && readTopic(file, 'app.tick').length === 1 && readTopic(file, 'my_app_v1.start').length === 1, {
    timeoutMs: 20_000,
    what: 'the fluent-logger events on the hub',
  });

  const access = readTopic(file, 'app.web.access');
  const first = access[0];
  expect(first.ts).toBe(1_700_000_000_000);
  expect(first.headers).toEqual({ 'content-type': 'application/json' });
  expect(JSON.parse(fromUtf8(first.body))).toEqual({
    path: '/index.html',
    status: 200,
    bytes: 5120,
    ok: true,
    missing: null,
    ratio: 0.25,
    text: 'héllo ✓',
    nested: { list: [1, 'two', { three: 3 }] },
  });
  expect(access.slice(1).map((e) => [e.offset, e.ts, JSON.parse(fromUtf8(e.body))])).toEqual(
    Array.from({ length: 100 }, (_, i) => [i + 1, 1_700_000_001_000 + i * 1000, { seq: i, raw: 'bytes' }]),
  );

  const [tick] = readTopic(file, 'app.tick');
  expect(tick.ts).toBe(1_700_000_000_123); // EventTime with nanoseconds, truncated to ms
  expect(JSON.parse(fromUtf8(tick.body))).toEqual({ n: 1 });

  const [odd] = readTopic(file, 'my_app_v1.start');
  expect(odd.headers).toEqual({ 'content-type': 'application/json', 'fluent.tag': 'my app/v1.start' });
  expect(JSON.parse(fromUtf8(odd.body))).toEqual({ pid: 42 });
  expect(await hub.stop()).toBe(0);
});
