/**
 * Interceptor chains changed live (DESIGN §4, §6), and the component catalogue:
 *   GET  /api/v1/sources/:source/interceptors            the chain and its version
 *   POST /api/v1/sources/:source/interceptors/validate   problems with their paths, as the config reports them
 *   POST /api/v1/sources/:source/interceptors/preview    before/after on events sampled from a topic
 *   PUT  /api/v1/sources/:source/interceptors            apply live (Collector.setChain) and write the YAML back
 *   GET  /api/v1/components                              every source, interceptor and sink spec with its JSON schema
 *
 * The preview runs the proposed chain with exactly the code the collector runs (shared/), on a
 * fresh instance, so a stateful step (sample) does not disturb the live chain.
 */
import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../../../../shared/src/api/events.ts';
import {
  ApplyRequest,
  ApplyResponse,
  ChainResponse,
  ComponentsResponse,
  PreviewRequest,
  PreviewResponse,
  SourceParams,
  ValidateRequest,
  ValidateResponse,
  type ComponentInfo,
  type PreviewItem,
} from '../../../../shared/src/api/interceptors.ts';
import type { StoredEvent } from '../../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { buildChain, interceptors as interceptorRegistry } from '../../interceptors/index.ts';
import type { InterceptorConfig } from '../../interceptors/types.ts';
import type { ComponentSpec } from '../../../../shared/src/spec.ts';
import { ConfigError } from '../../config/load.ts';
import type { Collector, SourceHandle } from '../../runtime/collector.ts';
import { presentEvent } from '../../consumers/present.ts';
import { rejectUnknownBody } from '../query.ts';

const MAX_PREVIEW = 500;

function sourceOrThrow(collector: Collector, name: string): SourceHandle {
  const handle = collector.sources.get(name);
  if (!handle) throw new SluiceError(ErrorCodes.NOT_FOUND, `source "${name}" does not exist`);
  return handle;
}

/** Problems of a proposed chain: buildChain's, the checks setChain runs (schemas, then each factory's own). */
function chainProblems(collector: Collector, source: string, chain: readonly InterceptorConfig[]) {
  return buildChain(chain, `sources.${source}.interceptors`, collector.interceptorContext).problems;
}

function describe(spec: ComponentSpec): ComponentInfo {
  return { name: spec.name, summary: spec.summary, schema: JSON.parse(JSON.stringify(spec.config)), examples: spec.examples.map((e) => ({ title: e.title, config: e.config })) };
}

/** Runs a proposed chain (a fresh instance) over events: before/after and which step dropped each. */
export function previewEvents(collector: Collector, path: string, chain: readonly InterceptorConfig[], events: readonly StoredEvent[]): PreviewItem[] {
  const built = buildChain(chain, path, collector.interceptorContext);
  if (built.problems.length > 0) throw new ConfigError(built.problems, path);
  return events.map((e) => {
    const run = built.runChain({ topic: e.topic, ts: e.ts, key: e.key, headers: e.headers, body: e.body });
    const d = run.droppedBy;
    return {
      offset: e.offset,
      before: presentEvent(e),
      after: run.event ? presentEvent({ ...run.event, offset: e.offset }) : null,
      afterTopic: run.event ? run.event.topic : null,
      droppedBy: d ? { index: d.index, type: d.type, ...(d.error === undefined ? {} : { error: d.error }) } : null,
      ...(run.errors.length > 0 ? { errors: run.errors.map((x) => ({ index: x.index, type: x.type, message: x.message })) } : {}),
    };
  });
}

