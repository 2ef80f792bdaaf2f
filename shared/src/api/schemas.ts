/**
 * Admin API schemas for per-topic viewer schemas (collector/src/admin/routes/schemas.ts): the
 * Protobuf or Avro schema the browser, detail pane, live tail, export and search decode a
 * topic's binary bodies with. Kept by the collector in its channel, so every client agrees.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Largest schema text accepted (a .proto file, a base64 descriptor set, an Avro schema). */
export const MAX_SCHEMA_CHARS = 512 * 1024;

export const SchemaKind = Type.Union([Type.Literal('protobuf'), Type.Literal('avro')]);
export type SchemaKind = Static<typeof SchemaKind>;

export const Framing = Type.Union([Type.Literal('none'), Type.Literal('confluent')], {
  description:
    '`none` (default): the body is the encoded message. `confluent`: the Confluent Schema Registry wire format — a 0x00 magic byte and a 4-byte schema id (and, for Protobuf, the message-index list) come first and are skipped; the id is shown as `schemaId`',
});
export type Framing = Static<typeof Framing>;

export const TopicSchemaRequest = Type.Object(
  {
    kind: SchemaKind,
    proto: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SCHEMA_CHARS, description: 'Protobuf: the text of a .proto file (imports other than google/protobuf/* need a descriptor set instead)' })),
    descriptorSet: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_SCHEMA_CHARS,
        contentEncoding: 'base64',
        description: 'Protobuf: a binary FileDescriptorSet, base64 (`protoc --include_imports --descriptor_set_out=set.pb …`)',
      }),
    ),
    messageType: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Protobuf: the fully qualified message type of every body, e.g. `shop.v1.Order`' })),
    schema: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SCHEMA_CHARS, description: 'Avro: the schema as JSON text (an .avsc file)' })),
    framing: Type.Optional(Framing),
  },
  { additionalProperties: false },
);
export type TopicSchemaRequest = Static<typeof TopicSchemaRequest>;

export const TopicSchemaResponse = Type.Object(
  {
    topic: Type.String(),
    schema: TopicSchemaRequest,
    /** Protobuf: every message type the schema defines (what the desktop's picker offers); Avro: the schema's name. */
    types: Type.Array(Type.String()),
    updatedAt: Type.Integer({ description: 'When the schema was set (ms since the epoch)' }),
  },
  { additionalProperties: false },
);
export type TopicSchemaResponse = Static<typeof TopicSchemaResponse>;

export const SchemaValidateResponse = Type.Object(
  {
    ok: Type.Boolean({ description: 'Whether PUT would accept this schema' }),
    types: Type.Array(Type.String({ description: 'Protobuf: the message types defined (also when messageType is missing or wrong); Avro: the schema name' })),
    error: Type.Optional(Type.String({ description: 'What is wrong, when not ok' })),
  },
  { additionalProperties: false },
);
export type SchemaValidateResponse = Static<typeof SchemaValidateResponse>;

export const TopicSchemasResponse = Type.Object(
  { schemas: Type.Array(Type.Object({ topic: Type.String(), kind: SchemaKind, messageType: Type.Optional(Type.String()), updatedAt: Type.Integer() }, { additionalProperties: false })) },
  { additionalProperties: false },
);
export type TopicSchemasResponse = Static<typeof TopicSchemasResponse>;
