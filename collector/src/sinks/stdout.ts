/**
 * stdout sink: writes each batch to standard output as NDJSON records (record.ts) or as raw
 * bodies, one line per event and one write per batch. A batch is confirmed once the write was
 * handed to the OS (the write callback ran).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Writable } from 'node:stream';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import type { Sink, SinkSpec } from '../components.ts';
import { ndjson, rawLines } from './record.ts';

const StdoutConfig = Type.Object(
  {
    format: Type.Union([Type.Literal('json'), Type.Literal('raw')], {
      default: 'json',
      description:
        '`json`: one JSON record per line (topic, offset, ts, key, headers, body decoded by its content type or `body_base64`); `raw`: the body as received, followed by a newline',
    }),
  },
  { additionalProperties: false },
);

export type StdoutConfig = Static<typeof StdoutConfig>;

/** The sink on any writable (the spec uses process.stdout; tests pass their own). */
export function createStdoutSink(config: StdoutConfig, name: string, stream: Writable): Sink {
  const encode = config.format === 'raw' ? rawLines : ndjson;
  let batches = 0;
  let events = 0;
  // A closed pipe also emits 'error'; the failed write reports it, this keeps it from crashing the process.
  const onError = () => {};
  stream.on('error', onError);
  return {
    send(batch: readonly StoredEvent[]): Promise<void> {
      if (batch.length === 0) return Promise.resolve();
      const data = encode(batch);
      return new Promise((resolve, reject) => {
        stream.write(data, (error) => {
          if (error) {
            // EPIPE and friends: the reader went away. Retriable so nothing is dropped; the state shows why.
            reject(new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${name}": cannot write to stdout: ${error.message}`, { retriable: true, cause: error }));
            return;
          }
          batches++;
          events += batch.length;
          resolve();
        });
      });
    },
    close(): Promise<void> {
      stream.off('error', onError);
      return Promise.resolve();
    },
    describe() {
      return { format: config.format, batches, events };
    },
  };
}

export const stdoutSink: SinkSpec<typeof StdoutConfig> = {
  kind: 'sink',
  name: 'stdout',
  summary: 'Writes events to standard output as NDJSON records or raw bodies',
  config: StdoutConfig,
  examples: [
    { title: 'JSON records, one per line', config: { format: 'json' } },
    { title: 'Bodies only, as received', config: { format: 'raw' } },
  ],
  create: (config, ctx) => createStdoutSink(config, ctx.name, process.stdout),
};
