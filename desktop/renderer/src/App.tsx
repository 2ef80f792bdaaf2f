/**
 * The app shell: a sidebar with the active connection and the views, and the view the hash route
 * names. Views that are about a topic (Messages, Live tail) ask for one when the route has none.
 */
import { useEffect, useState } from 'react';
import { ErrorBox } from './components/ErrorBox.tsx';
import { StatusDot } from './components/ui.tsx';
import { bridge } from './lib/bridge.ts';
import { useHealth } from './lib/health.ts';
import { useHistory } from './lib/history.ts';
import { useRoute, type Route, type ViewName } from './lib/router.ts';
import { setZoneMode, zoneLabel } from './lib/format.ts';
import { useTheme, useZoneMode } from './lib/theme.ts';
import { useConnections, useClient } from './state.tsx';
import { ConnectionsView } from './views/Connections.tsx';
import { GroupsView } from './views/Groups.tsx';
import { InterceptorsView } from './views/Interceptors.tsx';
import { MessagesView } from './views/messages/Messages.tsx';
import { OverviewView } from './views/Overview.tsx';
import { ReplayView } from './views/Replay.tsx';
import { TailView } from './views/Tail.tsx';
import { TopicPicker } from './views/TopicPicker.tsx';
import { TopicsView } from './views/Topics.tsx';
import { TopicView } from './views/Topic.tsx';
import { FleetView } from './views/Fleet.tsx';

const NAV: { view: ViewName; label: string; key: string }[] = [
  { view: 'overview', label: 'Overview', key: '1' },
  { view: 'topics', label: 'Topics', key: '2' },
  { view: 'messages', label: 'Messages', key: '3' },
  { view: 'tail', label: 'Live tail', key: '4' },
  { view: 'replay', label: 'Replay', key: '5' },
  { view: 'interceptors', label: 'Interceptors', key: '6' },
  { view: 'groups', label: 'Consumer groups', key: '7' },
  { view: 'fleet', label: 'Fleet', key: '8' },
  { view: 'connections', label: 'Connections', key: '9' },
];

type Navigate = (r: { view: Route['view']; arg?: string | null; params?: Record<string, string> }, options?: { replace?: boolean }) => void;

