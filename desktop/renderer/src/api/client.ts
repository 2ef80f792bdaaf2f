/**
 * The one typed client for the admin API (DESIGN §6). Every request the renderer makes goes
 * through here; every answer is typed with shared/src/api. Failures become AdminApiError, which
 * says what failed and what to do.
 */
import type {
  ApiErrorBody,
  HealthResponse,
  InterceptorEntry,
  SinkStatus,
  SinksResponse,
  SourcesResponse,
  TopicDetailResponse,
  TopicsResponse,
} from '../../../../shared/src/api/core.ts';
import type { EdgesResponse } from '../../../../shared/src/api/fleet.ts';
import type { GroupsResponse, ProduceRequest, ProduceResponse, TruncateResponse } from '../../../../shared/src/api/consumers.ts';
import type { BrowseQuery, BrowseResponse, ExportQuery, TailMessage, TailQuery } from '../../../../shared/src/api/events.ts';
import type { ApplyRequest, ApplyResponse, ChainResponse, ComponentsResponse, PreviewRequest, PreviewResponse, ValidateResponse } from '../../../../shared/src/api/interceptors.ts';
import type { ReplayRequest, ReplayResponse } from '../../../../shared/src/api/replay.ts';
import type { SchemaValidateResponse, TopicSchemaRequest, TopicSchemaResponse, TopicSchemasResponse } from '../../../../shared/src/api/schemas.ts';
import { AdminApiError, hintFor } from './errors.ts';

export interface Connection {
  id: string;
  name: string;
  /** Base URL of the admin API, without a trailing slash. */
  url: string;
  token: string | null;
}

type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[];
export type Query = Record<string, QueryValue>;

interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

export function normalizeUrl(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, '');
  return /^https?:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
}