export const interceptorRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;

  app.get<{ Params: { source: string } }>(
    '/api/v1/sources/:source/interceptors',
    {
      schema: {
        summary: "A source's interceptor chain",
        tags: ['interceptors'],
        params: SourceParams,
        response: { 200: ChainResponse, 404: ApiError },
      },
    },
    async (request) => {
      const h = sourceOrThrow(collector, request.params.source);
      return { source: h.name, type: h.type, chainVersion: h.chainVersion, interceptors: h.interceptors as InterceptorConfig[] };
    },
  );

  app.post<{ Params: { source: string }; Body: ValidateRequest }>(
    '/api/v1/sources/:source/interceptors/validate',
    {
      preValidation: rejectUnknownBody(ValidateRequest),
      schema: {
        summary: 'Validate a proposed chain',
        description: 'Checks the chain with the schemas the config file uses; every problem comes with its path (`sources.web.interceptors[1].pattern`). Always 200; `valid` says the verdict.',
        tags: ['interceptors'],
        params: SourceParams,
        body: ValidateRequest,
        response: { 200: ValidateResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => {
      const h = sourceOrThrow(collector, request.params.source);
      const problems = chainProblems(collector, h.name, request.body.interceptors as InterceptorConfig[]);
      return { valid: problems.length === 0, problems };
    },
  );

  app.post<{ Params: { source: string }; Body: PreviewRequest }>(
    '/api/v1/sources/:source/interceptors/preview',
    {
      preValidation: rejectUnknownBody(PreviewRequest),
      schema: {
        summary: 'Preview a proposed chain on sampled events',
        description:
          'Runs the chain (validated first; 400 with problems if invalid) on the newest N events of a topic, or on a range, and shows each event before and after, and which step dropped it. Nothing is written.',
        tags: ['interceptors'],
        params: SourceParams,
        body: PreviewRequest,
        response: { 200: PreviewResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => {
      const h = sourceOrThrow(collector, request.params.source);
      const chain = request.body.interceptors as InterceptorConfig[];
      const path = `sources.${h.name}.interceptors`;
      const problems = chainProblems(collector, h.name, chain);
      if (problems.length > 0) throw new ConfigError(problems, path);
      const { topic, last, from, to } = request.body.sample;
      const info = collector.channel.topic(topic);
      if (!info) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
      let events: StoredEvent[];
      if (from !== undefined || to !== undefined) {
        if (last !== undefined) throw new SluiceError(ErrorCodes.BAD_INPUT, 'sample: give last, or from/to, not both');
        const start = Math.max(from ?? info.low, info.low);
        const end = Math.min(to ?? start + 20, info.high);
        if (end - start > MAX_PREVIEW) throw new SluiceError(ErrorCodes.BAD_INPUT, `sample: at most ${MAX_PREVIEW} events (asked for ${end - start})`);
        events = end > start ? collector.channel.read(topic, start, { maxEvents: end - start }) : [];
      } else {
        events = collector.channel.readLast(topic, last ?? 20);
      }
      const items = previewEvents(collector, path, chain, events);
      const kept = items.filter((i) => i.after !== null).length;
      return { topic, sampled: items.length, kept, dropped: items.length - kept, events: items };
    },
  );

  app.put<{ Params: { source: string }; Body: ApplyRequest }>(
    '/api/v1/sources/:source/interceptors',
    {
      preValidation: rejectUnknownBody(ApplyRequest),
      schema: {
        summary: 'Apply a chain live',
        description:
          'Validates the chain (400 with problems if invalid), swaps it in without a restart — every ingest batch runs wholly under the old or the new chain, so the change applies from a clear point and nothing in flight is lost or run twice — and, unless `persist: false`, writes it into the config file keeping its comments and layout.',
        tags: ['interceptors'],
        params: SourceParams,
        body: ApplyRequest,
        response: { 200: ApplyResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => {
      const h = sourceOrThrow(collector, request.params.source);
      const chain = request.body.interceptors as InterceptorConfig[];
      const problems = chainProblems(collector, h.name, chain);
      if (problems.length > 0) throw new ConfigError(problems, `sources.${h.name}.interceptors`);
      const { version, persisted } = collector.setChain(h.name, chain, { persist: request.body.persist ?? true });
      return { source: h.name, chainVersion: version, persisted, interceptors: h.interceptors as InterceptorConfig[], appliedAt: Date.now() };
    },
  );

  app.get(
    '/api/v1/components',
    {
      schema: {
        summary: 'Every source, interceptor and sink type with its config schema',
        description: 'The specs the config is validated with: name, one-line summary, JSON Schema of the config (defaults, descriptions, examples) — what the desktop generates its forms from.',
        tags: ['interceptors'],
        response: { 200: ComponentsResponse },
      },
    },
    async () => ({
      sources: collector.config.registries.sources.all().map(describe),
      interceptors: interceptorRegistry.all().map(describe),
      sinks: collector.config.registries.sinks.all().map(describe),
    }),
  );
};
