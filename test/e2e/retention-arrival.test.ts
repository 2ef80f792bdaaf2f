/**
 * Issue #12 item 9, end to end with a real `sluice start`: an event whose own timestamp is older
 * than retention.max_age (x-sluice-ts last month over HTTP, a syslog line dated last month) is
 * acknowledged and then kept for max_age counted from its arrival — not deleted at the next
 * retention pass — even with no sink covering its topic; and every expiry is counted in /metrics.
 *
 * No sleeps: a control topic with a 1 s max_age shows in /metrics when a retention pass has run
 * after both events arrived; the assertion about the old-dated events comes after that.
 */
import { connect } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { freePort, removeDir, scaled, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const running: CollectorProcess[] = [];
const dir = tempDir('sluice-retention-');
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

function sendSyslog(port: number, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`${line}\n`));
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}

it('an event dated last month is kept for max_age from its arrival, and every expiry is counted in /metrics', async () => {
  const ports = { admin: await freePort(), http: await freePort(), syslog: await freePort() };
  const collector = await startCollector({
    dir,
    config: `admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${dir}/data
  retention: { max_age: 1h }
  topics:
    control: { max_age: 1s }
sources:
  web:
    type: http
    listen: 127.0.0.1:${ports.http}
  syslog:
    type: syslog
    listen: 127.0.0.1:${ports.syslog}
    protocols: [tcp]
`,
  });
  running.push(collector);
  const lastMonth = new Date(Date.now() - 30 * 24 * 3600_000);

  const posted = await fetch(`http://127.0.0.1:${ports.http}/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sluice-ts': lastMonth.toISOString() },
    body: '{"msg":"from last month"}',
  });
  expect(posted.status).toBeLessThan(300); // acknowledged
  await sendSyslog(ports.syslog, `<13>1 ${lastMonth.toISOString()} host app - - - a syslog line from last month`);
  await until(async () => (await collector.api<{ count: number }>('/api/v1/topics/syslog')).count === 1, { what: 'the syslog line to be stored' });
  const control = await fetch(`http://127.0.0.1:${ports.http}/control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
  expect(control.status).toBeLessThan(300);

  // A retention pass ran after every event arrived: the control event (max_age 1s) expired, counted by reason.
  const metrics = await until(
    async () => {
      const text = await (await fetch(`${collector.adminUrl}/metrics`)).text();
      return metric(text, 'sluice_channel_expired_events_total', 'topic="control",reason="age"') === 1 ? text : null;
    },
    { what: 'a retention pass to expire the control event' },
  );
  expect((await collector.api<{ low: number; count: number; expired: number }>('/api/v1/topics/control'))).toMatchObject({ low: 1, count: 0, expired: 1 });

  // The events dated last month are still there, with their own timestamps, and nothing of them was expired.
  for (const topic of ['logs', 'syslog']) {
    expect(await collector.api(`/api/v1/topics/${topic}`), topic).toMatchObject({ low: 0, high: 1, count: 1, expired: 0, dropped: 0 });
    const page = await collector.api<{ events: { ts: number; offset: number }[] }>(`/api/v1/topics/${topic}/events?from=0`);
    expect(page.events.map((e) => [e.offset, e.ts]), topic).toEqual([[0, lastMonth.getTime()]]);
    expect(metric(metrics, 'sluice_channel_expired_events_total', `topic="${topic}",reason="age"`), topic).toBe(0);
  }
  expect(await collector.stop()).toBe(0);
}, scaled(60_000));
