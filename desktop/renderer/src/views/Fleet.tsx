/**
 * Fleet (on a hub): every edge that reports to this collector — last seen, state, backlog, age of
 * its oldest undelivered event, channel fill — worst first, with the selected edge's backlog
 * history, topics and sinks; an edge's own admin API opens as a saved connection in one click.
 */
import { useQuery } from '@tanstack/react-query';
import type { EdgeSummary } from '../../../../shared/src/api/fleet.ts';
import { TimeChart } from '../components/Chart.tsx';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Empty, Loading, PageHeader } from '../components/ui.tsx';
import { formatAgo, formatBytes, formatCount, formatDuration, formatPercent, formatTimeZoned } from '../lib/format.ts';
import type { Route } from '../lib/router.ts';
import { useClient, useConnections } from '../state.tsx';

type Navigate = (r: { view: Route['view']; arg?: string | null; params?: Record<string, string> }) => void;

const STATE_DOT: Record<EdgeSummary['state'], string> = { ok: 'ok', behind: 'degraded', failing: 'failed', stale: 'down' };

export function FleetView({ navigate, selected, onSelect }: { navigate: Navigate; selected: string | null; onSelect: (id: string) => void }) {
  const client = useClient();
  const edges = useQuery({ queryKey: [client.connection.id, 'edges'], queryFn: ({ signal }) => client.edges(signal), refetchInterval: 2000 });
  const list = edges.data?.edges ?? [];
  const current = list.find((e) => e.id === selected) ?? list[0] ?? null;
  const counts = { stale: 0, failing: 0, behind: 0, ok: 0 };
  for (const e of list) counts[e.state]++;

  return (
    <div className="view fleet-view">
      <PageHeader
        title="Fleet"
        subtitle={edges.data ? `${formatCount(list.length)} edge${list.length === 1 ? '' : 's'} report to this collector · ${counts.stale} stale · ${counts.failing} failing · ${counts.behind} behind · ${counts.ok} ok` : 'The edges that forward to this collector and report their state.'}
      />
      {edges.error && <ErrorBox error={edges.error} onRetry={() => void edges.refetch()} />}
      {!edges.data && !edges.error && <Loading what="the fleet" />}
      {edges.data && list.length === 0 && (
        <Empty>No edge has reported yet. Edges with a forward sink to this collector report every <code>fleet.report_interval</code> (30 s by default); see docs/fleet.md.</Empty>
      )}
      {list.length > 0 && (
        <table className="grid fleet-table">
          <thead>
            <tr><th>Edge</th><th>State</th><th>Last seen</th><th className="num">Backlog</th><th className="num">Oldest undelivered</th><th className="num">Channel</th><th>Sinks</th><th>Version</th><th /></tr>
          </thead>
          <tbody>
            {list.map((e) => (
              <tr key={e.id} data-edge={e.id} className={current?.id === e.id ? 'selected' : ''} onClick={() => onSelect(e.id)}>
                <td><strong>{e.id}</strong> <span className="muted small">{e.host}</span></td>
                <td><span className={`status status-${STATE_DOT[e.state]}`}><span className="dot" aria-hidden="true" /><span className="status-label">{e.state}</span></span></td>
                <td title={formatTimeZoned(e.lastSeen)}>{formatAgo(e.lastSeen)}</td>
                <td className={`num${e.backlogEvents > 0 ? ' strong' : ''}`}>{formatCount(e.backlogEvents)}</td>
                <td className="num">{e.oldestUndeliveredSeconds > 0 ? formatDuration(e.oldestUndeliveredSeconds * 1000) : '–'}</td>
                <td className="num">{formatPercent(e.latest.channel.fill)}</td>
                <td className="small">{e.latest.sinks.map((s) => `${s.name}: ${s.state.replace('_', ' ')}`).join(', ') || '–'}</td>
                <td className="small">{e.version}</td>
                <td className="row-actions"><OpenEdge edge={e} navigate={navigate} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {current && <EdgeDetail edge={current} />}
    </div>
  );
}

/** Saves the edge's admin API as a connection and switches to it. */
function OpenEdge({ edge, navigate }: { edge: EdgeSummary; navigate: Navigate }) {
  const { connections, save, setActive } = useConnections();
  if (!edge.adminUrl) return <span className="muted small" title="The edge has not said where its admin API listens">no admin URL</span>;
  const url = edge.adminUrl;
  const open = async (event: React.MouseEvent) => {
    event.stopPropagation();
    const existing = connections.find((c) => c.url === url);
    const id = existing?.id ?? `edge-${edge.id}`;
    if (!existing) await save({ id, name: edge.id, url, token: null });
    setActive(id);
    navigate({ view: 'overview' });
  };
  return (
    <button type="button" className="link" onClick={(e) => void open(e)} title={`Open ${url} as a connection (it must be reachable from here; a token is asked for if it needs one)`}>
      Open
    </button>
  );
}

function EdgeDetail({ edge }: { edge: EdgeSummary }) {
  const h = edge.history;
  return (
    <section className="card" aria-label={`Edge ${edge.id}`}>
      <div className="card-title">
        <strong>{edge.id}</strong>
        <span className="muted">
          {edge.host} · sluice {edge.version} · up since {formatTimeZoned(edge.startedAt)} · config {edge.configHash ?? '–'} · report made {formatTimeZoned(edge.reportedAt)} · {formatCount(edge.reports)} reports · disk free {edge.latest.channel.diskFreeBytes === null ? '–' : formatBytes(edge.latest.channel.diskFreeBytes)}
        </span>
      </div>
      {h.length > 1 ? (
        <TimeChart title="Backlog (events not yet delivered), from its reports" times={h.map((p) => p.at / 1000)} series={[{ label: 'backlog', values: h.map((p) => p.backlogEvents) }]} unit="" height={140} />
      ) : (
        <Empty>The history fills in with each report.</Empty>
      )}
      <div className="fleet-detail">
        <table className="grid compact">
          <thead><tr><th>Topic</th><th className="num">Backlog</th><th className="num">Oldest undelivered</th><th className="num">Stored</th></tr></thead>
          <tbody>
            {edge.latest.topics.map((t) => (
              <tr key={t.topic}><td>{t.topic}</td><td className="num">{formatCount(t.backlogEvents)}</td><td className="num">{t.oldestUndeliveredSeconds > 0 ? formatDuration(t.oldestUndeliveredSeconds * 1000) : '–'}</td><td className="num">{formatBytes(t.storedBytes)}</td></tr>
            ))}
          </tbody>
        </table>
        <table className="grid compact">
          <thead><tr><th>Sink</th><th>State</th><th className="num">Lag</th><th>Last error</th></tr></thead>
          <tbody>
            {edge.latest.sinks.map((s) => (
              <tr key={s.name}><td>{s.name} <span className="muted small">{s.type}</span></td><td>{s.state.replace('_', ' ')}</td><td className="num">{formatCount(s.lag)}</td><td className="small">{s.lastError ? `${formatAgo(s.lastError.at)}: ${s.lastError.message}` : '–'}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
