/**
 * Live tail over WebSocket: GET /api/v1/topics/:topic/tail (DESIGN §6). The protocol — one JSON
 * text frame per message, `hello`, `events`, `gap`, `progress`, `error` — is TailMessage in
 * shared/src/api/events.ts; the flow control is in ../tail.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { ApiError, TailQuery, TopicParams, type TailMessage } from '../../../../shared/src/api/events.ts';
import { ErrorCodes, errorMessage, isSluiceError } from '../../../../shared/src/errors.ts';
import type { Collector } from '../../runtime/collector.ts';
import { compileFilter, type EventFilter } from '../../consumers/filters.ts';
import { schemasOf } from '../../consumers/schemas.ts';
import { rejectUnknownQuery } from '../query.ts';
import { TailHub, type TailHubOptions } from '../tail.ts';

const hubs = new WeakMap<Collector, TailHub>();
const hubOptions = new WeakMap<Collector, TailHubOptions>();

/** The collector's tail hub (one per collector, created with the admin app). */
export function tailHubOf(collector: Collector): TailHub | undefined {
  return hubs.get(collector);
}

/** Sets flow-control options before the admin app is built (tests and benchmarks use small ones). */
export function configureTail(collector: Collector, options: TailHubOptions): void {
  hubOptions.set(collector, options);
}

export const tailRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;
  const hub = new TailHub(collector.channel, hubOptions.get(collector));
  hubs.set(collector, hub);
  app.addHook('onClose', async () => hub.close());

  app.get<{ Params: TopicParams; Querystring: TailQuery }>(
    '/api/v1/topics/:topic/tail',
    {
      websocket: true,
      preValidation: rejectUnknownQuery(TailQuery),
      schema: {
        summary: 'Live tail (WebSocket)',
        description:
          'Upgrade to a WebSocket that sends the topic\'s events as they are committed, with the filters of /events. Messages (JSON text frames): `hello` {topic, from, low, high, exists, filtered}; `events` {events, next}; `gap` {missed, from, to} when the client read too slowly and was skipped ahead; `progress` {next, scanned} when a filtered tail scanned without a match (at most once a second); `error` {error}. Browsers pass the token as `access_token`.',
        tags: ['events'],
        params: TopicParams,
        querystring: TailQuery,
        response: { 400: ApiError },
      },
      config: { openapi: { responses: { 101: { description: 'Switching to the WebSocket protocol' } } } },
    },
    (socket: WebSocket, request) => {
      const { topic } = request.params;
      const q = request.query;
      const fail = (code: string, message: string) => {
        const m: TailMessage = { type: 'error', error: { code, message } };
        socket.send(JSON.stringify(m), () => socket.close(1008, code));
      };
      const decoder = schemasOf(collector.channel, collector.inspect).decoder(topic);
      let filter: EventFilter;
      try {
        filter = compileFilter(q, decoder);
      } catch (error) {
        fail(isSluiceError(error) ? error.code : ErrorCodes.BAD_INPUT, errorMessage(error));
        return;
      }
      if (q.from !== undefined && q.last !== undefined) {
        fail(ErrorCodes.BAD_INPUT, 'give one of from, last');
        return;
      }
      const info = collector.channel.topic(topic);
      const low = info?.low ?? 0;
      const high = info?.high ?? 0;
      let from = high;
      if (q.from !== undefined) {
        if (q.from > high) {
          fail(ErrorCodes.OFFSET_OUT_OF_RANGE, `topic "${topic}": offset ${q.from} is beyond the end (high watermark ${high})`);
          return;
        }
        from = Math.max(q.from, low);
      } else if (q.last !== undefined) {
        from = Math.max(low, high - q.last);
      }
      const client = hub.add(topic, socket, filter, from, decoder);
      client.send({ type: 'hello', topic, from, low, high, exists: info !== undefined, filtered: filter.active });
      client.wake();
    },
  );
};
