/**
 * Interceptor chains: a source's chain as a list to reorder, add to (forms generated from the
 * component schemas), edit and remove. Changes are a draft until applied: the draft is validated
 * as you go, previewed on events sampled from a topic — before and after side by side, drops
 * marked with the step that dropped them — and applied live (and written to the config file).
 */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import type { InterceptorEntry } from '../../../../shared/src/api/core.ts';
import type { ApiEvent } from '../../../../shared/src/api/events.ts';
import type { ApplyResponse, ComponentInfo, PreviewItem, PreviewResponse } from '../../../../shared/src/api/interceptors.ts';
import { InputProblem } from '../api/errors.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { asSchema, SchemaForm, type ConfigValue } from '../components/SchemaForm.tsx';
import { Empty, Loading, PageHeader } from '../components/ui.tsx';
import { formatTime } from '../lib/format.ts';
import { useClient } from '../state.tsx';

interface Editing {
  /** Index in the draft, or null for a new step. */
  index: number | null;
  type: string;
  config: ConfigValue;
}

export function InterceptorsView({ source, onSource }: { source: string | null; onSource: (s: string) => void }) {
  const client = useClient();
  const id = client.connection.id;
  const sources = useQuery({ queryKey: [id, 'sources'], queryFn: ({ signal }) => client.sources(signal), refetchInterval: 5000 });
  const names = sources.data?.sources.map((s) => s.name) ?? [];
  useEffect(() => {
    if (!source && names[0]) onSource(names[0]);
  }, [source, names, onSource]);

  return (
    <div className="view interceptors-view">
      <PageHeader
        title="Interceptors"
        subtitle="Each source runs its events through its chain, in order, before they are stored."
        actions={names.length > 0 && (
          <label className="inline">Source
            <select name="source" value={source ?? ''} onChange={(e) => onSource(e.target.value)}>
              {names.map((n) => <option key={n} value={n}>{n}</option>)}
            </select>
          </label>
        )}
      />
      {sources.error && <ErrorBox error={sources.error} onRetry={() => void sources.refetch()} />}
      {sources.data && names.length === 0 && <Empty>This collector has no sources, so there is no chain to edit.</Empty>}
      {source && names.includes(source) && <ChainEditor key={`${client.baseUrl}|${source}`} source={source} />}
    </div>
  );
}

