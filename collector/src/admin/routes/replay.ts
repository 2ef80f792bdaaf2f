/**
 * Replay (DESIGN §6): move a sink's or a consumer group's cursors.
 *   POST /api/v1/sinks/:sink/replay     consumer `sink:<name>`, cursors protect from retention
 *   POST /api/v1/groups/:group/replay   consumer `group:<name>`, cursors do not protect (as in Kafka)
 * Dry-run unless `execute: true`. Semantics in ../replay.ts and docs/inspection.md.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../../../../shared/src/api/events.ts';
import { ReplayRequest, ReplayResponse } from '../../../../shared/src/api/replay.ts';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { rejectUnknownBody } from '../query.ts';
import { groupConsumer } from '../../consumers/names.ts';
import { replay, type ReplayConsumer } from '../../consumers/replay.ts';

const SinkParams = Type.Object({ sink: Type.String({ minLength: 1, maxLength: 64 }) });
const GroupParams = Type.Object({ group: Type.String({ minLength: 1, maxLength: 249, pattern: '^[A-Za-z0-9._-]+$' }) });

export const replayRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;

  const guardReadonly = (execute: boolean | undefined) => {
    if (execute && collector.inspect) {
      throw new SluiceError(ErrorCodes.BAD_INPUT, 'this is a read-only inspection of a channel file: replay can be planned (dry-run) but not applied');
    }
  };

  app.post<{ Params: { sink: string }; Body: ReplayRequest }>(
    '/api/v1/sinks/:sink/replay',
    {
      preValidation: rejectUnknownBody(ReplayRequest),
      schema: {
        summary: "Replay: move a sink's cursors",
        description:
          "Moves the sink's cursor on each topic to earliest, latest, an offset, a time or by ±N. Without `execute: true` nothing changes and the answer is the plan: per topic the current and new position and how many events would be delivered again or skipped. Applied atomically over all topics and logged. Refused (400 SLUICE_OFFSET_OUT_OF_RANGE) when the target points at events retention already deleted.",
        tags: ['replay'],
        params: SinkParams,
        body: ReplayRequest,
        response: { 200: ReplayResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => {
      const runner = collector.sinks.get(request.params.sink);
      if (!runner) throw new SluiceError(ErrorCodes.NOT_FOUND, `sink "${request.params.sink}" does not exist`);
      const { topics: asked, to, execute } = request.body;
      guardReadonly(execute);
      let topics: string[];
      if (asked) {
        for (const t of asked) {
          if (!collector.channel.topic(t)) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${t}" does not exist`);
          if (!runner.matches(t)) throw new SluiceError(ErrorCodes.BAD_INPUT, `sink "${runner.name}" does not deliver topic "${t}"`);
        }
        topics = [...new Set(asked)];
      } else {
        topics = runner.topicStatus().map((t) => t.topic);
        if (topics.length === 0) throw new SluiceError(ErrorCodes.BAD_INPUT, `sink "${runner.name}" has no topics to replay yet`);
      }
      const startFrom = collector.config.sinks.find((s) => s.name === runner.name)?.runner.startFrom ?? 'earliest';
      const consumer: ReplayConsumer = {
        consumer: runner.consumer,
        protects: true,
        startOf: (_t, low, high) => (startFrom === 'latest' ? high : low),
      };
      return replay(collector.channel, collector.log, consumer, topics, to, execute ?? false);
    },
  );

  app.post<{ Params: { group: string }; Body: ReplayRequest }>(
    '/api/v1/groups/:group/replay',
    {
      preValidation: rejectUnknownBody(ReplayRequest),
      schema: {
        summary: "Replay: move a consumer group's offsets",
        description:
          'As for sinks, on the cursors of consumer `group:<name>` (they do not hold back retention). Without `topics`, every topic the group has an offset for; naming topics sets offsets the group does not have yet.',
        tags: ['replay'],
        params: GroupParams,
        body: ReplayRequest,
        response: { 200: ReplayResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => {
      const consumer = groupConsumer(request.params.group);
      const { topics: asked, to, execute } = request.body;
      guardReadonly(execute);
      const topics = asked ? [...new Set(asked)] : collector.channel.cursors(consumer).map((c) => c.topic);
      if (topics.length === 0) {
        throw new SluiceError(
          ErrorCodes.CURSOR_NOT_FOUND,
          `consumer group "${request.params.group}" has no committed offsets; name the topics to set its offsets on`,
        );
      }
      return replay(collector.channel, collector.log, { consumer, protects: false, startOf: (_t, low) => low }, topics, to, execute ?? false);
    },
  );
};
