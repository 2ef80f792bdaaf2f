/** Pick a topic for a view that shows one (Messages, Live tail). */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Loading, PageHeader } from '../components/ui.tsx';
import { formatCount } from '../lib/format.ts';
import { useClient } from '../state.tsx';

export function TopicPicker({ title, onPick }: { title: string; onPick: (topic: string) => void }) {
  const client = useClient();
  const [search, setSearch] = useState('');
  const topics = useQuery({ queryKey: [client.connection.id, 'topics'], queryFn: ({ signal }) => client.topics(signal), refetchInterval: 5000 });
  const shown = (topics.data?.topics ?? []).filter((t) => !t.name.startsWith('_') && t.name.toLowerCase().includes(search.trim().toLowerCase())).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div className="view">
      <PageHeader title={title} subtitle="Pick a topic" actions={<input type="search" className="search" placeholder="Search topics by name" aria-label="Search topics" value={search} onChange={(e) => setSearch(e.target.value)} autoFocus />} />
      {topics.error && <ErrorBox error={topics.error} onRetry={() => void topics.refetch()} />}
      {!topics.data && !topics.error && <Loading what="topics" />}
      <div className="topic-list">
        {shown.map((t) => (
          <button key={t.name} type="button" className="topic-chip" onClick={() => onPick(t.name)}>
            <strong>{t.name}</strong> <span className="muted">{formatCount(t.count)} events</span>
          </button>
        ))}
        {topics.data && shown.length === 0 && <div className="muted">No topic matches.</div>}
      </div>
    </div>
  );
}