export function buildQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
    else params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export class AdminClient {
  readonly baseUrl: string;

  constructor(readonly connection: Connection) {
    this.baseUrl = normalizeUrl(connection.url);
  }

  url(path: string, query?: Query): string {
    return `${this.baseUrl}${path}${buildQuery(query)}`;
  }

  /** ws(s):// URL for a WebSocket route; the token goes in `access_token` (browsers cannot set headers). */
  wsUrl(path: string, query: Query = {}): string {
    const http = this.url(path, { ...query, access_token: this.connection.token ?? undefined });
    return http.replace(/^http/i, 'ws');
  }

  async request<T>(what: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.#send(what, path, options);
    return (await this.#json(what, response)) as T;
  }

  /** A text answer (exports, metrics). */
  async text(what: string, path: string, options: RequestOptions = {}): Promise<string> {
    const response = await this.#send(what, path, options);
    return response.text();
  }

  async #send(what: string, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const fullWhat = `${what} (${this.baseUrl})`;
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), {
        method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
        cache: 'no-store',
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new AdminApiError(fullWhat, `no answer from ${this.baseUrl}`, hintFor(null, null, this.baseUrl, pageOrigin()), null, null);
    }
    if (!response.ok) throw await this.#failure(fullWhat, response);
    return response;
  }

  async #json(what: string, response: Response): Promise<unknown> {
    const text = await response.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new AdminApiError(`${what} (${this.baseUrl})`, `${this.baseUrl} answered, but not with JSON`, `Is ${this.baseUrl} the admin address of a Sluice collector (default port 9410)?`, response.status, null);
    }
  }

  async #failure(what: string, response: Response): Promise<AdminApiError> {
    let body: Partial<ApiErrorBody> | null = null;
    try {
      body = (await response.json()) as Partial<ApiErrorBody>;
    } catch {
      body = null;
    }
    const code = body?.error?.code ?? null;
    const message = body?.error?.message ?? `HTTP ${response.status} ${response.statusText}`;
    return new AdminApiError(what, message, hintFor(response.status, code, this.baseUrl, pageOrigin()), response.status, code, body?.error?.problems ?? []);
  }

  // ─── Core ───────────────────────────────────────────────────────────────────────────────

  health(signal?: AbortSignal): Promise<HealthResponse> {
    return this.request('Checking health', '/api/v1/health', { signal });
  }

  topics(signal?: AbortSignal): Promise<TopicsResponse> {
    return this.request('Loading topics', '/api/v1/topics', { signal });
  }

  topic(name: string, signal?: AbortSignal): Promise<TopicDetailResponse> {
    return this.request(`Loading topic "${name}"`, `/api/v1/topics/${encodeURIComponent(name)}`, { signal });
  }

  sources(signal?: AbortSignal): Promise<SourcesResponse> {
    return this.request('Loading sources', '/api/v1/sources', { signal });
  }

  sinks(signal?: AbortSignal): Promise<SinksResponse> {
    return this.request('Loading sinks', '/api/v1/sinks', { signal });
  }

  sink(name: string, signal?: AbortSignal): Promise<SinkStatus> {
    return this.request(`Loading sink "${name}"`, `/api/v1/sinks/${encodeURIComponent(name)}`, { signal });
  }

  // ─── Events ─────────────────────────────────────────────────────────────────────────────

  events(topic: string, query: BrowseQuery, signal?: AbortSignal): Promise<BrowseResponse> {
    return this.request(`Reading events of "${topic}"`, `${topicPath(topic)}/events`, { query: query as Query, signal });
  }

  /** Appends events as given (no interceptor chain), answered after the commit. */
  produce(topic: string, request: ProduceRequest): Promise<ProduceResponse> {
    return this.request(`Producing to "${topic}"`, `${topicPath(topic)}/events`, { method: 'POST', body: request });
  }

  /** Deletes the events before `before` (whole batches). */
  truncate(topic: string, before: number): Promise<TruncateResponse> {
    return this.request(`Truncating "${topic}"`, `${topicPath(topic)}/events`, { method: 'DELETE', query: { before } });
  }

  // ─── Viewer schemas ─────────────────────────────────────────────────────────────────────

  /** The topic's Protobuf/Avro schema, or null when it has none (asked from the list first: no 404 to log). */
  async topicSchema(topic: string, signal?: AbortSignal): Promise<TopicSchemaResponse | null> {
    const all = await this.request<TopicSchemasResponse>('Loading the topic schemas', '/api/v1/schemas', { signal });
    if (!all.schemas.some((s) => s.topic === topic)) return null;
    return this.request<TopicSchemaResponse>(`Loading the schema of "${topic}"`, `${topicPath(topic)}/schema`, { signal });
  }

  setTopicSchema(topic: string, request: TopicSchemaRequest): Promise<TopicSchemaResponse> {
    return this.request(`Setting the schema of "${topic}"`, `${topicPath(topic)}/schema`, { method: 'PUT', body: request });
  }

  deleteTopicSchema(topic: string): Promise<{ topic: string; deleted: boolean }> {
    return this.request(`Removing the schema of "${topic}"`, `${topicPath(topic)}/schema`, { method: 'DELETE' });
  }

  /** Whether a schema would be accepted, and the message types it defines. */
  validateSchema(request: TopicSchemaRequest, signal?: AbortSignal): Promise<SchemaValidateResponse> {
    return this.request('Checking the schema', '/api/v1/schemas/validate', { method: 'POST', body: request, signal });
  }

  exportUrl(topic: string, query: ExportQuery): string {
    return this.url(`${topicPath(topic)}/export`, query as Query);
  }

  /** The export as text (NDJSON or CSV), for the save dialog or a browser download. */
  exportText(topic: string, query: ExportQuery, signal?: AbortSignal): Promise<string> {
    return this.text(`Exporting "${topic}"`, `${topicPath(topic)}/export`, { query: query as Query, signal });
  }

  /** Opens a live tail. Messages arrive in order; `onClose` reports why it ended. */
  tail(topic: string, query: TailQuery, handlers: { onMessage(message: TailMessage): void; onClose(reason: string, clean: boolean): void }): { close(): void } {
    const url = this.wsUrl(`${topicPath(topic)}/tail`, query as Query);
    const ws = new WebSocket(url);
    let closedByUs = false;
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      try {
        handlers.onMessage(JSON.parse(e.data) as TailMessage);
      } catch {
        // A frame that is not JSON is not from a Sluice tail; ignore it rather than break the view.
      }
    };
    ws.onclose = (e) => {
      if (closedByUs) return;
      const reason = opened
        ? e.reason || `the connection closed (code ${e.code})`
        : `could not open the tail at ${this.baseUrl}: the collector is unreachable, refused the token, or does not offer live tail`;
      handlers.onClose(reason, e.code === 1000);
    };
    return {
      close() {
        closedByUs = true;
        ws.close(1000, 'closed by the viewer');
      },
    };
  }

  // ─── Replay and groups ──────────────────────────────────────────────────────────────────

  replaySink(sink: string, request: ReplayRequest): Promise<ReplayResponse> {
    return this.request(`${request.execute ? 'Replaying' : 'Planning a replay of'} sink "${sink}"`, `/api/v1/sinks/${encodeURIComponent(sink)}/replay`, { method: 'POST', body: request });
  }

  replayGroup(group: string, request: ReplayRequest): Promise<ReplayResponse> {
    return this.request(`${request.execute ? 'Replaying' : 'Planning a replay of'} group "${group}"`, `/api/v1/groups/${encodeURIComponent(group)}/replay`, { method: 'POST', body: request });
  }

  /** On a hub: the edges that report to it, worst first (docs/fleet.md). */
  edges(signal?: AbortSignal): Promise<EdgesResponse> {
    return this.request('Loading the fleet', '/api/v1/edges', { signal });
  }

  /** Consumer groups with committed offsets and lag per topic (the consumer API's groups). */
  groups(signal?: AbortSignal): Promise<GroupsResponse> {
    return this.request('Loading consumer groups', '/api/v1/groups', { signal });
  }

  // ─── Interceptor chains and components ──────────────────────────────────────────────────

  chain(source: string, signal?: AbortSignal): Promise<ChainResponse> {
    return this.request(`Loading the interceptor chain of source "${source}"`, `${sourcePath(source)}/interceptors`, { signal });
  }

  validateChain(source: string, interceptors: InterceptorEntry[], signal?: AbortSignal): Promise<ValidateResponse> {
    return this.request(`Validating the chain of source "${source}"`, `${sourcePath(source)}/interceptors/validate`, { method: 'POST', body: { interceptors }, signal });
  }

  previewChain(source: string, request: PreviewRequest, signal?: AbortSignal): Promise<PreviewResponse> {
    return this.request(`Previewing the chain of source "${source}"`, `${sourcePath(source)}/interceptors/preview`, { method: 'POST', body: request, signal });
  }

  applyChain(source: string, request: ApplyRequest): Promise<ApplyResponse> {
    return this.request(`Applying the chain of source "${source}"`, `${sourcePath(source)}/interceptors`, { method: 'PUT', body: request });
  }

  components(signal?: AbortSignal): Promise<ComponentsResponse> {
    return this.request('Loading the component catalogue', '/api/v1/components', { signal });
  }

  resumeSink(name: string): Promise<SinkStatus> {
    return this.request(`Resuming sink "${name}"`, `/api/v1/sinks/${encodeURIComponent(name)}/resume`, { method: 'POST', body: {} });
  }
}

function sourcePath(source: string): string {
  return `/api/v1/sources/${encodeURIComponent(source)}`;
}

function topicPath(topic: string): string {
  return `/api/v1/topics/${encodeURIComponent(topic)}`;
}

function pageOrigin(): string | null {
  return typeof location === 'undefined' ? null : location.origin;
}
