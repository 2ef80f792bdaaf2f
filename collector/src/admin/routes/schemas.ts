/**
 * Viewer schemas per topic (docs/inspection.md, "Schemas"):
 *   GET    /api/v1/schemas                  every topic that has one
 *   POST   /api/v1/schemas/validate         would this schema be accepted; its message types
 *   GET    /api/v1/topics/:topic/schema     the topic's schema
 *   PUT    /api/v1/topics/:topic/schema     set (replace) it
 *   DELETE /api/v1/topics/:topic/schema     remove it
 * The logic is in ../../consumers/schemas.ts; the schemas in shared/src/api/schemas.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ApiError, TopicParams } from '../../../../shared/src/api/events.ts';
import { SchemaValidateResponse, TopicSchemaRequest, TopicSchemaResponse, TopicSchemasResponse } from '../../../../shared/src/api/schemas.ts';
import { isValidTopic } from '../../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { schemasOf, validateSchema } from '../../consumers/schemas.ts';
import { rejectUnknownBody } from '../query.ts';

const DeleteSchemaResponse = Type.Object({ topic: Type.String(), deleted: Type.Boolean({ description: 'Whether the topic had a schema' }) }, { additionalProperties: false });

export const schemaRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;
  const schemas = () => schemasOf(collector.channel, collector.inspect);
  const checkTopic = (topic: string) => {
    if (!isValidTopic(topic)) throw new SluiceError(ErrorCodes.TOPIC_INVALID, `"${topic}" is not a topic name (1–249 letters, digits, ".", "_", "-")`);
  };

  app.get(
    '/api/v1/schemas',
    { schema: { summary: 'List the topics that have a viewer schema', tags: ['schemas'], response: { 200: TopicSchemasResponse } } },
    async () => ({ schemas: schemas().list() }),
  );

  app.post<{ Body: TopicSchemaRequest }>(
    '/api/v1/schemas/validate',
    {
      preValidation: rejectUnknownBody(TopicSchemaRequest),
      schema: {
        summary: 'Check a viewer schema without setting it',
        description: 'Answers whether PUT would accept the schema, what is wrong if not, and the message types it defines (Protobuf; also when `messageType` is missing or wrong, so a client can offer them).',
        tags: ['schemas'],
        body: TopicSchemaRequest,
        response: { 200: SchemaValidateResponse, 400: ApiError },
      },
    },
    async (request) => validateSchema(request.body),
  );

  app.get<{ Params: TopicParams }>(
    '/api/v1/topics/:topic/schema',
    {
      schema: {
        summary: "A topic's viewer schema",
        description: 'The Protobuf or Avro schema browse, search, the live tail and export decode the topic\'s bodies with. 404 when the topic has none.',
        tags: ['schemas'],
        params: TopicParams,
        response: { 200: TopicSchemaResponse, 400: ApiError, 404: ApiError },
      },
    },
    async (request) => {
      const { topic } = request.params;
      checkTopic(topic);
      let found;
      try {
        found = schemas().get(topic);
      } catch (error) {
        throw new SluiceError(ErrorCodes.SCHEMA_INVALID, `topic "${topic}" has a stored schema this collector cannot use: ${(error as Error).message}; set it again`);
      }
      if (!found) throw new SluiceError(ErrorCodes.NOT_FOUND, `topic "${topic}" has no schema (set one with PUT /api/v1/topics/${topic}/schema)`);
      return found;
    },
  );

  app.put<{ Params: TopicParams; Body: TopicSchemaRequest }>(
    '/api/v1/topics/:topic/schema',
    {
      preValidation: rejectUnknownBody(TopicSchemaRequest),
      schema: {
        summary: "Set a topic's viewer schema",
        description:
          'Protobuf: `proto` (a .proto file\'s text) or `descriptorSet` (a binary FileDescriptorSet, base64) and `messageType`. Avro: `schema` (the .avsc JSON text). `framing: "confluent"` skips the Confluent wire-format header. The schema is checked and compiled first (400 SLUICE_SCHEMA_INVALID naming the problem, the previous schema kept), then stored in the channel, so it survives restarts. The topic need not exist yet.',
        tags: ['schemas'],
        params: TopicParams,
        body: TopicSchemaRequest,
        response: { 200: TopicSchemaResponse, 400: ApiError, 413: ApiError },
      },
    },
    async (request) => {
      const { topic } = request.params;
      checkTopic(topic);
      const answer = schemas().put(topic, request.body);
      request.log.info(`viewer schema of topic "${topic}" set: ${answer.schema.kind}${answer.schema.messageType ? ` ${answer.schema.messageType}` : ''}`);
      return answer;
    },
  );

  app.delete<{ Params: TopicParams }>(
    '/api/v1/topics/:topic/schema',
    {
      schema: {
        summary: "Remove a topic's viewer schema",
        description: 'Its bodies are shown by their content type again.',
        tags: ['schemas'],
        params: TopicParams,
        response: { 200: DeleteSchemaResponse, 400: ApiError },
      },
    },
    async (request) => {
      const { topic } = request.params;
      checkTopic(topic);
      return { topic, deleted: schemas().delete(topic) };
    },
  );
};
