/**
 * Replay: move a sink's (or a consumer group's) cursors to earliest, latest, an offset, a time or
 * by ±N. The dry-run shows, per topic, where the cursor is, where it goes and how many events will
 * be delivered again or skipped; executing asks for confirmation, then the lag is watched as the
 * sink catches up.
 */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { ReplayResponse, ReplayTarget } from '../../../../shared/src/api/replay.ts';
import { TimeChart } from '../components/Chart.tsx';
import { InputProblem } from '../api/errors.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Empty, PageHeader, StatusDot } from '../components/ui.tsx';
import { formatCount, formatTime, parseTimeInput } from '../lib/format.ts';
import { useClient } from '../state.tsx';

type Kind = 'sink' | 'group';
type TargetKind = 'earliest' | 'latest' | 'offset' | 'time' | 'shift';

export function ReplayView({ initialSink, initialKind }: { initialSink: string | null; initialKind?: string }) {
  const client = useClient();
  const id = client.connection.id;
  const sinks = useQuery({ queryKey: [id, 'sinks'], queryFn: ({ signal }) => client.sinks(signal), refetchInterval: 1000 });
  const groups = useQuery({ queryKey: [id, 'groups'], queryFn: ({ signal }) => client.groups(signal), refetchInterval: 1000 });
  const [kind, setKind] = useState<Kind>(initialKind === 'group' ? 'group' : 'sink');
  const [name, setName] = useState<string>(initialSink ?? '');
  const [picked, setPicked] = useState<Set<string> | null>(null);
  const [targetKind, setTargetKind] = useState<TargetKind>('earliest');
  const [value, setValue] = useState('');
  const [plan, setPlan] = useState<ReplayResponse | null>(null);
  const [done, setDone] = useState<ReplayResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [lagHistory, setLagHistory] = useState<{ t: number; lag: number }[]>([]);

  const sinkList = sinks.data?.sinks ?? [];
  const groupList = groups.data?.groups ?? [];
  useEffect(() => {
    if (!name && kind === 'sink' && sinkList[0]) setName(sinkList[0].name);
    if (!name && kind === 'group' && groupList[0]) setName(groupList[0].name);
  }, [name, kind, sinkList, groupList]);

  const sink = kind === 'sink' ? sinkList.find((s) => s.name === name) : undefined;
  const group = kind === 'group' ? groupList.find((g) => g.name === name) : undefined;
  const topicRows = useMemo(
    () => (kind === 'sink' ? sink?.topics.map((t) => ({ topic: t.topic, cursor: t.cursor, lag: t.lag, high: t.high })) ?? [] : group?.topics.map((t) => ({ topic: t.topic, cursor: t.committed, lag: t.lag, high: t.high })) ?? []),
    [kind, sink, group],
  );
  const totalLag = topicRows.reduce((a, t) => a + t.lag, 0);
  const selectedTopics = picked ?? new Set(topicRows.map((t) => t.topic));

  // Watch the lag after an executed replay.
  useEffect(() => {
    if (!done) return;
    setLagHistory((h) => [...h, { t: Date.now() / 1000, lag: totalLag }].slice(-300));
  }, [done, totalLag, sinks.dataUpdatedAt, groups.dataUpdatedAt]);

  const reset = () => {
    setPlan(null);
    setDone(null);
    setError(null);
    setLagHistory([]);
  };

  const target = (): ReplayTarget | string => {
    switch (targetKind) {
      case 'earliest':
        return { earliest: true };
      case 'latest':
        return { latest: true };
      case 'offset': {
        const n = Number(value.trim());
        return value.trim() && Number.isInteger(n) && n >= 0 ? { offset: n } : `"${value}" is not an offset: type a whole number ≥ 0.`;
      }
      case 'shift': {
        const n = Number(value.trim());
        return value.trim() && Number.isInteger(n) && n !== 0 ? { shift: n } : `"${value}" is not a shift: type e.g. -100 (replay the last 100) or 50 (skip 50).`;
      }
      case 'time': {
        const ms = parseTimeInput(value);
        return ms === null ? `"${value}" is not a time: type e.g. 2025-11-25 14:03:00, a ms timestamp, or -10m.` : { time: ms };
      }
    }
  };

  const run = async (execute: boolean) => {
    const to = target();
    if (typeof to === 'string') {
      setError(new InputProblem(to));
      return;
    }
    if (!name) {
      setError(new InputProblem(kind === 'sink' ? 'Pick a sink.' : 'Type or pick a consumer group.'));
      return;
    }
    if (selectedTopics.size === 0 && (kind === 'sink' || topicRows.length > 0)) {
      setError(new InputProblem('Pick at least one topic.'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const topics = selectedTopics.size > 0 ? [...selectedTopics] : undefined;
      const body = { topics, to, execute };
      const result = kind === 'sink' ? await client.replaySink(name, body) : await client.replayGroup(name, body);
      if (execute) {
        setDone(result);
        setPlan(null);
        setLagHistory([]);
        void sinks.refetch();
        void groups.refetch();
      } else {
        setPlan(result);
        setDone(null);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(false);
  };

  return (
    <div className="view replay-view">
      <PageHeader title="Replay" subtitle="Move a cursor back to deliver events again, or forward to skip them. Nothing changes until you confirm." />
      <form className="card form replay-form" onSubmit={submit} aria-label="Replay">
        <div className="row">
          <label>Consumer
            <select name="consumer" value={kind} onChange={(e) => { setKind(e.target.value as Kind); setName(''); setPicked(null); reset(); }}>
              <option value="sink">Sink</option>
              <option value="group">Consumer group</option>
            </select>
          </label>
          {kind === 'sink' ? (
            <label>Sink
              <select name="sink" value={name} onChange={(e) => { setName(e.target.value); setPicked(null); reset(); }}>
                {sinkList.map((s) => <option key={s.name} value={s.name}>{s.name} ({s.type ?? 'sink'}, lag {formatCount(s.lag)})</option>)}
              </select>
            </label>
          ) : (
            <label>Group
              <input name="group" list="known-groups" value={name} onChange={(e) => { setName(e.target.value); setPicked(null); reset(); }} placeholder="group name" />
              <datalist id="known-groups">{groupList.map((g) => <option key={g.name} value={g.name} />)}</datalist>
            </label>
          )}
          {sink && <span className="replay-state"><StatusDot status={sink.state} /></span>}
        </div>
        {sinks.error && <ErrorBox error={sinks.error} compact />}
        {kind === 'sink' && sinkList.length === 0 && sinks.data && <Empty>This collector has no sinks.</Empty>}

        <fieldset>
          <legend>Topics</legend>
          {topicRows.length === 0 ? <div className="muted">{kind === 'group' ? 'This group has no committed offsets yet.' : 'This sink has no topics yet.'}</div> : (
            <table className="grid compact">
              <thead><tr><th /><th>Topic</th><th className="num">Cursor</th><th className="num">High</th><th className="num">Lag</th></tr></thead>
              <tbody>
                {topicRows.map((t) => (
                  <tr key={t.topic}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Replay topic ${t.topic}`}
                        checked={selectedTopics.has(t.topic)}
                        onChange={(e) => {
                          const next = new Set(selectedTopics);
                          if (e.target.checked) next.add(t.topic);
                          else next.delete(t.topic);
                          setPicked(next);
                          setPlan(null);
                        }}
                      />
                    </td>
                    <td>{t.topic}</td>
                    <td className="num">{formatCount(t.cursor)}</td>
                    <td className="num">{formatCount(t.high)}</td>
                    <td className="num" data-testid={`lag-${t.topic}`}>{formatCount(t.lag)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </fieldset>

        <fieldset>
          <legend>Move the cursor to</legend>
          <div className="row target-row">
            {(['earliest', 'latest', 'offset', 'time', 'shift'] as const).map((k) => (
              <label key={k} className="inline">
                <input type="radio" name="target" value={k} checked={targetKind === k} onChange={() => { setTargetKind(k); setPlan(null); }} />
                {k === 'earliest' ? 'Earliest kept' : k === 'latest' ? 'Latest (skip all)' : k === 'offset' ? 'Offset' : k === 'time' ? 'Time' : 'Shift ±N'}
              </label>
            ))}
            {(targetKind === 'offset' || targetKind === 'time' || targetKind === 'shift') && (
              <input
                name="targetValue"
                aria-label="Target value"
                value={value}
                onChange={(e) => { setValue(e.target.value); setPlan(null); }}
                placeholder={targetKind === 'offset' ? '1200' : targetKind === 'time' ? '2025-11-25 14:03:00 or -10m' : '-100'}
              />
            )}
          </div>
        </fieldset>
        {error !== null && <ErrorBox error={error} compact />}
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>Dry run</button>
          <button type="button" className="danger" disabled={busy || !plan} onClick={() => setConfirming(true)} title={plan ? undefined : 'Run the dry run first'}>Execute…</button>
        </div>
      </form>

      {plan && <PlanTable plan={plan} title="Dry run: nothing has changed yet" />}
      {done && (
        <section className="card">
          <PlanTable plan={done} title={`Replay executed at ${formatTime(done.at)}`} />
          <h3>Lag now: <span data-testid="replay-lag">{formatCount(totalLag)}</span> {kind === 'sink' && sink && <StatusDot status={sink.state} />}</h3>
          {lagHistory.length > 1 && <TimeChart title={`Lag of ${done.consumer} since the replay`} times={lagHistory.map((p) => p.t)} series={[{ label: 'lag', values: lagHistory.map((p) => p.lag) }]} unit="" height={160} />}
        </section>
      )}

      {confirming && plan && (
        <div className="modal-backdrop" role="presentation" onClick={() => setConfirming(false)}>
          <div className="modal" role="dialog" aria-label="Confirm replay" onClick={(e) => e.stopPropagation()}>
            <h2>Execute this replay?</h2>
            <p>
              <strong>{plan.consumer}</strong> will receive <strong>{formatCount(plan.redeliver)}</strong> events again
              {plan.skip > 0 && <> and skip <strong>{formatCount(plan.skip)}</strong> events that were never delivered</>}
              , on {plan.topics.length} topic{plan.topics.length === 1 ? '' : 's'}.
            </p>
            <div className="form-actions">
              <button type="button" className="danger" disabled={busy} onClick={() => void run(true)}>Yes, move the cursor</button>
              <button type="button" onClick={() => setConfirming(false)}>Cancel</button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

function PlanTable({ plan, title }: { plan: ReplayResponse; title: string }) {
  return (
    <section className="plan" aria-label={title}>
      <h2>{title}</h2>
      <p>
        <strong data-testid="plan-redeliver">{formatCount(plan.redeliver)}</strong> events delivered again · <strong>{formatCount(plan.skip)}</strong> skipped
      </p>
      <table className="grid">
        <thead><tr><th>Topic</th><th className="num">Now at</th><th className="num">Moves to</th><th className="num">Kept range</th><th className="num">Again</th><th className="num">Skipped</th><th>Note</th></tr></thead>
        <tbody>
          {plan.topics.map((t) => (
            <tr key={t.topic}>
              <td>{t.topic}</td>
              <td className="num">{t.current === null ? <span className="muted">none ({formatCount(t.from)})</span> : formatCount(t.current)}</td>
              <td className="num"><strong>{formatCount(t.target)}</strong></td>
              <td className="num muted">{formatCount(t.low)} … {formatCount(t.high)}</td>
              <td className="num">{formatCount(t.redeliver)}</td>
              <td className={`num${t.skip > 0 ? ' warn-text' : ''}`}>{formatCount(t.skip)}</td>
              <td className="small muted">{t.note ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
