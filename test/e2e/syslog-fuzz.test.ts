/**
 * Bounded fuzz of a real `sluice start`'s syslog listeners: UDP, TCP with auto-detected framing
 * (octet counting and LF), and TCP forced to newline framing. Random, mutated and hostile
 * messages — bad PRI, impossible timestamps, unterminated structured data, NULs, invalid UTF-8,
 * huge and bogus octet counts, over-long lines, binary noise — each TCP case on its own
 * connection in 1–3 writes, while a good client streams numbered messages on one connection.
 *
 * The collector never crashes; every TCP case stores exactly what the framer (framing.ts) makes of
 * it, whatever the write boundaries; every UDP datagram is stored or counted as dropped; the
 * good client's messages all arrive once, in order; afterwards both transports still serve; an
 * over-long message is logged with its size, the limit and the sender. Fixed seed and case count
 * (SLUICE_FUZZ_SEED / SLUICE_FUZZ_CASES explore further).
 */
import { createSocket } from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Channel } from '../../collector/src/channel/channel.ts';
import { SyslogFramer, type FramingMode } from '../../collector/src/sources/syslog/framing.ts';
import type { SourcesResponse } from '../../shared/src/api/core.ts';
import { fromUtf8 } from '../../shared/src/event.ts';
import { freePort, removeDir, scaled, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';
import { int, pick, prng, type Rand } from '../helpers/random.ts';

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 0x5e5106);
const CASES = Number(process.env.SLUICE_FUZZ_CASES ?? 1200);
const WORKERS = 6;
const MAX = 512; // max_message_bytes: over-long cases are common
const GOOD = 2000;


function validLine(rand: Rand): string {
  const pri = `<${int(rand, 192)}>`;
  const msg = pick(rand, ['hello', 'é✓😀 unicode', 'x'.repeat(int(rand, 700)), 'key=value a="b"', '']);
  if (rand() < 0.5) {
    const sd = pick(rand, ['-', '[ex@1 a="1"]', '[ex@1 a="q\\"uote" b="\\]"][other x="y"]', '[ex@1 a="' + 'v'.repeat(int(rand, 300)) + '"]']);
    return `${pri}1 2026-0${1 + int(rand, 9)}-1${int(rand, 9)}T12:34:56.${int(rand, 999999)}Z host-${int(rand, 9)} app${int(rand, 9)} ${int(rand, 99999)} ID${int(rand, 9)} ${sd} ${msg}`;
  }
  return `${pri}${pick(rand, ['Mar', 'Dec', 'Feb'])} ${1 + int(rand, 28)} 0${int(rand, 9)}:12:13 host app[${int(rand, 999)}]: ${msg}`;
}

const HOSTILE = [
  '<99999>1 - - - - - - huge pri',
  '<-1>bad pri',
  '<13',
  '<>empty pri',
  '<13>1 2026-13-45T99:99:99Z h a - - - impossible time',
  '<13>1 9999999-01-01T00:00:00Z h a - - - far year',
  '<13>1 - h a - - [unterminated sd="x',
  '<13>1 - h a - - [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ nested',
  '<13>1 - h a - - [a b="\\',
  '\u0000\u0000\u0000',
  '\r\n\r\n',
  '',
  ' ',
  '<13>1 - h a - - - \udc00 lone surrogate',
];

/** One message of a case, without framing. */
function message(rand: Rand): Buffer {
  const r = rand();
  if (r < 0.35) return Buffer.from(validLine(rand));
  if (r < 0.55) return Buffer.from(pick(rand, HOSTILE));
  if (r < 0.65) return Buffer.from(Array.from({ length: 1 + int(rand, 300) }, () => int(rand, 256)));
  if (r < 0.72) return Buffer.from([0x3c, 0x31, 0x33, 0x3e, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]); // invalid UTF-8
  if (r < 0.78) return Buffer.from(`<13>1 - h a - - - ${'L'.repeat(MAX + int(rand, 3 * MAX))}`); // over-long
  const b = Buffer.from(validLine(rand));
  for (let i = 1 + int(rand, 4); i > 0 && b.length > 0; i--) b[int(rand, b.length)] = int(rand, 256);
  return b;
}

