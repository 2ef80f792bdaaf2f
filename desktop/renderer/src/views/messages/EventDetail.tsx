/**
 * The detail pane: offset, time, key, headers, and the body decoded as a JSON tree, msgpack,
 * text or hex — and, on a topic with a viewer schema, as the collector decoded it with the
 * Protobuf/Avro schema (the raw bytes stay in Hex). Copy as JSON puts the whole event on the
 * clipboard.
 */
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import type { ApiEvent } from '../../../../../shared/src/api/events.ts';
import { ErrorBox } from '../../components/ErrorBox.tsx';
import { JsonTree } from '../../components/JsonTree.tsx';
import { decodeMsgpack, fromBase64, hexDump, toBase64, toText } from '../../lib/bytes.ts';
import { formatBytes, formatCount, formatTimeZoned } from '../../lib/format.ts';
import { useClient } from '../../state.tsx';

type Tab = 'schema' | 'json' | 'msgpack' | 'text' | 'hex';

export function EventDetail({ topic, offset, onClose }: { topic: string; offset: number; onClose: () => void }) {
  const client = useClient();
  const q = useQuery({
    queryKey: [client.connection.id, 'event', topic, offset],
    queryFn: ({ signal }) => client.events(topic, { from: offset, limit: 1, raw: true }, signal),
    staleTime: Infinity,
  });
  const event = q.data?.events[0];
  return (
    <aside className="detail-pane" aria-label={`Event ${offset}`}>
      <div className="detail-header">
        <h2>Offset {formatCount(offset)}</h2>
        <button type="button" className="icon" aria-label="Close detail" title="Close (Esc)" onClick={onClose}>✕</button>
      </div>
      {q.error && <ErrorBox error={q.error} compact onRetry={() => void q.refetch()} />}
      {q.data && (!event || event.offset !== offset) && (
        <div className="empty">Offset {offset} is no longer stored: retention removed it (the topic starts at {formatCount(q.data.low)}).</div>
      )}
      {event && event.offset === offset && <EventBody topic={topic} event={event} />}
    </aside>
  );
}

function EventBody({ topic, event }: { topic: string; event: ApiEvent }) {
  const bytes = useMemo(() => (event.raw !== undefined ? fromBase64(event.raw) : null), [event.raw]);
  const bySchema = event.bodyEncoding === 'protobuf' || event.bodyEncoding === 'avro';
  const initial: Tab = bySchema ? 'schema' : event.bodyEncoding === 'json' ? 'json' : event.bodyEncoding === 'msgpack' ? 'msgpack' : event.bodyEncoding === 'text' ? 'text' : 'hex';
  const [tab, setTab] = useState<Tab>(initial);
  const [copied, setCopied] = useState<string | null>(null);
  const headers = Object.entries(event.headers).sort(([a], [b]) => a.localeCompare(b));

  const copy = async () => {
    const body = event.bodyEncoding === null ? { base64: bytes ? toBase64(bytes) : null } : event.body;
    const text = JSON.stringify({ topic, offset: event.offset, ts: event.ts, time: new Date(event.ts).toISOString(), key: event.key, headers: event.headers, body }, null, 2);
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied as JSON');
    } catch {
      setCopied('The clipboard refused: select the text in the Text tab instead');
    }
    setTimeout(() => setCopied(null), 2500);
  };

  return (
    <div className="detail-body">
      <dl className="kv">
        <dt>Time</dt><dd className="mono">{formatTimeZoned(event.ts)} <span className="muted">({event.ts})</span></dd>
        <dt>Key</dt><dd className="mono">{event.key ?? <span className="muted">none</span>}</dd>
        <dt>Type</dt><dd>{event.contentType} · {formatBytes(event.size)}{bySchema && <> · decoded as {event.bodyEncoding === 'protobuf' ? 'Protobuf' : 'Avro'}</>}{event.schemaId !== undefined && <> · schema id {event.schemaId}</>}{event.decodeError && <span className="warn-text" data-testid="decode-error"> · not decodable: {event.decodeError}</span>}</dd>
      </dl>
      <h3>Headers <span className="muted">({headers.length})</span></h3>
      {headers.length === 0 ? <div className="muted">none</div> : (
        <table className="grid headers-table">
          <tbody>
            {headers.map(([k, v]) => (
              <tr key={k}><th className="mono">{k}</th><td className="mono">{v}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="body-toolbar">
        <h3>Body</h3>
        <div className="tabs" role="tablist">
          {(bySchema ? (['schema', 'text', 'hex'] as const) : (['json', 'msgpack', 'text', 'hex'] as const)).map((t) => (
            <button key={t} type="button" role="tab" aria-selected={tab === t} className={tab === t ? 'tab active' : 'tab'} onClick={() => setTab(t)}>
              {t === 'schema' ? (event.bodyEncoding === 'avro' ? 'Avro' : 'Protobuf') : t === 'json' ? 'JSON tree' : t === 'msgpack' ? 'msgpack' : t === 'text' ? 'Text' : 'Hex'}
            </button>
          ))}
        </div>
        <button type="button" onClick={() => void copy()}>Copy as JSON</button>
        {copied && <span className="muted small" role="status">{copied}</span>}
      </div>
      <div className="body-view" data-tab={tab}>
        <BodyTab tab={tab} event={event} bytes={bytes} />
      </div>
    </div>
  );
}

function BodyTab({ tab, event, bytes }: { tab: Tab; event: ApiEvent; bytes: Uint8Array | null }) {
  if (tab === 'schema') return <div className="json-tree"><JsonTree value={event.body} /></div>;
  if (tab === 'json') {
    if (event.bodyEncoding === 'json' || event.bodyEncoding === 'msgpack') return <div className="json-tree"><JsonTree value={event.body} /></div>;
    if (bytes) {
      const { text } = toText(bytes);
      try {
        return <div className="json-tree"><JsonTree value={JSON.parse(text) as unknown} /></div>;
      } catch {
        return <div className="muted">The body is not JSON ({event.contentType}). Try Text or Hex.</div>;
      }
    }
    return <div className="muted">No body bytes in this answer.</div>;
  }
  if (!bytes) return <div className="muted">No body bytes in this answer.</div>;
  if (tab === 'msgpack') {
    const decoded = decodeMsgpack(bytes);
    if ('error' in decoded) return <div className="muted">Not msgpack: {decoded.error}</div>;
    return <div className="json-tree"><JsonTree value={decoded.value} /></div>;
  }
  if (tab === 'text') {
    const { text, valid } = toText(bytes);
    return (
      <>
        {!valid && <div className="warn-text small">Not valid UTF-8: invalid bytes are shown as �.</div>}
        <pre className="text-body">{text}</pre>
      </>
    );
  }
  const { lines, truncated } = hexDump(bytes);
  return (
    <>
      <pre className="hex-body">{lines.join('\n')}</pre>
      {truncated && <div className="muted small">Showing the first 64 KiB of {formatBytes(bytes.length)}.</div>}
    </>
  );
}
