/**
 * A topic's viewer schema: shows the one in force, and sets one — a .proto file (text) or a
 * descriptor set (binary, protoc --descriptor_set_out) with a message type picked from those the
 * collector finds in it, or an Avro schema (.avsc) — uploaded or pasted; optional Confluent
 * framing. The collector keeps it, so the browser, the desktop and `sluice export` agree.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ChangeEvent, type FormEvent } from 'react';
import type { Framing, SchemaKind, TopicSchemaRequest } from '../../../../shared/src/api/schemas.ts';
import { InputProblem } from '../api/errors.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { toBase64 } from '../lib/bytes.ts';
import { formatAgo } from '../lib/format.ts';
import { useClient } from '../state.tsx';

type Source = { kind: 'text'; text: string } | { kind: 'descriptorSet'; base64: string; name: string };

/** The request for what the form holds. */
function requestOf(kind: SchemaKind, source: Source, messageType: string, framing: Framing): TopicSchemaRequest {
  const base = framing === 'none' ? {} : { framing };
  if (kind === 'avro') return { kind, schema: source.kind === 'text' ? source.text : '', ...base };
  const body = source.kind === 'text' ? { proto: source.text } : { descriptorSet: source.base64 };
  return { kind, ...body, ...(messageType ? { messageType } : {}), ...base };
}

