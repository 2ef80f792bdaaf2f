/**
 * The collector's own config sections (collector, log, channel, admin) and the keys every source
 * and sink has (type, interceptors; topics, batch, retry, …). Component-specific keys come from
 * each component's spec. Durations are integers (ms) or strings like `500ms`, `30s`, `7d`; sizes
 * are integers (bytes) or strings like `64KiB`, `1GiB`, `10MB`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { EXPECTED } from '../../../shared/src/spec.ts';

export { ADDRESS_EXPECTED, ADDRESS_PATTERN, Duration, LISTEN_EXPECTED, LISTEN_PATTERN, Size, toBytes, toMinFreeSpace, toMs } from '../units.ts';
import { Duration, LISTEN_EXPECTED, LISTEN_PATTERN, Size } from '../units.ts';

const WhenFull = Type.Union([Type.Literal('block'), Type.Literal('drop_oldest')], {
  description: 'At capacity: `block` refuses new events (back-pressure: sources answer with a retryable error, tail sources pause); `drop_oldest` removes the oldest events of this topic even if undelivered, counting each',
});

const TopicPolicy = Type.Object(
  {
    max_age: Type.Optional(Type.Union([Duration('Delete delivered events older than this'), Type.Null()])),
    max_bytes: Type.Optional(Type.Union([Size('Keep at most this many bytes of this topic'), Type.Null()])),
    when_full: Type.Optional(WhenFull),
  },
  { additionalProperties: false },
);

export const CollectorSection = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, description: 'This collector\'s id, used in forward chunk ids and shown in the UI (default: the host name)' })),
  },
  { additionalProperties: false, default: {} },
);

export const FleetSection = Type.Object(
  {
    report: Type.Union([Type.Literal('auto'), Type.Boolean()], {
      default: 'auto',
      description: 'Report this collector\'s state to its hubs: an event on the reserved topic `_sluice.fleet` every `report_interval`, which forward sinks deliver with the rest (auto: when a forward sink is configured)',
    }),
    report_interval: Duration('How often this collector reports its state', '30s'),
    stale_after: Type.Number({ minimum: 1, default: 3, description: 'On a hub: an edge silent for this many of its report intervals is shown as stale' }),
  },
  { additionalProperties: false, default: {} },
);

export const LogSection = Type.Object(
  {
    level: Type.Union([Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('fatal'), Type.Literal('silent')], {
      default: 'info',
      description: 'Log level (JSON lines on stderr)',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const ChannelSection = Type.Object(
  {
    path: Type.String({ default: './data', description: 'Folder of the channel database (channel.db); relative paths are relative to the working directory' }),
    synchronous: Type.Union([Type.Literal('full'), Type.Literal('extra'), Type.Literal('normal')], {
      default: 'full',
      description: 'SQLite synchronous level for commits: `full` (an ack survives power loss), `extra`, or `normal` (an ack survives a process crash, not power loss)',
    }),
    max_bytes: Size('Capacity of the channel: total stored event bytes', '1GiB'),
    min_free_space: Type.Union(
      [
        Type.Literal('auto'),
        Type.Integer({ minimum: 0 }),
        Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$' }),
      ],
      {
        default: 'auto',
        [EXPECTED]: 'a size such as 512MiB, a share of the filesystem such as 5%, auto, or 0 (off)',
        description:
          'Free space to keep on the filesystem holding the channel: below it sources refuse new events (HTTP 503 + Retry-After, forward no ack, syslog TCP and tail pause) while sinks keep delivering. A size (`512MiB`), a share of the filesystem (`5%`), `auto` (256 MiB, at most 10% of the filesystem) or 0 (off)',
      },
    ),
    commit_window_ms: Type.Integer({ minimum: 0, maximum: 1000, default: 0, description: 'Group commit: wait this long for more appends before committing (0: commit on the next event-loop turn)' }),
    retention: Type.Object(
      {
        max_age: Type.Union([Duration('Delete delivered events older than this'), Type.Null()], { default: '7d' }),
        max_bytes: Type.Union([Size('Per topic: keep at most this many bytes (delivered events go first)'), Type.Null()], { default: null }),
      },
      { additionalProperties: false, default: {} },
    ),
    when_full: Type.Union([Type.Literal('block'), Type.Literal('drop_oldest')], { default: 'block', description: WhenFull.description }),
    topics: Type.Record(Type.String(), TopicPolicy, { default: {}, description: 'Per-topic policy by name or glob (`metrics.*`); the first match wins' }),
  },
  { additionalProperties: false, default: {} },
);

export const AdminSection = Type.Object(
  {
    listen: Type.String({
      pattern: LISTEN_PATTERN,
      [EXPECTED]: LISTEN_EXPECTED,
      default: '127.0.0.1:9410',
      description: 'Admin API and web UI address (host:port). Any address but loopback requires `token`',
    }),
    token: Type.Optional(Type.String({ minLength: 16, description: 'Bearer token required on every API request (required when not on loopback)' })),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ description: 'PEM certificate chain file' }),
          key: Type.String({ description: 'PEM private key file' }),
        },
        { additionalProperties: false, description: 'Serve the admin API over HTTPS' },
      ),
    ),
    ui: Type.Boolean({ default: true, description: 'Serve the web UI at /' }),
    export: Type.Boolean({ default: true, description: 'Allow exporting events as NDJSON/CSV' }),
    cors_origins: Type.Array(Type.String(), { default: [], description: 'Extra origins allowed by CORS (the UI\'s own origin always is)' }),
    max_scan_rows: Type.Integer({ minimum: 1000, default: 1_000_000, description: 'A filtered search scans at most this many events per request' }),
    max_scan_ms: Type.Integer({ minimum: 10, default: 2000, description: 'A filtered search runs at most this long per request' }),
    max_body_bytes: Size('Largest admin API request body', '1MiB'),
  },
  { additionalProperties: false, default: {} },
);

/** Keys every sink has; the runner uses them, the sink's spec never sees them. */
export const SinkRunnerKeys = {
  topics: Type.Array(Type.String({ minLength: 1 }), {
    default: ['*'],
    description: 'Topics this sink delivers: names or globs (`*` matches every topic except internal ones starting with `_`)',
  }),
  batch: Type.Object(
    {
      max_events: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, description: 'Most events per batch' }),
      max_bytes: Size('Most body bytes per batch', '4MiB'),
      max_wait: Duration('Wait this long for a batch to fill before sending a partial one', 0),
    },
    { additionalProperties: false, default: {} },
  ),
  retry: Type.Object(
    {
      initial: Duration('First retry delay', '200ms'),
      max: Duration('Longest retry delay', '30s'),
    },
    { additionalProperties: false, default: {} },
  ),
  start_from: Type.Union([Type.Literal('earliest'), Type.Literal('latest')], {
    default: 'earliest',
    description: 'Where the sink starts on a topic it has not delivered before',
  }),
  on_rejected: Type.Union([Type.Literal('park'), Type.Literal('stop')], {
    default: 'park',
    description: 'When the destination rejects a batch for good: `park` it in topic `_parked.<sink>` and go on, or `stop` the sink (state failed) until resumed',
  }),
};

export const SinkRunnerSchema = Type.Object(SinkRunnerKeys, { additionalProperties: false });
export type SinkRunnerConfig = Static<typeof SinkRunnerSchema>;

export const TOP_LEVEL_KEYS = ['collector', 'log', 'channel', 'admin', 'fleet', 'sources', 'sinks'] as const;