export function App() {
  const [route, navigate] = useRoute();
  const [theme, toggleTheme] = useTheme();
  // Every view prints times through lib/format.ts: re-render them all when the zone switches.
  useZoneMode();
  const { connections, active, setActive, loaded } = useConnections();
  const health = useHealth(active);
  const [lastTopic, setLastTopic] = useState<string | null>(null);

  useEffect(() => {
    if ((route.view === 'messages' || route.view === 'tail' || route.view === 'topic') && route.arg) setLastTopic(route.arg);
  }, [route.view, route.arg]);

  // Alt+1…9 switch views.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const item = NAV.find((n) => n.key === e.key);
      if (item) {
        e.preventDefault();
        navigate({ view: item.view, arg: item.view === 'messages' || item.view === 'tail' ? lastTopic : null });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [navigate, lastTopic]);

  const showConnections = route.view === 'connections' || (loaded && !active);

  return (
    <div className="app">
      <aside className="sidebar">
        <div className="brand">
          <span className="logo" aria-hidden="true">≋</span> Sluice
        </div>
        <div className="conn-picker">
          <label className="muted small" htmlFor="active-connection">Connection</label>
          <div className="conn-row">
            {active && <StatusDot status={health.health} label="" />}
            <select
              id="active-connection"
              value={active?.id ?? ''}
              onChange={(e) => {
                if (e.target.value === '__manage') navigate({ view: 'connections' });
                else setActive(e.target.value);
              }}
            >
              {connections.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
              {connections.length === 0 && <option value="">none</option>}
              <option value="__manage">Manage connections…</option>
            </select>
          </div>
          {active && <div className="muted small mono conn-url" title={active.url}>{active.url}</div>}
        </div>
        <nav aria-label="Views">
          {NAV.map((n) => (
            <a
              key={n.view}
              href={`#/${n.view}${(n.view === 'messages' || n.view === 'tail') && lastTopic ? `/${encodeURIComponent(lastTopic)}` : ''}`}
              className={(showConnections ? n.view === 'connections' : route.view === n.view || (route.view === 'topic' && n.view === 'topics')) ? 'active' : ''}
              title={`Alt+${n.key}`}
            >
              {n.label}
            </a>
          ))}
        </nav>
        <div className="sidebar-foot">
          <button type="button" className="theme-toggle" onClick={toggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
            {theme === 'dark' ? '☀ Light' : '☾ Dark'}
          </button>
          <ZoneSwitch />
          <div className="muted small">{bridge() ? `Desktop ${bridge()?.version}` : 'Web UI'}</div>
        </div>
      </aside>
      <main className="content">
        {showConnections ? (
          <ConnectionsView onOpen={(id) => { setActive(id); navigate({ view: 'overview' }); }} />
        ) : !active ? null : health.health === 'unauthorized' || health.health === 'down' ? (
          <ConnectionProblem error={health.error} onManage={() => navigate({ view: 'connections' })} onRetry={() => void health.refetch()} />
        ) : (
          <ActiveView route={route} navigate={navigate} />
        )}
      </main>
    </div>
  );
}

function ConnectionProblem({ error, onManage, onRetry }: { error: unknown; onManage: () => void; onRetry: () => void }) {
  return (
    <div className="view">
      <ErrorBox error={error} onRetry={onRetry} />
      <button type="button" className="primary" onClick={onManage}>Edit connections</button>
    </div>
  );
}

function ActiveView({ route, navigate }: { route: Route; navigate: Navigate }) {
  const client = useClient();
  const history = useHistory(client);
  switch (route.view) {
    case 'overview':
      return <OverviewView history={history} navigate={navigate} />;
    case 'topics':
      return <TopicsView navigate={navigate} initialSearch={route.params.q} />;
    case 'topic':
      return route.arg ? <TopicView key={route.arg} topic={route.arg} navigate={navigate} /> : <TopicPicker title="Topic" onPick={(t) => navigate({ view: 'topic', arg: t })} />;
    case 'messages':
      return route.arg
        ? <MessagesView key={route.arg} topic={route.arg} params={route.params} onParams={(params) => navigate({ view: 'messages', arg: route.arg, params }, { replace: true })} />
        : <TopicPicker title="Messages" onPick={(t) => navigate({ view: 'messages', arg: t })} />;
    case 'tail':
      return route.arg ? <TailView key={route.arg} topic={route.arg} /> : <TopicPicker title="Live tail" onPick={(t) => navigate({ view: 'tail', arg: t })} />;
    case 'replay':
      return <ReplayView key={`${route.params.kind ?? 'sink'}:${route.arg ?? ''}`} initialSink={route.arg} initialKind={route.params.kind} />;
    case 'interceptors':
      return <InterceptorsView source={route.arg} onSource={(s) => navigate({ view: 'interceptors', arg: s }, { replace: true })} />;
    case 'groups':
      return <GroupsView navigate={navigate} />;
    case 'fleet':
      return <FleetView navigate={navigate} selected={route.arg} onSelect={(id) => navigate({ view: 'fleet', arg: id }, { replace: true })} />;
    default:
      return null;
  }
}

/** Local or UTC times for the whole UI; every view re-renders through useZoneMode. */
function ZoneSwitch() {
  const mode = useZoneMode();
  return (
    <button type="button" className="theme-toggle" onClick={() => setZoneMode(mode === 'utc' ? 'local' : 'utc')} aria-label={`Show times in ${mode === 'utc' ? 'local time' : 'UTC'}`} title={`Times are shown in ${mode === 'utc' ? 'UTC' : `local time, ${zoneLabel(Date.now(), 'local')}`}`}>
      Times: {mode === 'utc' ? 'UTC' : 'local'}
    </button>
  );
}