export function SchemaCard({ topic }: { topic: string }) {
  const client = useClient();
  const queries = useQueryClient();
  const key = [client.connection.id, 'schema', topic];
  const current = useQuery({ queryKey: key, queryFn: ({ signal }) => client.topicSchema(topic, signal) });
  const [editing, setEditing] = useState(false);
  const [kind, setKind] = useState<SchemaKind>('protobuf');
  const [source, setSource] = useState<Source>({ kind: 'text', text: '' });
  const [messageType, setMessageType] = useState('');
  const [framing, setFraming] = useState<Framing>('none');
  const [types, setTypes] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  // Editing an existing schema starts from it.
  const startEditing = () => {
    const s = current.data?.schema;
    if (s) {
      setKind(s.kind);
      setSource(s.descriptorSet !== undefined ? { kind: 'descriptorSet', base64: s.descriptorSet, name: 'the stored descriptor set' } : { kind: 'text', text: s.proto ?? s.schema ?? '' });
      setMessageType(s.messageType ?? '');
      setFraming(s.framing ?? 'none');
    }
    setSaved(null);
    setEditing(true);
  };

  // Ask the collector which message types the schema defines (and what is wrong), as it is typed.
  const empty = source.kind === 'text' ? source.text.trim() === '' : source.base64 === '';
  useEffect(() => {
    if (!editing || empty) {
      setTypes([]);
      setProblem(null);
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      client
        .validateSchema(requestOf(kind, source, messageType, framing), abort.signal)
        .then((r) => {
          setTypes(r.types);
          setProblem(r.ok ? null : (r.error ?? 'not accepted'));
          if (kind === 'protobuf' && !messageType && r.types.length === 1) setMessageType(r.types[0]);
        })
        .catch((err: unknown) => {
          if (!abort.signal.aborted) setProblem(err instanceof Error ? err.message : String(err));
        });
    }, 300);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [client, editing, empty, kind, source, messageType, framing]);

  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (!file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    // A .proto or .avsc is text; anything else (set.pb, .desc, .binpb) is a binary descriptor set.
    if (/\.(proto|avsc|json)$/i.test(file.name)) {
      setSource({ kind: 'text', text: new TextDecoder().decode(bytes) });
      if (/\.(avsc|json)$/i.test(file.name)) setKind('avro');
      else setKind('protobuf');
    } else {
      setKind('protobuf');
      setSource({ kind: 'descriptorSet', base64: toBase64(bytes), name: file.name });
    }
    setMessageType('');
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (empty) {
      setError(new InputProblem(kind === 'avro' ? 'Paste the Avro schema (the .avsc JSON) or choose its file.' : 'Paste the .proto text, or choose a .proto file or a descriptor set.'));
      return;
    }
    if (kind === 'protobuf' && !messageType) {
      setError(new InputProblem(`Choose the message type of this topic's bodies${types.length ? ` (one of ${types.join(', ')})` : ''}.`));
      return;
    }
    setBusy(true);
    try {
      const r = await client.setTopicSchema(topic, requestOf(kind, source, messageType, framing));
      queries.setQueryData(key, r);
      void queries.invalidateQueries({ queryKey: [client.connection.id, 'event', topic] });
      setSaved(`Schema set: ${r.schema.kind}${r.schema.messageType ? ` ${r.schema.messageType}` : ''}. Messages, the live tail and exports of "${topic}" are decoded with it.`);
      setEditing(false);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setError(null);
    setBusy(true);
    try {
      await client.deleteTopicSchema(topic);
      queries.setQueryData(key, null);
      void queries.invalidateQueries({ queryKey: [client.connection.id, 'event', topic] });
      setSaved('Schema removed: bodies are shown by their content type again.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const s = current.data;
  return (
    <section className="card schema-card" aria-label="Schema">
      <div className="card-title">
        <strong>Schema</strong>
        <span className="muted">decode binary bodies with Protobuf or Avro in messages, tail, search and export</span>
      </div>
      {current.error && <ErrorBox error={current.error} compact onRetry={() => void current.refetch()} />}
      {!editing && (
        <div className="schema-current">
          {s ? (
            <span data-testid="schema-current">
              <strong>{s.schema.kind === 'protobuf' ? `Protobuf ${s.schema.messageType ?? ''}` : `Avro ${s.types[0] ?? ''}`}</strong>
              <span className="muted"> · {s.schema.descriptorSet !== undefined ? 'descriptor set' : s.schema.kind === 'protobuf' ? '.proto' : '.avsc'}{s.schema.framing === 'confluent' ? ' · Confluent framing' : ''} · set {formatAgo(s.updatedAt)}</span>
            </span>
          ) : (
            current.data === null && <span className="muted" data-testid="schema-current">None: bodies are shown by their content type (JSON, msgpack, text, hex).</span>
          )}
          <div className="form-actions">
            <button type="button" onClick={startEditing}>{s ? 'Change schema…' : 'Set schema…'}</button>
            {s && <button type="button" className="danger" disabled={busy} onClick={() => void remove()}>Remove schema</button>}
          </div>
        </div>
      )}
      {saved !== null && !editing && <div role="status" className="small">{saved}</div>}
      {editing && (
        <form className="form" onSubmit={(e) => void save(e)} aria-label="Set schema">
          <div className="row">
            <label>Format
              <select value={kind} onChange={(e) => { setKind(e.target.value as SchemaKind); setMessageType(''); }} aria-label="Schema format">
                <option value="protobuf">Protobuf</option>
                <option value="avro">Avro</option>
              </select>
            </label>
            <label>Framing
              <select value={framing} onChange={(e) => setFraming(e.target.value as Framing)} aria-label="Framing">
                <option value="none">none: the body is the message</option>
                <option value="confluent">Confluent wire format (magic byte + schema id)</option>
              </select>
            </label>
            <label>File
              <input type="file" accept=".proto,.avsc,.json,.pb,.desc,.binpb,.protoset" onChange={(e) => void onFile(e)} aria-label="Schema file" />
            </label>
          </div>
          {source.kind === 'descriptorSet' ? (
            <div className="muted small">Descriptor set: {source.name} <button type="button" className="link" onClick={() => setSource({ kind: 'text', text: '' })}>paste text instead</button></div>
          ) : (
            <label>{kind === 'protobuf' ? '.proto text' : 'Avro schema (JSON)'}
              <textarea rows={8} className="mono" value={source.text} onChange={(e) => setSource({ kind: 'text', text: e.target.value })} aria-label="Schema text"
                placeholder={kind === 'protobuf' ? 'syntax = "proto3";\npackage shop.v1;\nmessage Order { string order_id = 1; }' : '{"type": "record", "name": "Order", "fields": [{"name": "order_id", "type": "string"}]}'} />
            </label>
          )}
          {kind === 'protobuf' && (
            <label>Message type
              <select value={messageType} onChange={(e) => setMessageType(e.target.value)} aria-label="Message type" disabled={types.length === 0}>
                <option value="">{types.length === 0 ? '(the types appear when the schema parses)' : 'choose…'}</option>
                {types.map((t) => <option key={t} value={t}>{t}</option>)}
              </select>
            </label>
          )}
          {problem !== null && !empty && !(kind === 'protobuf' && !messageType && types.length > 0) && <div className="warn-text small" data-testid="schema-problem">{problem}</div>}
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy}>Save schema</button>
            <button type="button" onClick={() => { setEditing(false); setError(null); }}>Cancel</button>
          </div>
          {error !== null && <ErrorBox error={error} compact />}
        </form>
      )}
    </section>
  );
}
