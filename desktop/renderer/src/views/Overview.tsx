/**
 * Overview of one collector: channel size and fill, sources with rates, sinks with state, lag and
 * last error, and charts of throughput and lag over the last minutes.
 */
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { TimeChart, type ChartSeries } from '../components/Chart.tsx';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Empty, FillBar, Loading, PageHeader, Stat, StatusDot } from '../components/ui.tsx';
import { formatAgo, formatBytes, formatCount, formatDuration, formatPercent, formatRate, formatTime } from '../lib/format.ts';
import type { Sample } from '../lib/history.ts';
import type { Route } from '../lib/router.ts';
import { useClient } from '../state.tsx';
import type { SinkStatus } from '../../../../shared/src/api/core.ts';

export function OverviewView({ history, navigate }: { history: Sample[]; navigate: (r: { view: Route['view']; arg?: string | null; params?: Record<string, string> }) => void }) {
  const client = useClient();
  const id = client.connection.id;
  const health = useQuery({ queryKey: [id, 'health'], queryFn: ({ signal }) => client.health(signal), refetchInterval: 2000 });
  const sources = useQuery({ queryKey: [id, 'sources'], queryFn: ({ signal }) => client.sources(signal), refetchInterval: 2000 });
  const sinks = useQuery({ queryKey: [id, 'sinks'], queryFn: ({ signal }) => client.sinks(signal), refetchInterval: 2000 });
  const topics = useQuery({ queryKey: [id, 'topics'], queryFn: ({ signal }) => client.topics(signal), refetchInterval: 2000 });

  const latestRates = history.at(-1)?.rates ?? {};
  const charts = useMemo(() => {
    const times = history.map((s) => s.t);
    const sourceNames = [...new Set(history.flatMap((s) => Object.keys(s.rates)))].sort();
    const sinkNames = [...new Set(history.flatMap((s) => Object.keys(s.lags)))].sort();
    const throughput: ChartSeries[] = sourceNames.map((n) => ({ label: n, values: history.map((s) => s.rates[n] ?? null) }));
    const lag: ChartSeries[] = sinkNames.map((n) => ({ label: n, values: history.map((s) => s.lags[n] ?? null) }));
    return { times, throughput, lag };
  }, [history]);

  if (health.error) return <div className="view"><PageHeader title="Overview" /><ErrorBox error={health.error} onRetry={() => void health.refetch()} /></div>;
  if (!health.data) return <div className="view"><PageHeader title="Overview" /><Loading what="the collector's health" /></div>;
  const h = health.data;
  const totalRate = Object.values(latestRates).reduce((a, b) => a + b, 0);
  const totalLag = sinks.data?.sinks.reduce((a, s) => a + s.lag, 0) ?? 0;

  return (
    <div className="view overview-view">
      <PageHeader
        title={<>Overview <span className="muted">{h.collectorId}</span></>}
        subtitle={<>Sluice {h.version} · up {formatDuration(h.uptimeMs)}{h.readonly ? ' · read-only (inspect)' : ''} · <StatusDot status={h.status} /></>}
      />
      {(h.problems?.length ?? 0) > 0 && (
        <div className="error-box compact health-problems" role="alert">
          {h.problems!.map((p) => <div key={p} className="warn-text">{p}</div>)}
        </div>
      )}
      <section className="stats-row">
        <Stat label="Channel" value={formatBytes(h.channel.bytes)} detail={<>of {formatBytes(h.channel.maxBytes)} · {formatPercent(h.channel.fill)} full<FillBar ratio={h.channel.fill} /></>} />
        <Stat label="Ingest" value={formatRate(totalRate)} detail={`${sources.data?.sources.length ?? 0} sources`} />
        <Stat label="Sink lag" value={formatCount(totalLag)} detail={`${sinks.data?.sinks.length ?? 0} sinks`} />
        <Stat label="Topics" value={formatCount(topics.data?.topics.length ?? 0)} detail={`${formatCount(topics.data?.topics.reduce((a, t) => a + t.count, 0) ?? 0)} events stored`} />
        <Stat label="WAL" value={formatBytes(h.channel.walBytes)} detail={<span className="mono small" title={h.channel.file}>{h.channel.file}</span>} />
      </section>

      <section className="charts">
        <div className="card">
          {charts.throughput.length > 0 ? <TimeChart title="Throughput (events/s accepted per source)" times={charts.times} series={charts.throughput} unit="/s" /> : <Empty>{sources.data?.sources.length === 0 ? 'No sources: nothing flows in.' : 'Throughput appears after two samples (every 2 s).'}</Empty>}
        </div>
        <div className="card">
          {charts.lag.length > 0 ? <TimeChart title="Lag (events not yet delivered, per sink)" times={charts.times} series={charts.lag} unit="" /> : <Empty>No sinks: nothing to lag behind.</Empty>}
        </div>
      </section>

      <section>
        <h2>Sources</h2>
        {sources.error ? <ErrorBox error={sources.error} compact /> : (
          <table className="grid">
            <thead>
              <tr><th>Source</th><th>Type</th><th>Listens on</th><th className="num">Rate</th><th className="num">Accepted</th><th className="num">Dropped by chain</th><th className="num">Rejected</th><th>Last event</th><th>Chain</th></tr>
            </thead>
            <tbody>
              {sources.data?.sources.map((s) => (
                <tr key={s.name}>
                  <td><strong>{s.name}</strong></td>
                  <td>{s.type}</td>
                  <td className="mono small">{s.endpoints.join(', ')}</td>
                  <td className="num">{formatRate(latestRates[s.name] ?? 0)}</td>
                  <td className="num">{formatCount(s.accepted)}</td>
                  <td className="num">{formatCount(s.dropped)}</td>
                  <td className={`num${s.rejected > 0 ? ' warn-text' : ''}`}>{formatCount(s.rejected)}</td>
                  <td>{formatAgo(s.lastEventAt)}</td>
                  <td><button type="button" className="link" onClick={() => navigate({ view: 'interceptors', arg: s.name })}>{s.interceptors.length} interceptor{s.interceptors.length === 1 ? '' : 's'}</button></td>
                </tr>
              ))}
              {sources.data?.sources.length === 0 && <tr><td colSpan={9} className="muted">No sources configured.</td></tr>}
            </tbody>
          </table>
        )}
      </section>

      <section>
        <h2>Sinks</h2>
        {sinks.error ? <ErrorBox error={sinks.error} compact /> : (
          <table className="grid">
            <thead>
              <tr><th>Sink</th><th>Type</th><th>State</th><th className="num">Lag</th><th className="num" title="Age of the oldest undelivered event">Behind</th><th className="num" title="Events/s confirmed over the last 10 s">Sent/s</th><th className="num">Sent</th><th className="num">Parked</th><th>Last success</th><th>Last error</th><th /></tr>
            </thead>
            <tbody>
              {sinks.data?.sinks.map((s) => (
                <tr key={s.name}>
                  <td><strong>{s.name}</strong></td>
                  <td>{s.type ?? '—'}</td>
                  <td>
                    <StatusDot status={s.state} />
                    {s.state === 'backing_off' && s.nextAttemptAt && <span className="muted small"> retry in {formatDuration(Math.max(0, s.nextAttemptAt - Date.now()))} (attempt {s.attempt})</span>}
                  </td>
                  <td className="num">{formatCount(s.lag)}</td>
                  <td className={`num${(s.lagSeconds ?? 0) >= 10 ? ' warn-text' : ''}`} title={s.topics.map((t) => `${t.topic}: ${formatCount(t.lag)} events, ${formatDuration((t.lagSeconds ?? 0) * 1000)} behind${t.state === 'backing_off' ? ', backing off' : ''}`).join('\n')}>
                    {s.lag > 0 ? formatDuration((s.lagSeconds ?? 0) * 1000) : '—'}
                  </td>
                  <td className="num">{formatCount(Math.round(s.rate ?? 0))}</td>
                  <td className="num">{formatCount(s.sentEvents)}</td>
                  <td className={`num${s.parkedEvents > 0 ? ' warn-text' : ''}`}>{formatCount(s.parkedEvents)}</td>
                  <td>{formatAgo(s.lastSuccessAt)}</td>
                  <td className="small"><LastError error={s.lastError} state={s.state} lastSuccessAt={s.lastSuccessAt} /></td>
                  <td><button type="button" className="link" onClick={() => navigate({ view: 'replay', arg: s.name })}>Replay…</button></td>
                </tr>
              ))}
              {sinks.data?.sinks.length === 0 && <tr><td colSpan={11} className="muted">No sinks configured: events stay in the channel until retention removes them.</td></tr>}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

/**
 * A sink's last error, with when it happened; once a delivery succeeded after it, it is shown as
 * over (muted, "recovered"), not left red beside a sink that works.
 */
function LastError({ error, state, lastSuccessAt }: { error: SinkStatus['lastError']; state: SinkStatus['state']; lastSuccessAt: number | null }) {
  if (!error) return <span className="muted">none</span>;
  const over = state !== 'failed' && state !== 'backing_off' && lastSuccessAt !== null && lastSuccessAt > error.at;
  const title = `${error.code} at ${formatTime(error.at)}${over ? `; delivering again since ${formatTime(lastSuccessAt)}` : ''}`;
  return over ? (
    <span className="muted" data-error-state="recovered" title={title}>recovered · {formatAgo(error.at)}: {error.message}</span>
  ) : (
    <span className="error-text" data-error-state="current" title={title}>{formatAgo(error.at)}: {error.message}</span>
  );
}
