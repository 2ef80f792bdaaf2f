/**
 * Live tail of one topic over the admin API's WebSocket: new events as they are committed, with
 * server-side filters, pause (events keep arriving and are held, not lost from view), and a rate
 * indicator. Shows the last MAX_SHOWN events; a gap the server reports is shown as a row.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ApiEvent, TailMessage } from '../../../../shared/src/api/events.ts';
import { AdminApiError } from '../api/errors.ts';
import { ErrorBox } from '../components/ErrorBox.tsx';
import { Empty, PageHeader, StatusDot } from '../components/ui.tsx';
import { preview } from '../lib/bytes.ts';
import { formatCount, formatRate, formatTime, headerText, zoneLabel } from '../lib/format.ts';
import { useClient } from '../state.tsx';
import { EventDetail } from './messages/EventDetail.tsx';
import { FilterBar } from './messages/FilterBar.tsx';
import { hasFilters, NO_FILTERS, toFilterQuery, type Filters } from './messages/filters.ts';

const MAX_SHOWN = 5000;
const ROW_HEIGHT = 28;

type Line = { kind: 'event'; event: ApiEvent } | { kind: 'gap'; missed: number; from: number; to: number };

export function TailView({ topic }: { topic: string }) {
  const client = useClient();
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [startLast, setStartLast] = useState(20);
  const [paused, setPaused] = useState(false);
  const [lines, setLines] = useState<Line[]>([]);
  const [held, setHeld] = useState(0);
  const [status, setStatus] = useState<'connecting' | 'live' | 'closed'>('connecting');
  const [error, setError] = useState<unknown>(null);
  const [received, setReceived] = useState(0);
  const [rate, setRate] = useState(0);
  const [selected, setSelected] = useState<number | null>(null);
  const [generation, setGeneration] = useState(0);
  const [autoScroll, setAutoScroll] = useState(true);
  const pausedRef = useRef(paused);
  const holding = useRef<Line[]>([]);
  const arrivals = useRef<{ at: number; n: number }[]>([]);
  const scroller = useRef<HTMLDivElement>(null);

  pausedRef.current = paused;

  const filterQuery = useMemo(() => toFilterQuery(filters), [filters]);

  useEffect(() => {
    setLines([]);
    setHeld(0);
    setReceived(0);
    setError(null);
    setStatus('connecting');
    holding.current = [];
    arrivals.current = [];
    const append = (add: Line[]) => {
      if (pausedRef.current) {
        holding.current = [...holding.current, ...add].slice(-MAX_SHOWN);
        setHeld((h) => h + add.filter((l) => l.kind === 'event').length);
      } else {
        setLines((prev) => [...prev, ...add].slice(-MAX_SHOWN));
      }
    };
    const tail = client.tail(topic, { ...filterQuery, last: startLast > 0 ? startLast : undefined }, {
      onMessage(message: TailMessage) {
        switch (message.type) {
          case 'hello':
            setStatus('live');
            if (!message.exists) setError(new AdminApiError(`Tailing "${topic}"`, `topic "${topic}" does not exist yet`, 'The tail waits: events appear here as soon as a source writes to this topic.', null, null));
            break;
          case 'events':
            arrivals.current.push({ at: Date.now(), n: message.events.length });
            setReceived((r) => r + message.events.length);
            append(message.events.map((event) => ({ kind: 'event' as const, event })));
            break;
          case 'gap':
            append([{ kind: 'gap', missed: message.missed, from: message.from, to: message.to }]);
            break;
          case 'progress':
            break;
          case 'error':
            setError(new AdminApiError(`Tailing "${topic}"`, message.error.message, message.error.code === 'SLUICE_BAD_INPUT' ? 'Fix the filter and apply it again.' : 'Reconnect; if it fails again, see the collector\'s log.', null, message.error.code));
            break;
        }
      },
      onClose(reason) {
        setStatus('closed');
        setError((e: unknown) => e ?? new AdminApiError(`Tailing "${topic}"`, reason, 'Reconnect; check that the collector is running and reachable.', null, null));
      },
    });
    const timer = setInterval(() => {
      const now = Date.now();
      arrivals.current = arrivals.current.filter((a) => now - a.at <= 5000);
      setRate(arrivals.current.reduce((sum, a) => sum + a.n, 0) / 5);
    }, 1000);
    return () => {
      tail.close();
      clearInterval(timer);
    };
  }, [client, topic, filterQuery, startLast, generation]);

  const resume = useCallback(() => {
    // pausedRef first, so nothing arriving from now on is held; then the held lines, captured
    // here (the state updater runs later).
    pausedRef.current = false;
    const held = holding.current;
    holding.current = [];
    setPaused(false);
    setLines((prev) => [...prev, ...held].slice(-MAX_SHOWN));
    setHeld(0);
  }, []);

  const virtualizer = useVirtualizer({ count: lines.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 10 });
  useEffect(() => {
    if (autoScroll && lines.length > 0) virtualizer.scrollToIndex(lines.length - 1, { align: 'end' });
  }, [lines.length, autoScroll, virtualizer]);

  return (
    <div className="view tail-view">
      <PageHeader
        title={<>{topic} <span className="muted">live</span></>}
        subtitle={
          <span className="tail-stats" role="status">
            <StatusDot status={status === 'live' ? (paused ? 'degraded' : 'ok') : status === 'connecting' ? 'unknown' : 'down'} label={status === 'live' ? (paused ? 'paused' : 'live') : status} />
            {' · '}<span data-testid="tail-rate">{formatRate(rate)}</span>
            {' · '}{formatCount(received)} received
            {held > 0 && <> · <strong>{formatCount(held)} held while paused</strong></>}
          </span>
        }
        actions={
          <>
            <label className="inline">Start with last
              <select value={startLast} onChange={(e) => setStartLast(Number(e.target.value))}>
                {[0, 20, 100, 1000].map((n) => <option key={n} value={n}>{n === 0 ? 'none (only new)' : n}</option>)}
              </select>
            </label>
            {paused ? <button type="button" className="primary" onClick={resume}>Resume</button> : <button type="button" onClick={() => setPaused(true)}>Pause</button>}
            <button type="button" onClick={() => { setLines([]); setReceived(0); }}>Clear list</button>
            {status === 'closed' && <button type="button" onClick={() => setGeneration((g) => g + 1)}>Reconnect</button>}
          </>
        }
      />
      <FilterBar applied={filters} onApply={setFilters} />
      {hasFilters(filters) && <div className="muted small">Filtered on the collector: only matching events are sent.</div>}
      {error !== null && <ErrorBox error={error} compact />}
      <div className={`split${selected !== null ? ' with-detail' : ''}`}>
        <div className="table-pane">
          <div className="table-head" role="row">
            <div className="c-offset">Offset</div>
            <div className="c-time">Time ({zoneLabel()})</div>
            <div className="c-key">Key</div>
            <div className="c-type">Type</div>
            <div className="c-headers">Headers</div>
            <div className="c-body">Body</div>
          </div>
          {lines.length === 0 ? (
            <Empty>{status === 'live' ? 'Waiting for events…' : 'Connecting…'}</Empty>
          ) : (
            <div
              className="table-body"
              ref={scroller}
              data-testid="tail-table"
              data-count={lines.length}
              data-last-offset={lastOffset(lines)}
              onScroll={() => {
                const el = scroller.current;
                if (el) setAutoScroll(el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 2);
              }}
            >
              <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
                {virtualizer.getVirtualItems().map((item) => {
                  const line = lines[item.index];
                  const style = { transform: `translateY(${item.start}px)`, height: ROW_HEIGHT };
                  if (line.kind === 'gap') {
                    return <div key={`gap-${line.from}`} className="row gap" style={style}>⚠ {formatCount(line.missed)} events skipped (offsets {line.from}…{line.to - 1}): this viewer fell behind</div>;
                  }
                  const e = line.event;
                  return (
                    <div key={e.offset} className={`row${selected === e.offset ? ' selected' : ''}`} style={style} role="row" data-offset={e.offset} onClick={() => setSelected(e.offset)}>
                      <div className="c-offset mono">{e.offset}</div>
                      <div className="c-time mono">{formatTime(e.ts)}</div>
                      <div className="c-key mono">{e.key ?? ''}</div>
                      <div className="c-type">{e.contentType.replace('application/', '')}</div>
                      <div className="c-headers mono" title={headerText(e.headers, '\n')}>{headerText(e.headers, ' · ')}</div>
                      <div className="c-body mono">{preview(e.body ?? `(${e.size} bytes)`)}</div>
                    </div>
                  );
                })}
              </div>
            </div>
          )}
        </div>
        {selected !== null && <EventDetail topic={topic} offset={selected} onClose={() => setSelected(null)} />}
      </div>
    </div>
  );
}

function lastOffset(lines: Line[]): number | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i];
    if (l.kind === 'event') return l.event.offset;
  }
  return undefined;
}
