/**
 * Interceptor chains: a source's chain as a list to reorder, add to (forms generated from the
 * component schemas), edit and remove. Changes are a draft until applied: the draft is validated
 * as you go and previewed live on events sampled from a topic as it is typed (debounced; the step
 * being edited included) — before and after side by side with the differences marked, drops
 * marked with the step that dropped them and why — and applied live (and written to the config
 * file, only what changed).
 */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
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

  // What the preview runs: the draft with the step being edited in place (or appended), so every
  // keystroke in a step's form shows its effect before "Add to draft".
  const previewChain = useMemo(() => {
    if (!editing) return current;
    const entry: InterceptorEntry = { type: editing.type, ...editing.config };
    return editing.index === null ? [...current, entry] : current.map((e, j) => (j === editing.index ? entry : e));
  }, [current, editing]);
  const previewKey = JSON.stringify([previewChain, sampleTopic, sampleLast]);
  const previewRun = useRef(0);

  const runPreview = async (signal?: AbortSignal) => {
    if (!sampleTopic) {
      setPreviewError(new InputProblem('Pick a topic to sample events from.'));
      return;
    }
    const run = ++previewRun.current;
    setBusy('preview');
    try {
      const result = await client.previewChain(source, { interceptors: previewChain, sample: { topic: sampleTopic, last: sampleLast } }, signal);
      if (run !== previewRun.current) return;
      setPreview(result);
      setPreviewError(null);
    } catch (error) {
      if (run !== previewRun.current || signal?.aborted) return;
      // A half-typed step (an unfinished regex, say) is reported beside the last good preview.
      setPreviewError(error);
    } finally {
      if (run === previewRun.current) setBusy(null);
    }
  };

  // Live: preview again 300 ms after the chain, the step being edited or the sample changed.
  useEffect(() => {
    if (!sampleTopic) return;
    const abort = new AbortController();
    const timer = setTimeout(() => void runPreview(abort.signal), 300);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
    // runPreview reads the values previewKey stands for.
  }, [previewKey]);

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
                <div className="config" title={JSON.stringify(configOf(entry))}>{describeConfig(entry, specs.get(entry.type))}</div>
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
          {dirty ? <div className="dirty-note">Unsaved draft: the collector still runs version {chain.data.chainVersion}. Check the preview, then apply.</div> : <div className="muted">The chain shown is the one running.</div>}
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
            <select name="sampleTopic" value={sampleTopic} onChange={(e) => setSampleTopic(e.target.value)}>
              {topicNames.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
          </label>
          <label>Newest
            <select value={sampleLast} onChange={(e) => setSampleLast(Number(e.target.value))}>
              {[10, 20, 50, 100, 500].map((n) => <option key={n} value={n}>{n} events</option>)}
            </select>
          </label>
          <button type="button" disabled={busy !== null || topicNames.length === 0} onClick={() => void runPreview()}>{busy === 'preview' ? 'Running…' : 'Sample again'}</button>
        </div>
        <div className="muted small" role="note">
          Live: {editing ? `the draft with ${editing.index === null ? 'the new step' : `step ${editing.index + 1}`} as you edit it` : dirty ? 'the draft' : 'the running chain'}, on the newest {sampleLast} events of the topic — updated as you type.
        </div>
        {topicNames.length === 0 && <div className="muted">No topic holds events yet: send some to preview on.</div>}
        {previewError !== null && <ErrorBox error={previewError} compact />}
        {preview && <PreviewTable preview={preview} chain={previewChain} specs={specs} />}
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

function PreviewTable({ preview, chain, specs }: { preview: PreviewResponse; chain: InterceptorEntry[]; specs: Map<string, ComponentInfo> }) {
  return (
    <div aria-label="Preview result">
      <p className="preview-summary" role="status">
        {preview.sampled} sampled from <span className="mono">{preview.topic}</span> · <strong>{preview.kept}</strong> kept · <strong className={preview.dropped > 0 ? 'error-text' : ''}>{preview.dropped}</strong> dropped
      </p>
      <div className="preview-grid">
        <div className="ph">Before (as stored)</div>
        <div className="ph">After the chain</div>
        {preview.events.map((item) => <PreviewRow key={item.offset} item={item} topic={preview.topic} chain={chain} specs={specs} />)}
      </div>
    </div>
  );
}

function PreviewRow({ item, topic, chain, specs }: { item: PreviewItem; topic: string; chain: InterceptorEntry[]; specs: Map<string, ComponentInfo> }) {
  const rerouted = item.afterTopic !== null && item.afterTopic !== topic;
  const before = eventLines(item.before);
  const after = item.after === null ? [] : eventLines(item.after);
  const changed = item.after !== null && (rerouted || before.join('\n') !== after.join('\n'));
  const afterSet = new Set(after);
  const beforeSet = new Set(before);
  const step = item.droppedBy ? chain[item.droppedBy.index] : undefined;
  return (
    <>
      <div className="preview-cell" data-offset={item.offset}>
        <div className="muted">#{item.offset}</div>
        <Lines lines={before} mark={(l) => (item.after !== null && !afterSet.has(l) ? 'removed' : null)} />
      </div>
      {item.after === null ? (
        <div className="preview-cell dropped" data-dropped="true">
          ✕ Dropped{item.droppedBy ? ` by step ${item.droppedBy.index + 1} (${item.droppedBy.type})` : ''}
          <div className="small drop-reason">{dropReason(item, step, step ? specs.get(step.type) : undefined)}</div>
        </div>
      ) : (
        <div className={`preview-cell${changed ? ' changed' : ''}`} data-changed={changed ? 'true' : 'false'}>
          {rerouted && <div className="strong">→ topic {item.afterTopic}</div>}
          <Lines lines={after} mark={(l) => (beforeSet.has(l) ? null : 'added')} />
          {item.errors?.map((e) => <div key={e.index} className="warn-text small">step {e.index + 1} ({e.type}) failed: {e.message}</div>)}
        </div>
      )}
    </>
  );
}

/** Why a step dropped an event, in the step's own terms. */
function dropReason(item: PreviewItem, step: InterceptorEntry | undefined, spec: ComponentInfo | undefined): string {
  if (item.droppedBy?.error) return `the step failed (${item.droppedBy.error}) and its on_error drops the event`;
  if (!step) return 'a step returned no event';
  const c = configOf(step);
  switch (step.type) {
    case 'regex_filter':
      return c.exclude === true ? `matches /${String(c.pattern)}/ and the step excludes matches` : `does not match /${String(c.pattern)}/ (the step keeps only matches)`;
    case 'sample':
      return 'not picked by the sampler';
    default:
      return `the step (${describeConfig(step, spec)}) returned no event`;
  }
}

/** An event as lines (key, headers, body), the unit the preview compares before and after. */
function eventLines(e: ApiEvent): string[] {
  const lines: string[] = [];
  if (e.key !== null) lines.push(`key: ${e.key}`);
  for (const [k, v] of Object.entries(e.headers).sort(([a], [b]) => a.localeCompare(b))) lines.push(`${k}: ${v}`);
  const body = e.body === null || e.body === undefined ? `(${e.size} bytes ${e.contentType})` : typeof e.body === 'string' ? e.body : JSON.stringify(e.body, null, 1);
  lines.push(...(body.length > 600 ? `${body.slice(0, 600)}…` : body).split('\n'));
  return lines;
}

function Lines({ lines, mark }: { lines: string[]; mark: (line: string) => 'added' | 'removed' | null }) {
  return (
    <>
      {lines.map((line, i) => {
        const m = mark(line);
        const colon = line.indexOf(': ');
        const isField = i < lines.length && colon > 0 && !line.startsWith('{') && !line.startsWith(' ') && !line.startsWith('"');
        return (
          <div key={i} className={m ? `diff-${m}` : undefined} data-diff={m ?? undefined}>
            {isField ? <><span className="hdr">{line.slice(0, colon + 1)}</span>{line.slice(colon + 1)}</> : line}
          </div>
        );
      })}
    </>
  );
}

function configOf(entry: InterceptorEntry): ConfigValue {
  const { type: _type, ...config } = entry;
  return config;
}

/**
 * A collapsed step in one line, what defines it first: the keys the step requires and that have no
 * default, in the schema's order, then the others that differ from their defaults;
 * settings left at their defaults are not listed.
 */
function describeConfig(entry: InterceptorEntry, spec?: ComponentInfo): string {
  const config = configOf(entry);
  const schema = asSchema(spec?.schema);
  // Defining keys: required and without a default (a filter's pattern, a field's path).
  const required = (schema.required ?? []).filter((k) => schema.properties?.[k]?.default === undefined);
  const order = [...required, ...Object.keys(schema.properties ?? {}).filter((k) => !required.includes(k)), ...Object.keys(config)];
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const k of order) {
    if (seen.has(k) || !(k in config)) continue;
    seen.add(k);
    const v = config[k];
    const d = schema.properties?.[k]?.default;
    if (!required.includes(k) && d !== undefined && JSON.stringify(d) === JSON.stringify(v)) continue;
    parts.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
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
