/**
 * The tail source in a real `sluice start` process, SIGKILLed again and again while a writer
 * appends lines and the file is rotated both ways (rename, then copytruncate, alternately):
 * after the last restart every written line is in the channel exactly once, and each file
 * generation's lines in their order.
 *
 * Rotation happens at most once per collector lifetime and only after the collector has committed
 * a line of the current generation — rotations are far apart compared with restarts in practice;
 * a file rotated away twice while the collector is down is beyond what positions can recover
 * (docs/sources.md). The kill comes at a random moment, often right after a rotation. The seed
 * is fixed so a failure replays; SLUICE_CRASH_SEED explores others.
 */
import { appendFileSync, copyFileSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Channel } from '../../collector/src/channel/channel.ts';
import { freePort, removeDir, scaled, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';
import { prng } from '../helpers/random.ts';

const SEED = Number(process.env.SLUICE_CRASH_SEED ?? 7_331);
const KILLS = 8;

const dir = tempDir('sluice-tail-crash-');
const running: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

it(`tail: ${KILLS} SIGKILLs while a file is written and rotated both ways — every line exactly once`, async () => {
  const random = prng(SEED);
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const file = join(logs, 'app.log');
  writeFileSync(file, '');
  const adminPort = await freePort();
  const config = `admin:
  listen: 127.0.0.1:${adminPort}
channel:
  path: ${join(dir, 'data')}
sources:
  files:
    type: tail
    paths: [${file}]
    read_from: start
    topic: lines
    rotate_wait_ms: 400
    poll_interval_ms: 50
    scan_interval_ms: 150
`;

  // The writer: numbered lines, `gen <g> line <n>`, a few at a time, until told to stop.
  let n = 0;
  let gen = 0;
  let genStart = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      const k = 1 + Math.floor(random() * 20);
      let chunk = '';
      for (let i = 0; i < k; i++) chunk += `gen ${gen} line ${n++}\n`;
      appendFileSync(file, chunk);
      await new Promise((r) => setTimeout(r, 2 + Math.floor(random() * 8)));
    }
  })();
  const rotate = (how: 'rename' | 'copytruncate') => {
    // Synchronous, so no line is written in between (logrotate's copytruncate has that window; we test our side).
    const target = join(logs, `app.log.${gen}`);
    if (how === 'rename') {
      renameSync(file, target);
      writeFileSync(file, '');
    } else {
      copyFileSync(file, target);
      truncateSync(file, 0);
    }
    gen++;
    genStart = n;
  };

  const linesIn = async (c: CollectorProcess): Promise<number> => {
    const { topics } = await c.api<{ topics: { name: string; high: number }[] }>('/api/v1/topics');
    return topics.find((t) => t.name === 'lines')?.high ?? 0;
  };

  const rotations: string[] = [];
  for (let k = 0; k < KILLS; k++) {
    const c = await startCollector({ config, dir, adminPort });
    running.push(c);
    const before = await linesIn(c);
    await until(async () => (await linesIn(c)) > before, { what: 'the collector to make progress', timeoutMs: 30_000 });
    if (random() < 0.75) {
      // Rotate once this generation has a committed line, then kill soon after (often mid-rotation handling).
      await until(async () => (await linesIn(c)) > genStart, { what: `a committed line of generation ${gen}`, timeoutMs: 30_000 });
      const how = rotations.length % 2 === 0 ? 'rename' : 'copytruncate';
      rotate(how);
      rotations.push(how);
      await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
    } else {
      await new Promise((r) => setTimeout(r, 50 + Math.floor(random() * 400)));
    }
    await c.kill();
    await new Promise((r) => setTimeout(r, Math.floor(random() * 300)));
  }
  writing = false;
  await writer;
  const total = n;

  const last = await startCollector({ config, dir, adminPort });
  running.push(last);
  await until(async () => (await linesIn(last)) >= total, { what: `all ${total} lines`, timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, 1000)); // anything extra (a duplicate) would show up now
  expect(await last.stop()).toBe(0);

  const channel = Channel.open({ file: join(dir, 'data', 'channel.db'), readonly: true });
  try {
    const seen = new Map<number, number>();
    const lastInGen = new Map<number, number>();
    const outOfOrder: string[] = [];
    for (let from = 0; ; ) {
      const batch = channel.read('lines', from, { maxEvents: 10_000 });
      if (batch.length === 0) break;
      for (const e of batch) {
        const m = /^gen (\d+) line (\d+)$/.exec(Buffer.from(e.body).toString());
        expect(m, `unexpected body at offset ${e.offset}`).not.toBeNull();
        const [g, line] = [Number(m![1]), Number(m![2])];
        seen.set(line, (seen.get(line) ?? 0) + 1);
        if ((lastInGen.get(g) ?? -1) > line) outOfOrder.push(`gen ${g}: ${line} after ${lastInGen.get(g)}`);
        lastInGen.set(g, line);
      }
      from = batch[batch.length - 1].offset + 1;
    }
    const missing: number[] = [];
    const duplicated: number[] = [];
    for (let i = 0; i < total; i++) {
      const count = seen.get(i) ?? 0;
      if (count === 0) missing.push(i);
      if (count > 1) duplicated.push(i);
    }
    expect({ total, rotations: rotations.length >= 2, missing: missing.slice(0, 20), duplicated: duplicated.slice(0, 20), outOfOrder: outOfOrder.slice(0, 10) }).toEqual({
      total,
      rotations: true,
      missing: [],
      duplicated: [],
      outOfOrder: [],
    });
    expect(channel.topic('lines')!.count).toBe(total);
    console.log(`tail crash: ${total} lines, ${KILLS} SIGKILLs, rotations: ${rotations.join(', ')}`);
  } finally {
    await channel.close();
  }
}, scaled(300_000));
