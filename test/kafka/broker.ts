// A real Apache Kafka 4.x broker for tests and benchmarks, run from the jars on Maven Central.
//
// Layout of the cache (git ignores .cache/):
//   .cache/kafka/<version>/pom.xml      generated; names kafka_2.13, kafka-tools and the log4j2 binding
//   .cache/kafka/<version>/libs/*.jar   `mvn dependency:copy-dependencies`, renamed into place only
//                                       when complete, so a half-resolved folder is never used
// Layout of one broker (a fresh temp folder, `dataDir`):
//   server.properties, log4j2.properties, broker.log (the JVM's stdout+stderr), log/ (log.dirs)
//
// The broker runs in KRaft combined mode (process.roles=broker,controller, one node, static
// quorum) on two free ports of 127.0.0.1. Internal topics get one partition so the first group
// join or producer-id request does not wait for 50 __consumer_offsets partitions to load.

import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaled, spawnTracked } from '../helpers/children.ts';

export const KAFKA_VERSION = process.env.SLUICE_KAFKA_VERSION ?? '4.4.0';
const LOG4J_VERSION = '2.25.5'; // the log4j2 that kafka_2.13 4.4.0 itself depends on
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KAFKA_CACHE_DIR = join(REPO_ROOT, '.cache', 'kafka', KAFKA_VERSION);
const LIBS_DIR = join(KAFKA_CACHE_DIR, 'libs');

export interface Broker {
  /** `127.0.0.1:PORT` — the PLAINTEXT listener. */
  bootstrap: string;
  /** Graceful stop (SIGTERM, SIGKILL after 30 s), then removes `dataDir`. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; `dataDir` stays, so `restart()` recovers from it. */
  kill(): void;
  /** Graceful stop if running (data kept), then start again on the same ports and data. */
  restart(): Promise<void>;
  /** Holds server.properties, broker.log and the log dirs. */
  dataDir: string;
  /** The jars, joined with ':' — for `java -cp` of any Kafka class. */
  classpath: string;
  /** The last `lines` lines of broker.log, for failure messages. */
  logTail(lines?: number): string;
  /** The broker JVM's pid while it runs (e.g. to read its CPU time from /proc). */
  readonly pid: number | undefined;
}

export interface BrokerOptions {
  /** Extra or overriding server.properties entries. */
  config?: Record<string, string | number | boolean>;
  /** Heap cap (default 512m). */
  heap?: string;
  /** log4j2 root level for the broker (default INFO; the log goes to broker.log only). */
  logLevel?: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';
  /** How long to wait for the broker to accept connections (default 90 s). */
  startTimeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Availability

let availability: { ok: boolean; reason?: string } | undefined;

/**
 * Whether a real broker can run here: java ≥ 17, and either the jars already cached or mvn to
 * fetch them. Tests skip when not ok and must print `reason` (see `kafkaSkipMessage`).
 */
export function kafkaAvailable(): { ok: boolean; reason?: string } {
  if (availability) return availability;
  availability = checkAvailability();
  return availability;
}

function checkAvailability(): { ok: boolean; reason?: string } {
  if (process.env.SLUICE_SKIP_KAFKA) return { ok: false, reason: 'SLUICE_SKIP_KAFKA is set' };
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) {
    return { ok: false, reason: 'no `java` on PATH (Kafka 4.x needs Java 17+; apt-get install openjdk-17-jre-headless)' };
  }
  const m = /version "(\d+)/.exec(java.stderr);
  const major = m ? Number(m[1]) : 0;
  if (major < 17) return { ok: false, reason: `java ${major || '?'} found; Kafka ${KAFKA_VERSION} brokers need Java 17+` };
  if (jarsCached()) return { ok: true };
  const mvn = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0) {
    return { ok: false, reason: `no \`mvn\` on PATH and no cached Kafka jars in ${KAFKA_CACHE_DIR} (apt-get install maven)` };
  }
  return { ok: true };
}