function ChainEditor({ source }: { source: string }) {
  const client = useClient();
  const id = client.connection.id;
  const chain = useQuery({ queryKey: [id, 'chain', source], queryFn: ({ signal }) => client.chain(source, signal) });
  const components = useQuery({ queryKey: [id, 'components'], queryFn: ({ signal }) => client.components(signal), staleTime: 60_000 });
  const topics = useQuery({ queryKey: [id, 'topics'], queryFn: ({ signal }) => client.topics(signal), refetchInterval: 5000 });

  const [draft, setDraft] = useState<InterceptorEntry[] | null>(null);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [addType, setAddType] = useState('');
  const [problems, setProblems] = useState<{ path: string; message: string }[]>([]);
  const [sampleTopic, setSampleTopic] = useState('');
  const [sampleLast, setSampleLast] = useState(20);
  const [preview, setPreview] = useState<PreviewResponse | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [busy, setBusy] = useState<'preview' | 'apply' | null>(null);
  const [persist, setPersist] = useState(true);
  const [applied, setApplied] = useState<ApplyResponse | null>(null);
  const [applyError, setApplyError] = useState<unknown>(null);

  const live = chain.data?.interceptors ?? [];
  const current = draft ?? live;
  const dirty = draft !== null && JSON.stringify(draft) !== JSON.stringify(live);
  const specs = useMemo(() => new Map((components.data?.interceptors ?? []).map((c) => [c.name, c])), [components.data]);
  const topicNames = (topics.data?.topics ?? []).filter((t) => !t.name.startsWith('_')).map((t) => t.name).sort();
  useEffect(() => {
    if (!sampleTopic && topicNames[0]) setSampleTopic(topicNames[0]);
  }, [sampleTopic, topicNames]);

  // Validate the draft as it changes (the server reports problems with their config paths).
  useEffect(() => {
    if (!dirty || !draft) {
      setProblems([]);
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      client.validateChain(source, draft, abort.signal).then((r) => setProblems(r.problems), () => undefined);
    }, 250);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [client, source, draft, dirty]);

  const update = (next: InterceptorEntry[]) => {
    setDraft(next);
    setPreview(null);
    setApplied(null);
  };
  const move = (i: number, d: -1 | 1) => {
    const next = [...current];
    const [item] = next.splice(i, 1);
    next.splice(i + d, 0, item);
    update(next);
  };
  const remove = (i: number) => update(current.filter((_, j) => j !== i));
  const saveStep = () => {
    if (!editing) return;
    const entry: InterceptorEntry = { type: editing.type, ...editing.config };
    if (editing.index === null) update([...current, entry]);
    else update(current.map((e, j) => (j === editing.index ? entry : e)));
    setEditing(null);
  };

  const runPreview = async () => {
    if (!sampleTopic) {
      setPreviewError(new InputProblem('Pick a topic to sample events from.'));
      return;
    }
    setBusy('preview');
    setPreviewError(null);
    try {
      setPreview(await client.previewChain(source, { interceptors: current, sample: { topic: sampleTopic, last: sampleLast } }));
    } catch (error) {
      setPreview(null);
      setPreviewError(error);
    } finally {
      setBusy(null);
    }
  };

  const apply = async () => {
    setBusy('apply');
    setApplyError(null);
    try {
      const result = await client.applyChain(source, { interceptors: current, persist });
      setApplied(result);
      setDraft(null);
      await chain.refetch();
    } catch (error) {
      setApplyError(error);
    } finally {
      setBusy(null);
    }
  };

  if (chain.error) return <ErrorBox error={chain.error} onRetry={() => void chain.refetch()} />;
  if (!chain.data) return <Loading what={`the chain of "${source}"`} />;

  return (
    <div className="two-col">
      <section aria-label="Chain">
        <h2>
          Chain of <span className="mono">{source}</span> <span className="muted small">({chain.data.type} source, version {chain.data.chainVersion})</span>
        </h2>
        {components.error && <ErrorBox error={components.error} compact />}
        <div className="chain">
          {current.length === 0 && <div className="empty">No interceptors: events are stored as they arrive.</div>}
          {current.map((entry, i) => (
            <div key={i} className={`chain-item${editing?.index === i ? ' editing' : ''}`} data-step={i} data-type={entry.type}>
              <span className="index">{i + 1}</span>
              <div>
                <div><strong>{entry.type}</strong> <span className="muted small">{specs.get(entry.type)?.summary ?? ''}</span></div>
                <div className="config" title={JSON.stringify(configOf(entry))}>{describeConfig(entry)}</div>
              </div>
              <div className="item-actions">
                <button type="button" aria-label={`Move step ${i + 1} up`} disabled={i === 0} onClick={() => move(i, -1)}>↑</button>
                <button type="button" aria-label={`Move step ${i + 1} down`} disabled={i === current.length - 1} onClick={() => move(i, 1)}>↓</button>
                <button type="button" onClick={() => setEditing({ index: i, type: entry.type, config: configOf(entry) })}>Edit</button>
                <button type="button" className="danger" aria-label={`Remove step ${i + 1}`} onClick={() => remove(i)}>✕</button>
              </div>
            </div>
          ))}
        </div>

        {editing ? (
          <StepEditor editing={editing} spec={specs.get(editing.type)} onChange={setEditing} onSave={saveStep} onCancel={() => setEditing(null)} />
        ) : (
          <div className="row add-step">
            <select aria-label="Interceptor type to add" value={addType} onChange={(e) => setAddType(e.target.value)}>
              <option value="">Add an interceptor…</option>
              {[...specs.values()].map((c) => <option key={c.name} value={c.name}>{c.name} — {c.summary}</option>)}
            </select>
            <button type="button" disabled={!addType} onClick={() => { setEditing({ index: null, type: addType, config: initialConfig(specs.get(addType)) }); setAddType(''); }}>Add</button>
          </div>
        )}

        {problems.length > 0 && (
          <div className="error-box compact" role="alert">
            <div className="error-title">The draft chain is not valid</div>
            {problems.map((p) => <div key={`${p.path}${p.message}`} className="mono small">{p.path}: {p.message}</div>)}
            <div className="error-hint"><strong>What to do: </strong>edit the step named in the path; apply is disabled until the chain is valid.</div>
          </div>
        )}

        <div className="card apply-bar">
          {dirty ? <div className="dirty-note">Unsaved draft: the collector still runs version {chain.data.chainVersion}. Preview it, then apply.</div> : <div className="muted">The chain shown is the one running.</div>}
          <label className="inline"><input type="checkbox" checked={persist} onChange={(e) => setPersist(e.target.checked)} /> Also write it to the config file (comments are kept)</label>
          <div className="form-actions">
            <button type="button" className="primary" disabled={!dirty || problems.length > 0 || busy !== null} onClick={() => void apply()}>{busy === 'apply' ? 'Applying…' : 'Apply'}</button>
            <button type="button" disabled={!dirty} onClick={() => { setDraft(null); setPreview(null); setEditing(null); }}>Discard draft</button>
          </div>
          {applyError !== null && <ErrorBox error={applyError} compact />}
          {applied && (
            <div className="ok-text" role="status">
              Applied: version {applied.chainVersion} runs since {formatTime(applied.appliedAt)}{applied.persisted ? ', written to the config file' : ', not written to a file'}. Events ingested from now on go through it.
            </div>
          )}
        </div>
      </section>

      <section aria-label="Preview">
        <h2>Preview</h2>
        <div className="row preview-controls">
          <label>Sample from topic
            <select name="sampleTopic" value={sampleTopic} onChange={(e) => { setSampleTopic(e.target.value); setPreview(null); }}>
              {topicNames.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </label>
          <label>Newest
            <select value={sampleLast} onChange={(e) => setSampleLast(Number(e.target.value))}>
              {[10, 20, 50, 100, 500].map((n) => <option key={n} value={n}>{n} events</option>)}
            </select>
          </label>
          <button type="button" className="primary" disabled={busy !== null || topicNames.length === 0} onClick={() => void runPreview()}>{busy === 'preview' ? 'Running…' : `Preview ${dirty ? 'the draft' : 'the chain'}`}</button>
        </div>
        {topicNames.length === 0 && <div className="muted">No topic holds events yet: send some to preview on.</div>}
        {previewError !== null && <ErrorBox error={previewError} compact />}
        {preview && <PreviewTable preview={preview} />}
      </section>
    </div>
  );
}

function StepEditor({ editing, spec, onChange, onSave, onCancel }: { editing: Editing; spec: ComponentInfo | undefined; onChange: (e: Editing) => void; onSave: () => void; onCancel: () => void }) {
  const [asJson, setAsJson] = useState(!spec);
  const [jsonText, setJsonText] = useState(JSON.stringify(editing.config, null, 2));
  const [jsonProblem, setJsonProblem] = useState<string | null>(null);
  return (
    <div className="card form step-editor" aria-label="Interceptor settings">
      <div className="card-title">
        {editing.index === null ? 'New step' : `Step ${editing.index + 1}`}: <span className="mono">{editing.type}</span>
        <label className="inline small" style={{ marginLeft: 'auto' }}>
          <input type="checkbox" checked={asJson} onChange={(e) => { setAsJson(e.target.checked); setJsonText(JSON.stringify(editing.config, null, 2)); }} /> as JSON
        </label>
      </div>
      {spec && <div className="muted small">{spec.summary}</div>}
      {asJson ? (
        <label>
          Settings (JSON, without "type")
          <textarea
            rows={8}
            value={jsonText}
            onChange={(e) => {
              setJsonText(e.target.value);
              try {
                const v = JSON.parse(e.target.value) as unknown;
                if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected an object');
                onChange({ ...editing, config: v as ConfigValue });
                setJsonProblem(null);
              } catch (error) {
                setJsonProblem(error instanceof Error ? error.message : String(error));
              }
            }}
          />
          {jsonProblem && <span className="error-text small">Not valid yet: {jsonProblem}</span>}
        </label>
      ) : (
        <SchemaForm schema={asSchema(spec?.schema)} value={editing.config} onChange={(config) => onChange({ ...editing, config })} idPrefix={`step-${editing.index ?? 'new'}`} />
      )}
      {spec && spec.examples.length > 0 && (
        <div className="small muted">
          Examples:{' '}
          {spec.examples.map((ex) => (
            <button key={ex.title} type="button" className="link" onClick={() => { const config = (ex.config ?? {}) as ConfigValue; onChange({ ...editing, config }); setJsonText(JSON.stringify(config, null, 2)); }}>{ex.title}</button>
          ))}
        </div>
      )}
      <div className="form-actions">
        <button type="button" className="primary" disabled={jsonProblem !== null && asJson} onClick={onSave}>{editing.index === null ? 'Add to draft' : 'Update draft'}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </div>
  );
}

function PreviewTable({ preview }: { preview: PreviewResponse }) {
  return (
    <div aria-label="Preview result">
      <p className="preview-summary" role="status">
        {preview.sampled} sampled from <span className="mono">{preview.topic}</span> · <strong>{preview.kept}</strong> kept · <strong className={preview.dropped > 0 ? 'error-text' : ''}>{preview.dropped}</strong> dropped
      </p>
      <div className="preview-grid">
        <div className="ph">Before (as stored)</div>
        <div className="ph">After the chain</div>
        {preview.events.map((item) => <PreviewRow key={item.offset} item={item} topic={preview.topic} />)}
      </div>
    </div>
  );
}

function PreviewRow({ item, topic }: { item: PreviewItem; topic: string }) {
  const rerouted = item.afterTopic !== null && item.afterTopic !== topic;
  const changed = item.after !== null && (rerouted || eventText(item.before) !== eventText(item.after));
  return (
    <>
      <div className="preview-cell" data-offset={item.offset}>
        <div className="muted">#{item.offset}</div>
        <EventText event={item.before} />
      </div>
      {item.after === null ? (
        <div className="preview-cell dropped" data-dropped="true">
          ✕ Dropped{item.droppedBy ? ` by step ${item.droppedBy.index + 1} (${item.droppedBy.type})` : ''}
          {item.droppedBy?.error && <div className="small">{item.droppedBy.error}</div>}
        </div>
      ) : (
        <div className={`preview-cell${changed ? ' changed' : ''}`} data-changed={changed ? 'true' : 'false'}>
          {rerouted && <div className="strong">→ topic {item.afterTopic}</div>}
          <EventText event={item.after} />
          {item.errors?.map((e) => <div key={e.index} className="warn-text small">step {e.index + 1} ({e.type}) failed: {e.message}</div>)}
        </div>
      )}
    </>
  );
}

function eventText(e: ApiEvent): string {
  return JSON.stringify([e.key, Object.entries(e.headers).sort(), e.body ?? e.raw, e.ts]);
}

function EventText({ event }: { event: ApiEvent }) {
  const headers = Object.entries(event.headers).sort(([a], [b]) => a.localeCompare(b));
  const body = event.body === null || event.body === undefined ? `(${event.size} bytes ${event.contentType})` : typeof event.body === 'string' ? event.body : JSON.stringify(event.body, null, 1);
  return (
    <>
      {event.key !== null && <div><span className="hdr">key:</span> {event.key}</div>}
      {headers.map(([k, v]) => <div key={k}><span className="hdr">{k}:</span> {v}</div>)}
      <div>{body.length > 600 ? `${body.slice(0, 600)}…` : body}</div>
    </>
  );
}

function configOf(entry: InterceptorEntry): ConfigValue {
  const { type: _type, ...config } = entry;
  return config;
}

function describeConfig(entry: InterceptorEntry): string {
  const parts = Object.entries(configOf(entry)).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.length ? parts.join(' · ') : '(defaults)';
}

/** A new step starts from the required keys' defaults; the rest stays empty (defaults apply). */
function initialConfig(spec: ComponentInfo | undefined): ConfigValue {
  const schema = asSchema(spec?.schema);
  const out: ConfigValue = {};
  for (const name of schema.required ?? []) {
    const d = schema.properties?.[name]?.default;
    if (d !== undefined) out[name] = d;
  }
  return out;
}
