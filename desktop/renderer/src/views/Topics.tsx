/** Topics: offsets, counts, bytes, rates; search by name; open one in Messages or Live tail. */
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading, PageHeader } from '../components/ui.tsx';
import { formatAgo, formatBytes, formatCount, formatRate } from '../lib/format.ts';
import type { Route } from '../lib/router.ts';
import { useClient } from '../state.tsx';

export function TopicsView({ navigate, initialSearch }: { navigate: (r: { view: Route['view']; arg?: string | null; params?: Record<string, string> }) => void; initialSearch?: string }) {
  const client = useClient();
  const [search, setSearch] = useState(initialSearch ?? '');
  const [showInternal, setShowInternal] = useState(false);
  const topics = useQuery({ queryKey: [client.connection.id, 'topics'], queryFn: ({ signal }) => client.topics(signal), refetchInterval: 2000 });

  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return (topics.data?.topics ?? [])
      .filter((t) => showInternal || !t.name.startsWith('_'))
      .filter((t) => !needle || t.name.toLowerCase().includes(needle))
      .sort((a, b) => a.name.localeCompare(b.name));
  }, [topics.data, search, showInternal]);

  return (
    <div className="view topics-view">
      <PageHeader
        title="Topics"
        subtitle={topics.data ? (search.trim() ? `${formatCount(shown.length)} of ${formatCount(topics.data.topics.length)} topics` : `${formatCount(topics.data.topics.length)} topics`) : undefined}
        actions={
          <>
            <input type="search" className="search" placeholder="Search topics by name" aria-label="Search topics" value={search} onChange={(e) => setSearch(e.target.value)} autoFocus />
            <label className="inline"><input type="checkbox" checked={showInternal} onChange={(e) => setShowInternal(e.target.checked)} /> internal (_…)</label>
          </>
        }
      />
      {topics.error && <ErrorBox error={topics.error} onRetry={() => void topics.refetch()} />}
      {!topics.data && !topics.error && <Loading what="topics" />}
      {topics.data && (
        <table className="grid topics-table">
          <thead>
            <tr>
              <th>Topic</th><th className="num">Low</th><th className="num">High</th><th className="num">Events</th><th className="num">Bytes</th><th className="num">Rate</th><th className="num">Dropped</th><th>Last event</th><th />
            </tr>
          </thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.name} data-topic={t.name}>
                <td><button type="button" className="link strong" onClick={() => navigate({ view: 'topic', arg: t.name })} title="Offsets, rate, retention, readers, produce, truncate">{t.name}</button></td>
                <td className="num">{formatCount(t.low)}</td>
                <td className="num">{formatCount(t.high)}</td>
                <td className="num">{formatCount(t.count)}</td>
                <td className="num">{formatBytes(t.bytes)}</td>
                <td className="num">{formatRate(t.ratePerSec)}</td>
                <td className={`num${t.dropped > 0 ? ' warn-text' : ''}`}>{formatCount(t.dropped)}</td>
                <td>{formatAgo(t.lastTs)}</td>
                <td className="row-actions">
                  <button type="button" className="link" onClick={() => navigate({ view: 'messages', arg: t.name })}>Messages</button>
                  <button type="button" className="link" onClick={() => navigate({ view: 'tail', arg: t.name })}>Tail</button>
                </td>
              </tr>
            ))}
            {shown.length === 0 && (
              <tr><td colSpan={9} className="muted">{search ? `No topic matches "${search}".` : 'No topics yet: send events to a source (e.g. curl -d \'{"hello":1}\' http://127.0.0.1:9880/demo).'}</td></tr>
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}
