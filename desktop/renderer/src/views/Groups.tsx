/** Consumer groups (the Kafka-style pull API of a hub): committed offsets and lag per topic. */
import { useQuery } from '@tanstack/react-query';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Empty, Loading, PageHeader } from '../components/ui.tsx';
import { formatAgo, formatCount } from '../lib/format.ts';
import type { Route } from '../lib/router.ts';
import { useClient } from '../state.tsx';

export function GroupsView({ navigate }: { navigate: (r: { view: Route['view']; arg?: string | null; params?: Record<string, string> }) => void }) {
  const client = useClient();
  const query = useQuery({ queryKey: [client.connection.id, 'groups'], queryFn: ({ signal }) => client.groups(signal), refetchInterval: 2000 });
  const groups = { ...query, data: query.data?.groups };
  return (
    <div className="view groups-view">
      <PageHeader title="Consumer groups" subtitle="Consumers that pull topics through the consumer API (GET /api/v1/topics/:topic/fetch), with their committed offsets and lag per topic. Reset offsets moves them (dry run first); sluice groups and sluice replay --group do the same from a shell." />
      {groups.error && <ErrorBox error={groups.error} onRetry={() => void groups.refetch()} />}
      {!groups.data && !groups.error && <Loading what="consumer groups" />}
      {groups.data?.length === 0 && <Empty>No consumer group has committed an offset on this collector yet.</Empty>}
      {groups.data?.map((g) => (
        <section key={g.name} className="card group-card" data-group={g.name}>
          <div className="card-title">
            <strong>{g.name}</strong>
            <span className="muted">total lag {formatCount(g.lag)}</span>
            <button type="button" className="link" onClick={() => navigate({ view: 'replay', arg: g.name, params: { kind: 'group' } })} title="Move the group's offsets like kafka-consumer-groups --reset-offsets: earliest, latest, an offset, a time or ±N, with a dry run first">Reset offsets…</button>
          </div>
          <table className="grid compact">
            <thead><tr><th>Topic</th><th className="num">Committed</th><th className="num">High</th><th className="num">Lag</th><th className="num" title="Events retention removed before the group read them">Lost</th><th>Updated</th><th /></tr></thead>
            <tbody>
              {g.topics.map((t) => (
                <tr key={t.topic}>
                  <td>{t.topic}</td>
                  <td className="num">{formatCount(t.committed)}</td>
                  <td className="num">{formatCount(t.high)}</td>
                  <td className={`num${t.lag > 0 ? ' strong' : ''}`}>{formatCount(t.lag)}</td>
                  <td className={`num${t.lost > 0 ? ' warn-text' : ''}`}>{formatCount(t.lost)}</td>
                  <td>{formatAgo(t.updatedAt)}</td>
                  <td><button type="button" className="link" onClick={() => navigate({ view: 'messages', arg: t.topic, params: { offset: String(Math.min(Math.max(t.committed, t.low), Math.max(t.low, t.high - 1))) } })}>Show at cursor</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </div>
  );
}