/** The bytes of a TCP case: one or more messages, framed right, wrongly, or not at all. */
function tcpCase(rand: Rand): Buffer {
  const parts: Buffer[] = [];
  for (let n = 1 + int(rand, 4); n > 0; n--) {
    const m = message(rand);
    const r = rand();
    if (r < 0.4) parts.push(Buffer.from(`${m.length} `), m);
    else if (r < 0.75) parts.push(m, Buffer.from(pick(rand, ['\n', '\r\n', '\n\n'])));
    else if (r < 0.8) parts.push(Buffer.from(`${m.length + 1 + int(rand, 50)} `), m); // declares more than it sends
    else if (r < 0.85) parts.push(Buffer.from(`${Math.max(0, m.length - 1 - int(rand, 5))} `), m, Buffer.from('\n')); // declares less
    else if (r < 0.9) parts.push(Buffer.from(pick(rand, ['999999999 ', '9999999999999 ', '0 ', '-5 ', '00012 ', '12x '])), m);
    else parts.push(m);
  }
  return Buffer.concat(parts);
}

/** What a listener must store from a case sent alone on a connection, then closed (the framer decides). */
function expectedFrames(bytes: Buffer, mode: FramingMode): number {
  const framer = new SyslogFramer({ maxMessageBytes: MAX, mode });
  return framer.push(bytes).length + framer.end().length;
}

function throwAt(port: number, bytes: Buffer, rand: Rand): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const cuts = [0, ...Array.from({ length: int(rand, 3) }, () => int(rand, bytes.length)).sort((a, b) => a - b), bytes.length];
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.once('connect', async () => {
      for (let i = 0; i + 1 < cuts.length; i++) {
        socket.write(bytes.subarray(cuts[i], cuts[i + 1]));
        await new Promise((r) => setImmediate(r));
      }
      socket.end();
    });
  });
}

const dir = tempDir('sluice-syslog-fuzz-');
const running: CollectorProcess[] = [];
const open: Socket[] = [];
afterAll(async () => {
  for (const s of open) s.destroy();
  for (const c of running) await c.kill();
  removeDir(dir);
});

function topicBodies(file: string, topic: string): string[] {
  const channel = Channel.open({ file, readonly: true, retentionIntervalMs: 0 });
  try {
    return channel.read(topic, 0, { maxEvents: 100_000 }).map((e) => fromUtf8(e.body));
  } finally {
    void channel.close();
  }
}

