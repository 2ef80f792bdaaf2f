/** Admin core: health, topics, sources, sinks, Prometheus metrics. */
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { integrityHealth } from '../../channel/integrity.ts';

export const coreRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;

  app.get('/api/v1/health', async () => {
    const stats = collector.channel.stats();
    const sinks = [...collector.sinks.values()].map((r) => ({ name: r.name, state: r.state }));
    const problems: string[] = [];
    if (stats.disk?.full) problems.push(`channel refuses new events: ${stats.disk.reason}`);
    const { integrity, problems: damage } = integrityHealth(collector.channel);
    problems.push(...damage);
    for (const s of sinks) if (s.state === 'failed') problems.push(`sink "${s.name}" failed`);
    return {
      status: problems.length > 0 ? 'degraded' : 'ok',
      problems,
      collectorId: collector.config.collectorId,
      version: process.env.npm_package_version ?? '0.1.0',
      startedAt: collector.startedAt,
      uptimeMs: Date.now() - collector.startedAt,
      readonly: collector.inspect,
      channel: { file: collector.channel.file, bytes: stats.bytes, maxBytes: stats.maxBytes, fill: stats.fill, walBytes: stats.walBytes, disk: stats.disk, integrity },
      sinks,
    };
  });

  app.get('/api/v1/topics', async () => {
    const rates = topicRates(collector.channel.topics());
    return {
      topics: collector.channel.topics().map((t) => ({ ...t, ratePerSec: rates.get(t.name) ?? 0 })),
    };
  });

  app.get<{ Params: { topic: string } }>('/api/v1/topics/:topic', async (request) => {
    const info = collector.channel.topic(request.params.topic);
    if (!info) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${request.params.topic}" does not exist`);
    const cursors = collector.channel.cursors().filter((c) => c.topic === info.name);
    return { ...info, policy: collector.channel.policyFor(info.name), cursors: cursors.map((c) => ({ ...c, lag: Math.max(0, info.high - Math.max(c.next, info.low)) })) };
  });

  app.get('/api/v1/sources', async () => ({
    sources: [...collector.sources.values()].map((h) => ({
      name: h.name,
      type: h.type,
      endpoints: h.source.endpoints(),
      interceptors: h.interceptors,
      chainVersion: h.chainVersion,
      ...h.stats,
      ...(h.source.network ? { network: h.source.network() } : {}),
    })),
  }));

  app.get('/api/v1/sinks', async () => ({
    sinks: [...collector.sinks.values()].map((r) => ({ ...r.status(), type: collector.config.sinks.find((s) => s.name === r.name)?.type })),
  }));

  app.get<{ Params: { sink: string } }>('/api/v1/sinks/:sink', async (request) => {
    const runner = collector.sinks.get(request.params.sink);
    if (!runner) throw new SluiceError(ErrorCodes.NOT_FOUND, `sink "${request.params.sink}" does not exist`);
    return { ...runner.status(), type: collector.config.sinks.find((s) => s.name === runner.name)?.type };
  });

  app.post<{ Params: { sink: string } }>('/api/v1/sinks/:sink/resume', async (request) => {
    const runner = collector.sinks.get(request.params.sink);
    if (!runner) throw new SluiceError(ErrorCodes.NOT_FOUND, `sink "${request.params.sink}" does not exist`);
    runner.resume();
    return runner.status();
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', collector.metrics.registry.contentType);
    return collector.metrics.registry.metrics();
  });
};

/** Events/s per topic over the time between two calls (a sliding sample kept per process). */
const lastSample = new Map<string, { high: number; at: number; rate: number }>();
function topicRates(topics: { name: string; high: number }[]): Map<string, number> {
  const now = Date.now();
  const out = new Map<string, number>();
  for (const t of topics) {
    const prev = lastSample.get(t.name);
    let rate = prev?.rate ?? 0;
    if (prev && now - prev.at >= 1000) {
      rate = ((t.high - prev.high) * 1000) / (now - prev.at);
      lastSample.set(t.name, { high: t.high, at: now, rate });
    } else if (!prev) {
      lastSample.set(t.name, { high: t.high, at: now, rate: 0 });
    }
    out.set(t.name, Math.round(rate * 10) / 10);
  }
  return out;
}
