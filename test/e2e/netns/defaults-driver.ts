/**
 * Runs inside its own network namespace (`unshare -n`, started by test/e2e/collector.test.ts), where
 * the embedded defaults' fixed ports (9410, 9880, 5514, 24224) are free whatever else runs on the
 * machine. Starts `sluice start` without a config, uses it as a user would, stops it, and prints
 * what it saw as one JSON line for the test to check.
 */
import { connect } from 'node:net';
import { startCollector, until } from '../../helpers/process.ts';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const c = await startCollector({ config: null });
try {
  const posted = await fetch('http://127.0.0.1:9880/demo', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
  const { topics } = await c.api<{ topics: { name: string; high: number; count: number }[] }>('/api/v1/topics');
  await until(() => c.stderr().includes('127.0.0.1:24224'), { what: 'banner' });
  const listening = { syslogTcp: await accepts(5514), forward: await accepts(24224) };
  const exitCode = await c.stop();
  process.stdout.write(`${JSON.stringify({ status: posted.status, topics, listening, banner: c.stderr(), exitCode })}\n`);
} finally {
  await c.kill();
}