it(`syslog: ${CASES} hostile TCP cases (auto and newline framing) and ${CASES} UDP datagrams while a good client streams — nothing crashes, nothing is lost or invented`, async () => {
  const rand = prng(SEED);
  const autoCases = Array.from({ length: CASES }, () => tcpCase(rand));
  const lineCases = Array.from({ length: Math.floor(CASES / 3) }, () => tcpCase(rand));
  const datagrams = Array.from({ length: CASES }, () => message(rand));
  const expectAuto = autoCases.reduce((n, c) => n + expectedFrames(c, 'auto'), 0);
  const expectLines = lineCases.reduce((n, c) => n + expectedFrames(c, 'newline'), 0);

  const root = join(dir, 'c');
  mkdirSync(root);
  const ports = { admin: await freePort(), auto: await freePort(), lines: await freePort(), udp: await freePort(), good: await freePort() };
  const common = `    max_message_bytes: ${MAX}\n    timestamp: received\n`;
  const c = await startCollector({
    config: `collector:
  id: fuzz
admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${join(root, 'data')}
sources:
  auto:
    type: syslog
    listen: 127.0.0.1:${ports.auto}
    protocols: [tcp]
    topic: fuzz.auto
${common}  lines:
    type: syslog
    listen: 127.0.0.1:${ports.lines}
    protocols: [tcp]
    framing: newline
    topic: fuzz.lines
${common}  udp:
    type: syslog
    listen: 127.0.0.1:${ports.udp}
    protocols: [udp]
    topic: fuzz.udp
${common}  good:
    type: syslog
    listen: 127.0.0.1:${ports.good}
    protocols: [tcp]
    topic: good
${common}`,
    dir: root,
  });
  running.push(c);

  // The good client: one connection, octet-counted, numbered, spread over the fuzzing.
  const good = connect({ host: '127.0.0.1', port: ports.good });
  open.push(good);
  await new Promise<void>((resolve, reject) => good.once('connect', resolve).once('error', reject));
  let fuzzing = true;
  let goodSent = 0;
  const streaming = (async () => {
    for (; goodSent < GOOD; goodSent++) {
      const m = Buffer.from(`<14>1 - goodhost goodclient - - - good ${goodSent}`);
      good.write(Buffer.concat([Buffer.from(`${m.length} `), m]));
      if (fuzzing && goodSent % 20 === 19) await new Promise((r) => setTimeout(r, 10));
    }
  })();

  const udp = createSocket('udp4');
  let udpSent = 0;
  const udpDone = (async () => {
    for (const d of datagrams) {
      await new Promise<void>((resolve) => udp.send(d, ports.udp, '127.0.0.1', (error) => ((udpSent += error ? 0 : 1), resolve())));
    }
  })();
  const queue: [number, Buffer][] = [...autoCases.map((b) => [ports.auto, b] as [number, Buffer]), ...lineCases.map((b) => [ports.lines, b] as [number, Buffer])];
  let next = 0;
  const worker = async (w: number) => {
    const local = prng(SEED ^ (w + 1));
    while (next < queue.length) {
      const [port, bytes] = queue[next++];
      await throwAt(port, bytes, local);
    }
  };
  await Promise.all([udpDone, ...Array.from({ length: WORKERS }, (_, w) => worker(w))]);
  udp.close();
  fuzzing = false;
  await streaming;
  expect(c.proc.exitCode).toBeNull();

  const counts = async () => {
    const { sources } = await c.api<SourcesResponse>('/api/v1/sources');
    const by = new Map(sources.map((s) => [s.name, s]));
    const udpDropped = Object.values(by.get('udp')?.network?.udpDropped ?? {}).reduce((a, b) => a + b, 0);
    return { auto: by.get('auto')!.accepted, lines: by.get('lines')!.accepted, udp: by.get('udp')!.accepted, udpDropped, good: by.get('good')!.accepted };
  };
  const final = await until(async () => {
    const n = await counts();
    return n.auto >= expectAuto && n.lines >= expectLines && n.udp + n.udpDropped >= udpSent && n.good >= GOOD ? n : null;
  }, { timeoutMs: 60_000, what: 'every case stored or counted' });
  // nothing more trickles in: exactly what the framer says, not more
  await new Promise((r) => setTimeout(r, 500));
  expect(await counts()).toEqual(final);
  expect(final.auto).toBe(expectAuto);
  expect(final.lines).toBe(expectLines);
  expect(final.udp + final.udpDropped).toBe(udpSent);
  expect(final.good).toBe(GOOD);

  // still serving, both transports
  const after = connect({ host: '127.0.0.1', port: ports.auto });
  open.push(after);
  after.end('<13>1 - h after - - - after the fuzz\n');
  const udp2 = createSocket('udp4');
  await new Promise<void>((resolve) => udp2.send('<13>1 - h after - - - udp after the fuzz', ports.udp, '127.0.0.1', () => resolve()));
  udp2.close();
  await until(async () => {
    const n = await counts();
    return n.auto === expectAuto + 1 && n.udp + n.udpDropped === udpSent + 1;
  }, { timeoutMs: 30_000, what: 'the messages sent after the fuzz' });
  expect((await c.api<{ status: string }>('/api/v1/health')).status).toBe('ok');
  const logs = c.stdout() + c.stderr();
  expect(logs).toMatch(/source \\?"(auto|lines|udp)\\?": a message of (\d+ bytes|more than max_message_bytes[^)]*\)) from 127\.0\.0\.1(:\d+)? was truncated to max_message_bytes \(512\)/);
  expect(await c.stop()).toBe(0);

  const file = join(root, 'data', 'channel.db');
  expect(topicBodies(file, 'good')).toEqual(Array.from({ length: GOOD }, (_, i) => `good ${i}`));
  console.log(
    `syslog fuzz: ${autoCases.length} auto + ${lineCases.length} newline TCP cases → ${expectAuto} + ${expectLines} messages stored as the framer says; ${udpSent} UDP datagrams → ${final.udp} stored, ${final.udpDropped} counted as dropped; the good client's ${GOOD} arrived once, in order`,
  );
}, scaled(300_000));