/** The line a skipped suite prints, so a skip is never silent. */
export function kafkaSkipMessage(suite: string): string {
  return `[kafka] SKIPPED ${suite}: ${kafkaAvailable().reason ?? 'unknown reason'}`;
}

// ---------------------------------------------------------------------------------------------
// Jars

function jarsCached(): boolean {
  return existsSync(LIBS_DIR) && readdirSync(LIBS_DIR).some((f) => f.startsWith(`kafka_2.13-${KAFKA_VERSION}`));
}

function pomXml(): string {
  const dep = (g: string, a: string, v: string) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by test/kafka/broker.ts: the runtime of a Kafka ${KAFKA_VERSION} broker and its tools -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.test</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${dep('org.apache.kafka', 'kafka_2.13', KAFKA_VERSION)}
${dep('org.apache.kafka', 'kafka-tools', KAFKA_VERSION)}
${dep('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION)}
  </dependencies>
</project>
`;
}

let jarsPromise: Promise<string> | undefined;

/** Resolves (once per process, cached on disk across runs) and returns the classpath. */
export function kafkaClasspath(): Promise<string> {
  jarsPromise ??= resolveJars().catch((err: unknown) => {
    jarsPromise = undefined;
    throw err;
  });
  return jarsPromise;
}

async function resolveJars(): Promise<string> {
  if (!jarsCached()) {
    mkdirSync(KAFKA_CACHE_DIR, { recursive: true });
    const pom = join(KAFKA_CACHE_DIR, 'pom.xml');
    writeFileAtomic(pom, pomXml());
    // Resolve into a private folder and rename: two test workers may resolve at the same time.
    const staging = join(KAFKA_CACHE_DIR, `libs.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
    const args = ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'];
    const res = await run('mvn', args, { timeoutMs: 15 * 60_000 });
    if (res.code !== 0) {
      rmSync(staging, { recursive: true, force: true });
      throw new Error(`mvn could not resolve org.apache.kafka:kafka_2.13:${KAFKA_VERSION} (exit ${res.code}):\n${tail(res.stdout + res.stderr, 40)}`);
    }
    try {
      renameSync(staging, LIBS_DIR);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another worker won the race
    }
  }
  const jars = readdirSync(LIBS_DIR).filter((f) => f.endsWith('.jar')).sort();
  return jars.map((j) => join(LIBS_DIR, j)).join(':');
}

// ---------------------------------------------------------------------------------------------
// The broker

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test worker that exits without stop() must not leave a JVM behind.
  process.once('exit', () => {
    for (const p of live) p.kill('SIGKILL');
  });
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const avail = kafkaAvailable();
  if (!avail.ok) throw new Error(`cannot start Kafka: ${avail.reason}`);
  const classpath = await kafkaClasspath();
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-kafka-'));
  const [port, controllerPort] = await freePorts(2);
  const bootstrap = `127.0.0.1:${port}`;

  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': join(dataDir, 'log'),
    'num.partitions': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'share.coordinator.state.topic.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    ...opts.config,
  };
  const propsFile = join(dataDir, 'server.properties');
  writeFileSync(propsFile, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const log4j = join(dataDir, 'log4j2.properties');
  writeFileSync(log4j, log4jProperties(opts.logLevel ?? 'INFO'));

  // Format storage (what `kafka-storage.sh format` does). A cluster id is a base64url UUID; one
  // that starts with '-' (1 in 64) reads as an option to the tool's parser, so, as Kafka's own
  // Uuid.randomUuid does, draw again.
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  const fmt = await run('java', [...toolJvmArgs(classpath), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile], {
    timeoutMs: 120_000,
  });
  if (fmt.code !== 0) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`kafka-storage format failed (exit ${fmt.code}):\n${tail(fmt.stdout + fmt.stderr, 40)}`);
  }

  const logFile = join(dataDir, 'broker.log');
  const heap = opts.heap ?? '512m';
  const startTimeoutMs = scaled(opts.startTimeoutMs ?? 90_000);
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;

  const launch = async (): Promise<void> => {
    installExitHook();
    // restart() appends to the same log: look for the ready line only past what is there now
    const logOffset = existsSync(logFile) ? statSync(logFile).size : 0;
    const out = createWriteStream(logFile, { flags: 'a' });
    // The same JVM flags as Kafka's kafka-server-start.sh / kafka-run-class.sh, with a small heap.
    const child = spawnTracked(
      'java',
      [
        `-Xmx${heap}`,
        '-Xms128m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:InitiatingHeapOccupancyPercent=35',
        '-XX:+ExplicitGCInvokesConcurrent',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${log4j}`,
        `-Dkafka.logs.dir=${dataDir}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        propsFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc = child;
    live.add(child);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    exited = new Promise((res) =>
      child.once('exit', () => {
        live.delete(child);
        out.end();
        res();
      }),
    );
    await waitReady(child, port, logFile, logOffset, startTimeoutMs);
  };

  const shutdown = async (): Promise<void> => {
    const child = proc;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };

  const broker: Broker = {
    bootstrap,
    dataDir,
    classpath,
    get pid() {
      return proc && proc.exitCode === null && proc.signalCode === null ? proc.pid : undefined;
    },
    logTail: (lines = 40) => (existsSync(logFile) ? tail(readFileSync(logFile, 'utf8'), lines) : ''),
    async stop() {
      if (stopped) return;
      stopped = true;
      await shutdown();
      await rm(dataDir, { recursive: true, force: true });
    },
    kill() {
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop(): the data dir is gone');
      await shutdown();
      await exited;
      // after a kill, logs are recovered on start: give it the same timeout as a fresh start
      await launch();
    },
  };

  try {
    await launch();
  } catch (err) {
    broker.kill();
    await exited;
    const msg = err instanceof Error ? err.message : String(err);
    const logs = broker.logTail(60);
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`${msg}\n--- broker.log (tail) ---\n${logs}`);
  }
  return broker;
}

