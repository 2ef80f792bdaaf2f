/**
 * One topic: its offsets, size, rate over the last minutes, retention, who reads it (sinks and
 * consumer groups) and how far behind they are; produce a test event; truncate (delete the events
 * before an offset) after a confirmation that says what will go and who has not read it yet; its
 * viewer schema (Protobuf/Avro, SchemaCard.tsx).
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { TopicCursor } from '../../../../shared/src/api/core.ts';
import { InputProblem } from '../api/errors.ts';
import { TimeChart } from '../components/Chart.tsx';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Empty, Loading, PageHeader, Stat } from '../components/ui.tsx';
import { formatAgo, formatBytes, formatCount, formatDuration, formatRate } from '../lib/format.ts';
import type { Route } from '../lib/router.ts';
import { useClient } from '../state.tsx';
import { SchemaCard } from './SchemaCard.tsx';

type Navigate = (r: { view: Route['view']; arg?: string | null; params?: Record<string, string> }) => void;

export function TopicView({ topic, navigate }: { topic: string; navigate: Navigate }) {
  const client = useClient();
  const id = client.connection.id;
  const detail = useQuery({ queryKey: [id, 'topic', topic], queryFn: ({ signal }) => client.topic(topic, signal), refetchInterval: 2000 });
  const topics = useQuery({ queryKey: [id, 'topics'], queryFn: ({ signal }) => client.topics(signal), refetchInterval: 2000 });
  const summary = topics.data?.topics.find((t) => t.name === topic);

  // Appends per second from the high watermark between samples, kept while the page is open.
  const [rates, setRates] = useState<{ t: number; high: number; rate: number | null }[]>([]);
  const high = detail.data?.high;
  useEffect(() => {
    if (high === undefined) return;
    const now = Date.now() / 1000;
    setRates((h) => {
      const last = h.at(-1);
      if (last && last.high === high && now - last.t < 1.5) return h;
      const rate = last && now > last.t ? Math.max(0, (high - last.high) / (now - last.t)) : null;
      return [...h, { t: now, high, rate }].slice(-300);
    });
  }, [high, detail.dataUpdatedAt]);

  const title = <>{topic}</>;
  const actions = (
    <>
      <button type="button" onClick={() => navigate({ view: 'messages', arg: topic })}>Messages</button>
      <button type="button" onClick={() => navigate({ view: 'tail', arg: topic })}>Live tail</button>
    </>
  );
  if (detail.error) return <div className="view"><PageHeader title={title} actions={actions} /><ErrorBox error={detail.error} onRetry={() => void detail.refetch()} /></div>;
  if (!detail.data) return <div className="view"><PageHeader title={title} /><Loading what={`topic "${topic}"`} /></div>;
  const t = detail.data;
  const p = t.policy;
  const retention = [p.retentionMs !== null ? formatSpan(p.retentionMs) : null, p.retentionBytes !== null ? formatBytes(p.retentionBytes) : null].filter(Boolean).join(' or ') || 'kept until the channel is full';

  return (
    <div className="view topic-view" data-topic={topic}>
      <PageHeader title={title} subtitle={t.count === 0 ? `empty · next offset ${formatCount(t.high)}` : `offsets ${formatCount(t.low)} … ${formatCount(t.high - 1)} · ${formatCount(t.count)} events`} actions={actions} />
      <section className="stats-row">
        <Stat label="Events" value={formatCount(t.count)} detail={`low ${formatCount(t.low)} · high ${formatCount(t.high)}`} />
        <Stat label="Size" value={formatBytes(t.bytes)} detail={t.lastTs !== null ? `last event ${formatAgo(t.lastTs)}` : 'no event yet'} />
        <Stat label="Rate" value={formatRate(summary?.ratePerSec ?? 0)} detail="events appended per second" />
        <Stat label="Retention" value={retention} detail={`when full: ${p.whenFull === 'block' ? 'block (refuse new events)' : 'drop the oldest'}`} />
        <Stat label="Removed" value={formatCount(t.expired + t.dropped)} detail={`${formatCount(t.expired)} by retention · ${formatCount(t.dropped)} undelivered`} />
      </section>
      <section className="card">
        {rates.filter((r) => r.rate !== null).length > 1 ? (
          <TimeChart title="Appends (events/s)" times={rates.filter((r) => r.rate !== null).map((r) => r.t)} series={[{ label: topic, values: rates.filter((r) => r.rate !== null).map((r) => r.rate) }]} unit="/s" height={140} />
        ) : (
          <Empty>The rate chart fills in while this page is open (a sample every 2 s).</Empty>
        )}
      </section>
      <Readers cursors={t.cursors} high={t.high} navigate={navigate} />
      <SchemaCard topic={topic} />
      <div className="topic-tools">
        <ProduceForm topic={topic} onDone={() => void detail.refetch()} />
        <TruncateForm topic={topic} low={t.low} high={t.high} cursors={t.cursors} onDone={() => void detail.refetch()} />
      </div>
    </div>
  );
}

/** A retention span as configured: `7 days`, `12 hours`, `30 minutes`, else the exact duration. */
function formatSpan(ms: number): string {
  for (const [unit, size] of [['day', 86_400_000], ['hour', 3_600_000], ['minute', 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms === size ? '' : 's'}`;
  }
  return formatDuration(ms);
}

function readerName(c: TopicCursor): { kind: 'sink' | 'group' | 'other'; name: string } {
  if (c.consumer.startsWith('sink:')) return { kind: 'sink', name: c.consumer.slice(5) };
  if (c.consumer.startsWith('group:')) return { kind: 'group', name: c.consumer.slice(6) };
  return { kind: 'other', name: c.consumer };
}

function Readers({ cursors, high, navigate }: { cursors: TopicCursor[]; high: number; navigate: Navigate }) {
  return (
    <section className="card" aria-label="Readers">
      <div className="card-title"><strong>Who reads it</strong><span className="muted">sinks deliver it, consumer groups pull it</span></div>
      {cursors.length === 0 ? (
        <Empty>No sink or consumer group has a cursor on this topic yet.</Empty>
      ) : (
        <table className="grid compact">
          <thead><tr><th>Reader</th><th>Kind</th><th className="num">Next offset</th><th className="num">Behind</th><th>Holds retention</th><th>Moved</th><th /></tr></thead>
          <tbody>
            {cursors.map((c) => {
              const r = readerName(c);
              return (
                <tr key={c.consumer} data-reader={c.consumer}>
                  <td className="strong">{r.name}</td>
                  <td>{r.kind === 'other' ? 'cursor' : r.kind}</td>
                  <td className="num">{formatCount(c.next)}</td>
                  <td className={`num${c.lag > 0 ? ' strong' : ''}`}>{formatCount(c.lag)}{c.lag > 0 && high > 0 ? <span className="muted small"> ({Math.max(1, Math.round((100 * c.lag) / high))}%)</span> : null}</td>
                  <td>{c.protects ? 'yes' : 'no'}</td>
                  <td>{formatAgo(c.updatedAt)}</td>
                  <td className="row-actions">
                    {r.kind !== 'other' && (
                      <button type="button" className="link" onClick={() => navigate({ view: 'replay', arg: r.name, params: r.kind === 'group' ? { kind: 'group' } : {} })}>Replay…</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ProduceForm({ topic, onDone }: { topic: string; onDone: () => void }) {
  const client = useClient();
  const queries = useQueryClient();
  const [body, setBody] = useState('{"hello": "from the topic page"}');
  const [key, setKey] = useState('');
  const [headers, setHeaders] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [stored, setStored] = useState<number | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setStored(null);
    const parsedHeaders: Record<string, string> = {};
    for (const part of headers.split(',').map((h) => h.trim()).filter(Boolean)) {
      const eq = part.indexOf('=');
      if (eq <= 0) {
        setError(new InputProblem(`Headers are name=value pairs separated by commas; "${part}" has no name=value.`));
        return;
      }
      parsedHeaders[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    let json: { value: unknown } | { text: string };
    try {
      json = { value: JSON.parse(body) as unknown };
    } catch {
      json = { text: body };
    }
    setBusy(true);
    try {
      const answer = await client.produce(topic, { events: [{ ...json, ...(key ? { key } : {}), ...(Object.keys(parsedHeaders).length ? { headers: parsedHeaders } : {}) }] });
      setStored(answer.first);
      onDone();
      void queries.invalidateQueries({ queryKey: [client.connection.id, 'topics'] });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Produce a test event">
      <div className="card-title"><strong>Produce a test event</strong><span className="muted">stored as given: no interceptor chain runs</span></div>
      <label>Body (JSON, else stored as text)<textarea rows={3} value={body} onChange={(e) => setBody(e.target.value)} aria-label="Event body" /></label>
      <label>Key<input value={key} onChange={(e) => setKey(e.target.value)} aria-label="Event key" placeholder="optional" /></label>
      <label>Headers<input value={headers} onChange={(e) => setHeaders(e.target.value)} aria-label="Event headers" placeholder="name=value, other=value" /></label>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>Produce</button>
        {stored !== null && <span role="status">Stored at offset {formatCount(stored)}.</span>}
      </div>
      {error !== null && <ErrorBox error={error} compact />}
    </form>
  );
}

function TruncateForm({ topic, low, high, cursors, onDone }: { topic: string; low: number; high: number; cursors: TopicCursor[]; onDone: () => void }) {
  const client = useClient();
  const [before, setBefore] = useState('');
  const [confirming, setConfirming] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<string | null>(null);
  const behind = useMemo(() => (confirming === null ? [] : cursors.filter((c) => c.next < confirming)), [confirming, cursors]);

  useEffect(() => {
    if (confirming === null) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setConfirming(null);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [confirming]);

  const ask = (e: FormEvent) => {
    e.preventDefault();
    setResult(null);
    const text = before.trim();
    const n = text === '' ? high : Number(text);
    if (!Number.isInteger(n) || n < 0) {
      setError(new InputProblem(`"${before}" is not an offset: give a whole number (the topic holds ${formatCount(low)} … ${formatCount(Math.max(low, high - 1))}), or leave it empty to delete every event.`));
      return;
    }
    if (n <= low) {
      setError(new InputProblem(`Nothing to delete before offset ${formatCount(n)}: the topic already starts at ${formatCount(low)}.`));
      return;
    }
    setError(null);
    setConfirming(Math.min(n, high));
  };

  const run = async () => {
    if (confirming === null) return;
    setBusy(true);
    try {
      const r = await client.truncate(topic, confirming);
      setResult(`Deleted ${formatCount(r.deleted)} events (${formatBytes(r.bytes)})${r.dropped > 0 ? `, ${formatCount(r.dropped)} of them not yet delivered` : ''}; the topic now starts at offset ${formatCount(r.low)}.`);
      setConfirming(null);
      onDone();
    } catch (err) {
      setError(err);
      setConfirming(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={ask} aria-label="Truncate">
      <div className="card-title"><strong>Truncate</strong><span className="muted">delete the events before an offset, delivered or not (kafka-delete-records)</span></div>
      <label>Delete events before offset<input value={before} onChange={(e) => setBefore(e.target.value)} aria-label="Delete before offset" placeholder={`${high} (everything)`} inputMode="numeric" /></label>
      <div className="form-actions">
        <button type="submit" className="danger" disabled={busy || high === low}>Delete…</button>
        {result !== null && <span role="status">{result}</span>}
      </div>
      {error !== null && <ErrorBox error={error} compact />}
      {confirming !== null && (
        <div className="modal-backdrop" role="presentation" onClick={() => setConfirming(null)}>
          <div className="modal" role="dialog" aria-label="Confirm truncate" onClick={(e) => e.stopPropagation()}>
            <h2>Delete the events of “{topic}” before offset {formatCount(confirming)}?</h2>
            <p>
              About <strong>{formatCount(confirming - low)}</strong> events (offsets {formatCount(low)} … {formatCount(confirming - 1)}) will be deleted for good, in whole
              record batches, so a few just before {formatCount(confirming)} may stay.
            </p>
            {behind.length > 0 ? (
              <p className="warn-text">Not read yet by: {behind.map((c) => `${readerName(c).name} (${formatCount(Math.min(confirming, high) - c.next)} events)`).join(', ')}. They will continue from the new start.</p>
            ) : (
              <p className="muted">Every sink and group has read past this point.</p>
            )}
            <div className="form-actions">
              <button type="button" className="danger" disabled={busy} onClick={() => void run()}>Yes, delete them</button>
              <button type="button" onClick={() => setConfirming(null)}>Cancel</button>
            </div>
          </div>
        </div>
      )}
    </form>
  );
}
