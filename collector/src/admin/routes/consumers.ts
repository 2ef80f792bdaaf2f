/**
 * The consumer API (DESIGN §6): Kafka-style pull for consumers of a hub, and produce.
 *   GET    /api/v1/topics/:topic/fetch     read by offset or as a group, long-poll (`wait`)
 *   POST   /api/v1/topics/:topic/events    append events; answered after the commit
 *   DELETE /api/v1/topics/:topic/events    delete the events before an offset (kafka-delete-records)
 *   GET    /api/v1/groups                  groups with committed offset, high watermark and lag
 *   GET    /api/v1/groups/:group           one group
 *   POST   /api/v1/groups/:group/commit    commit offsets (one or many topics, atomically)
 *   DELETE /api/v1/groups/:group           forget a group's offsets
 * Semantics in ../consumers.ts and docs/consumers.md; schemas in shared/src/api/consumers.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import {
  CommitRequest,
  DeleteGroupQuery,
  DeleteGroupResponse,
  FetchQuery,
  FetchResponse,
  Group,
  GroupParams,
  GroupsResponse,
  ProduceRequest,
  ProduceResponse,
  TruncateQuery,
  TruncateResponse,
} from '../../../../shared/src/api/consumers.ts';
import { ApiError, TopicParams } from '../../../../shared/src/api/events.ts';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { commitOffsets, deleteGroup, describeGroup, fetchEvents, listGroups, produceDrafts } from '../../consumers/groups.ts';
import { schemasOf } from '../../consumers/schemas.ts';
import { rejectUnknownBody, rejectUnknownQuery } from '../query.ts';
import { abortOnClose } from './events.ts';

export const consumerRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;
  // Long-polls end at once when the server closes, so shutdown never waits out a `wait`.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());

  app.get<{ Params: TopicParams; Querystring: FetchQuery }>(
    '/api/v1/topics/:topic/fetch',
    {
      preValidation: rejectUnknownQuery(FetchQuery),
      schema: {
        summary: 'Consumer fetch: read by offset or as a consumer group, with long-poll',
        description:
          "Reads up to `max` events (about `maxBytes` of bodies) from `offset`/`time`/`last`, else from the group's committed offset, else per `reset` (default earliest; also applied when the position is older than what retention kept). With `wait`, an empty read waits up to that many ms and answers as soon as an event is committed. `commit=true` (with `group`) commits the start offset first — acknowledging everything before it — so a loop of `offset=<next>&commit=true` is at-least-once. A topic that does not exist yet reads as empty (`exists: false`). See docs/consumers.md.",
        tags: ['consumers'],
        params: TopicParams,
        querystring: FetchQuery,
        response: { 200: FetchResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request, reply) => {
      const signal = AbortSignal.any([abortOnClose(reply.raw), closing.signal]);
      const decoder = schemasOf(collector.channel, collector.inspect).decoder(request.params.topic);
      return fetchEvents(collector.channel, request.params.topic, request.query, { signal, readonly: collector.inspect, decoder });
    },
  );

  app.post<{ Params: TopicParams; Body: ProduceRequest }>(
    '/api/v1/topics/:topic/events',
    {
      preValidation: rejectUnknownBody(ProduceRequest),
      schema: {
        summary: 'Produce: append events to a topic',
        description:
          'Appends the events in order, in one commit, and answers after the commit (the channel\'s ack-after-commit promise). Each body is exactly one of `value` (JSON, stored as application/json), `text` (text/plain) or `base64` (application/octet-stream); a `content-type` header overrides the type. No interceptor chain runs: events are stored as given. A full channel answers 503 SLUICE_CHANNEL_FULL (retry later).',
        tags: ['consumers'],
        params: TopicParams,
        body: ProduceRequest,
        response: { 200: ProduceResponse, 400: ApiError, 413: ApiError, 503: ApiError },
      },
    },
    async (request) => {
      if (collector.inspect) throw new SluiceError(ErrorCodes.BAD_INPUT, 'this is a read-only inspection of a channel file: cannot produce');
      const { topic } = request.params;
      const drafts = produceDrafts(topic, request.body.events, Date.now());
      const { ranges } = await collector.channel.append({ events: drafts });
      const range = ranges[0];
      return { topic, first: range.first, last: range.last, count: drafts.length, high: range.last + 1 };
    },
  );

  app.delete<{ Params: TopicParams; Querystring: TruncateQuery }>(
    '/api/v1/topics/:topic/events',
    {
      preValidation: rejectUnknownQuery(TruncateQuery),
      schema: {
        summary: "Truncate: delete a topic's events before an offset",
        description:
          'Like `kafka-delete-records`: deletes the events before `before`, delivered or not, in whole record batches (the new low is the first offset of the batch holding `before`, or the high watermark). Sinks and groups behind the new low continue from it; events a sink had not delivered count as dropped. Answers what was deleted.',
        tags: ['consumers'],
        params: TopicParams,
        querystring: TruncateQuery,
        response: { 200: TruncateResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => {
      const { topic } = request.params;
      if (collector.inspect) throw new SluiceError(ErrorCodes.BAD_INPUT, 'this is a read-only inspection of a channel file: cannot truncate');
      const result = collector.channel.truncate(topic, request.query.before);
      const high = collector.channel.topic(topic)?.high ?? result.low;
      collector.log.warn({ topic, before: request.query.before, low: result.low, deleted: result.deletedEvents, dropped: result.droppedEvents }, `topic "${topic}" truncated before offset ${result.low}: ${result.deletedEvents} events deleted (${result.droppedEvents} not yet delivered)`);
      return { topic, low: result.low, high, deleted: result.deletedEvents, dropped: result.droppedEvents, bytes: result.freedBytes };
    },
  );

  app.get(
    '/api/v1/groups',
    {
      schema: {
        summary: 'Consumer groups with committed offset, high watermark and lag per topic',
        description: 'Every group that has committed an offset on this collector (a group exists from its first commit until it is deleted).',
        tags: ['consumers'],
        response: { 200: GroupsResponse },
      },
    },
    async () => ({ groups: listGroups(collector.channel) }),
  );

  app.get<{ Params: GroupParams }>(
    '/api/v1/groups/:group',
    {
      schema: {
        summary: 'One consumer group',
        description: 'Committed offset, low and high watermarks, lag and events lost to retention per topic. 404 SLUICE_CURSOR_NOT_FOUND when the group has no committed offsets.',
        tags: ['consumers'],
        params: GroupParams,
        response: { 200: Group, 404: ApiError },
      },
    },
    async (request) => describeGroup(collector.channel, request.params.group),
  );

  app.post<{ Params: GroupParams; Body: CommitRequest }>(
    '/api/v1/groups/:group/commit',
    {
      preValidation: rejectUnknownBody(CommitRequest),
      schema: {
        summary: "Commit a consumer group's offsets",
        description:
          'Commits the next offset to read per topic, for one or many topics in one durable transaction: all or none. Creates the group if it is new. An offset beyond the high watermark or an unknown topic refuses the whole commit. Answers the group as after the commit.',
        tags: ['consumers'],
        params: GroupParams,
        body: CommitRequest,
        response: { 200: Group, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => commitOffsets(collector.channel, request.params.group, request.body.offsets, collector.inspect),
  );

  app.delete<{ Params: GroupParams; Querystring: DeleteGroupQuery }>(
    '/api/v1/groups/:group',
    {
      preValidation: rejectUnknownQuery(DeleteGroupQuery),
      schema: {
        summary: 'Delete a consumer group (or some of its offsets)',
        description:
          "Forgets the group's committed offsets, all of them or those of the `topic`s named. A consumer that fetches as the group afterwards starts per its `reset` policy.",
        tags: ['consumers'],
        params: GroupParams,
        querystring: DeleteGroupQuery,
        response: { 200: DeleteGroupResponse, 404: ApiError },
      },
    },
    async (request) => {
      const result = deleteGroup(collector.channel, request.params.group, request.query.topic, collector.inspect);
      collector.log.info({ group: result.group, deleted: result.deleted }, `consumer group "${result.group}": offsets deleted for ${result.deleted.map((d) => d.topic).join(', ')}`);
      return result;
    },
  );
};