function log4jProperties(level: string): string {
  return [
    'status = error',
    'appender.out.type = Console',
    'appender.out.name = OUT',
    'appender.out.layout.type = PatternLayout',
    'appender.out.layout.pattern = [%d] %p %m (%c)%n',
    `rootLogger.level = ${level}`,
    'rootLogger.appenderRef.out.ref = OUT',
    // these two print every config value at INFO, several times per start
    'logger.config.name = org.apache.kafka.common.config.AbstractConfig',
    'logger.config.level = WARN',
    // waitReady() looks for this logger's "Kafka Server started", whatever the root level
    'logger.ready.name = kafka.server.KafkaRaftServer',
    'logger.ready.level = INFO',
    '',
  ].join('\n');
}

const READY_LINE = 'Kafka Server started';

async function waitReady(child: ChildProcess, port: number, logFile: string, logOffset: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Kafka broker exited during start-up (${child.exitCode ?? child.signalCode})`);
    }
    // The listener binds before the broker has caught up with the metadata log; the log line is
    // printed once it has, and only then do produce/fetch requests succeed.
    const started = existsSync(logFile) && (await readFile(logFile)).subarray(logOffset).includes(READY_LINE);
    if (started && (await canConnect(port))) return;
    if (Date.now() > deadline) throw new Error(`Kafka broker not ready on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// Kafka's own tools, from the same jars

function toolJvmArgs(classpath: string, heap = '256m'): string[] {
  return [`-Xmx${heap}`, '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${toolLog4jFile()}`, '-cp', classpath];
}

let toolLog4j: string | undefined;
function toolLog4jFile(): string {
  if (!toolLog4j) {
    mkdirSync(KAFKA_CACHE_DIR, { recursive: true });
    toolLog4j = join(KAFKA_CACHE_DIR, 'tools-log4j2.properties');
    writeFileAtomic(toolLog4j, log4jProperties('WARN').replace('appender.out.type = Console', 'appender.out.type = Console\nappender.out.target = SYSTEM_ERR'));
  }
  return toolLog4j;
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Kafka CLI class (`org.apache.kafka.tools.TopicCommand`, `…ProducerPerformance`,
 * `…ConsumerPerformance`, `kafka.tools.StorageTool`, …) with the broker's jars. Tool logging goes
 * to stderr at WARN so stdout holds only the tool's own output.
 */
export async function runKafkaTool(mainClass: string, args: string[], opts: { timeoutMs?: number; heap?: string } = {}): Promise<ToolResult> {
  const classpath = await kafkaClasspath();
  return run('java', [...toolJvmArgs(classpath, opts.heap), mainClass, ...args], { timeoutMs: opts.timeoutMs ?? 120_000 });
}

export interface ProducerPerfResult {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
  raw: string;
}

/**
 * kafka-producer-perf-test: `numRecords` records of `recordSize` random bytes as fast as possible,
 * acks=all and the idempotent producer unless `props` says otherwise.
 */
export async function producerPerfTest(opts: {
  bootstrap: string;
  topic: string;
  numRecords: number;
  recordSize: number;
  props?: Record<string, string | number>;
  timeoutMs?: number;
}): Promise<ProducerPerfResult> {
  const props = { acks: 'all', 'enable.idempotence': 'true', ...opts.props, 'bootstrap.servers': opts.bootstrap };
  const args = ['--topic', opts.topic, '--num-records', String(opts.numRecords), '--record-size', String(opts.recordSize), '--throughput', '-1'];
  args.push('--producer-props', ...Object.entries(props).map(([k, v]) => `${k}=${v}`));
  const res = await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', args, { timeoutMs: opts.timeoutMs ?? 300_000, heap: '512m' });
  // last line: "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, a ms 50th, b ms 95th, c ms 99th, d ms 99.9th."
  const line = res.stdout.trim().split('\n').reverse().find((l) => l.includes('records sent'));
  const m = line && /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th/.exec(line);
  if (res.code !== 0 || !m) {
    throw new Error(`ProducerPerformance failed (exit ${res.code}):\n${tail(res.stdout + res.stderr, 30)}`);
  }
  return {
    records: Number(m[1]),
    recordsPerSec: Number(m[2]),
    mbPerSec: Number(m[3]),
    avgLatencyMs: Number(m[4]),
    maxLatencyMs: Number(m[5]),
    p50Ms: Number(m[6]),
    p95Ms: Number(m[7]),
    p99Ms: Number(m[8]),
    p999Ms: Number(m[9]),
    raw: line,
  };
}

/** Creates a topic with Kafka's own kafka-topics tool (no Node client involved). */
export async function createTopic(
  bootstrap: string,
  topic: string,
  opts: { partitions?: number; config?: Record<string, string | number> } = {},
): Promise<void> {
  const args = ['--bootstrap-server', bootstrap, '--create', '--if-not-exists', '--topic', topic];
  args.push('--partitions', String(opts.partitions ?? 1), '--replication-factor', '1');
  for (const [k, v] of Object.entries(opts.config ?? {})) args.push('--config', `${k}=${v}`);
  const res = await runKafkaTool('org.apache.kafka.tools.TopicCommand', args);
  if (res.code !== 0) throw new Error(`kafka-topics --create ${topic} failed (exit ${res.code}):\n${tail(res.stdout + res.stderr, 20)}`);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function run(cmd: string, args: string[], opts: { timeoutMs: number }): Promise<ToolResult> {
  return new Promise((res, rej) => {
    const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n[killed after ${opts.timeoutMs} ms]`;
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  return ports;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      res(true);
    });
    sock.once('error', () => res(false));
  });
}

/** Test workers share .cache/kafka: a reader must never see a half-written file. */
function writeFileAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
