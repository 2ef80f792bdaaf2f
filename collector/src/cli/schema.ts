/**
 * `sluice schema [TOPIC]`: a topic's viewer schema (docs/inspection.md, "Schemas") — show it, set
 * it from a file (`--proto FILE --type T`, `--descriptor-set FILE --type T`, `--avro FILE`,
 * optionally `--framing confluent`), or `--remove` it. Without a topic: every topic that has one.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { Framing, TopicSchemaRequest, TopicSchemaResponse, TopicSchemasResponse } from '../../../shared/src/api/schemas.ts';
import { action, AdminClient, CliError, table, withAdminOptions, type AdminOptions } from './client.ts';

interface SchemaOptions extends AdminOptions {
  proto?: string;
  descriptorSet?: string;
  avro?: string;
  type?: string;
  framing?: string;
  remove?: boolean;
  json?: boolean;
}

function read(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CliError(`${option}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 2);
  }
}

/** The request the options describe, or null when they set nothing. */
export function schemaRequest(o: SchemaOptions): TopicSchemaRequest | null {
  const given = (['proto', 'descriptorSet', 'avro'] as const).filter((k) => o[k] !== undefined);
  if (given.length === 0) {
    if (o.type !== undefined || o.framing !== undefined) throw new CliError('--type and --framing go with --proto, --descriptor-set or --avro', 2);
    return null;
  }
  if (given.length > 1) throw new CliError('give one of --proto, --descriptor-set, --avro', 2);
  if (o.framing !== undefined && o.framing !== 'none' && o.framing !== 'confluent') throw new CliError(`--framing: "${o.framing}" is not none or confluent`, 2);
  const framing = o.framing === 'confluent' ? { framing: 'confluent' as Framing } : {};
  if (o.avro !== undefined) {
    if (o.type !== undefined) throw new CliError('--type is for protobuf schemas (an Avro schema names its own type)', 2);
    return { kind: 'avro', schema: read(o.avro, '--avro').toString('utf8'), ...framing };
  }
  const type = o.type === undefined ? {} : { messageType: o.type };
  if (o.proto !== undefined) return { kind: 'protobuf', proto: read(o.proto, '--proto').toString('utf8'), ...type, ...framing };
  return { kind: 'protobuf', descriptorSet: read(o.descriptorSet!, '--descriptor-set').toString('base64'), ...type, ...framing };
}

function describe(s: TopicSchemaResponse): string {
  const what = s.schema.kind === 'protobuf' ? `protobuf ${s.schema.messageType ?? ''} (${s.schema.descriptorSet !== undefined ? 'descriptor set' : '.proto'})` : `avro ${s.types[0] ?? ''}`;
  return `${s.topic}: ${what}${s.schema.framing === 'confluent' ? ', Confluent framing' : ''}, set ${new Date(s.updatedAt).toISOString()}`;
}

export function registerSchema(program: Command): void {
  withAdminOptions(
    program
      .command('schema')
      .description("show, set or remove a topic's viewer schema (Protobuf or Avro): browse, tail, search and export decode its bodies with it")
      .argument('[topic]', 'topic name (none: list the topics that have a schema)'),
  )
    .option('--proto <file>', 'a .proto file (imports other than google/protobuf/*: use --descriptor-set)')
    .option('--descriptor-set <file>', 'a binary FileDescriptorSet (protoc --include_imports --descriptor_set_out=FILE)')
    .option('--type <message>', 'the protobuf message type of the bodies, e.g. shop.v1.Order')
    .option('--avro <file>', 'an Avro schema (.avsc)')
    .option('--framing <framing>', 'none, or confluent (a magic byte and schema id come first)')
    .option('--remove', "remove the topic's schema")
    .option('--json', 'print the API answer as JSON')
    .action(
      action(async (topic: string | undefined, o: SchemaOptions) => {
        const client = new AdminClient(o);
        const request = schemaRequest(o);
        if (topic === undefined) {
          if (request || o.remove) throw new CliError('name the topic to set or remove a schema of', 2);
          const { schemas } = await client.get<TopicSchemasResponse>('/api/v1/schemas');
          if (o.json) console.log(JSON.stringify(schemas, null, 2));
          else if (schemas.length === 0) console.log('no topic has a schema');
          else console.log(table(['TOPIC', 'KIND', 'TYPE', 'SET'], schemas.map((s) => [s.topic, s.kind, s.messageType ?? '–', new Date(s.updatedAt).toISOString()])));
          return;
        }
        const path = `/api/v1/topics/${encodeURIComponent(topic)}/schema`;
        if (o.remove) {
          if (request) throw new CliError('give either --remove or a schema to set', 2);
          const r = await client.request<{ deleted: boolean }>('DELETE', path);
          console.log(r.deleted ? `${topic}: schema removed` : `${topic}: had no schema`);
          return;
        }
        let answer: TopicSchemaResponse;
        if (request) {
          answer = await client.request<TopicSchemaResponse>('PUT', path, request);
        } else {
          try {
            answer = await client.get<TopicSchemaResponse>(path);
          } catch (error) {
            if (error instanceof CliError && error.api?.status === 404) {
              console.log(`${topic}: no schema (bodies are shown by their content type)`);
              return;
            }
            throw error;
          }
        }
        console.log(o.json ? JSON.stringify(answer, null, 2) : describe(answer));
      }),
    );
}
