/**
 * The message browser: a virtualized table (TanStack Virtual) over a topic's offsets that fetches
 * windows by offset as they scroll into view — never the whole topic. Jump to an offset, a time,
 * the oldest or the newest; server-side filters; a detail pane; export.
 *
 * Two modes:
 * - offsets (no filter): row i is offset `base + i`. A topic with more than MAX_ROWS events is
 *   shown one MAX_ROWS-wide window at a time (browsers cap element heights); jumps move it.
 * - search (filters): rows are the matches found so far, scanning forward from the start point.
 *
 * Keyboard (table focused): ↑/↓ or k/j move, PgUp/PgDn page, Home/End oldest/newest, Enter opens
 * the detail, Esc closes it, / goes to the filters, g to the offset box.
 */
import { useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties, type FormEvent, type KeyboardEvent } from 'react';
import type { ApiEvent } from '../../../../../shared/src/api/events.ts';
import { AdminApiError, InputProblem } from '../../api/errors.ts';
import { ErrorBox } from '../../components/ErrorBox.tsx';
import { Empty, Loading, PageHeader } from '../../components/ui.tsx';
import { preview } from '../../lib/bytes.ts';
import { formatCount, formatTime, headerText, parseTimeInput, zoneLabel } from '../../lib/format.ts';
import { useClient } from '../../state.tsx';
import { EventDetail } from './EventDetail.tsx';
import { ExportDialog } from './ExportDialog.tsx';
import { FilterBar } from './FilterBar.tsx';
import { describeFilters, hasFilters, NO_FILTERS, toFilterQuery, type Filters } from './filters.ts';
import { pageOf, usePages } from './pages.ts';
import { DEFAULT_SCAN_LIMIT, SCAN_LIMITS, useSearch, type SearchStart } from './search.ts';

const ROW_HEIGHT = 28;

interface PendingScroll {
  offset?: number;
  newest?: boolean;
  align: 'start' | 'center' | 'end';
}
export const MAX_ROWS = 500_000;

interface Props {
  topic: string;
  params: Record<string, string>;
  onParams: (params: Record<string, string>) => void;
}

export function MessagesView({ topic, params, onParams }: Props) {
  const client = useClient();
  // The topic list (shared with the Topics view, so opening a topic from there costs no request)
  // gives the offsets the table needs.
  const topics = useQuery({
    queryKey: [client.connection.id, 'topics'],
    queryFn: ({ signal }) => client.topics(signal),
    refetchInterval: 2000,
  });
  const found = topics.data?.topics.find((t) => t.name === topic);
  const info = {
    data: found,
    error: topics.error ?? (topics.data && !found ? new AdminApiError(`Opening topic "${topic}"`, `topic "${topic}" does not exist on this collector`, 'Pick a topic from the Topics view; a topic appears once a source wrote to it.', 404, 'SLUICE_TOPIC_NOT_FOUND') : null),
    refetch: topics.refetch,
  };
  const [filters, setFilters] = useState<Filters>(() => ({ ...NO_FILTERS, ...pickFilters(params) }));
  const [exporting, setExporting] = useState(false);

  if (info.error) return <div className="view"><PageHeader title={topic} subtitle="Messages" /><ErrorBox error={info.error} onRetry={() => void info.refetch()} /></div>;
  if (!info.data) return <div className="view"><PageHeader title={topic} subtitle="Messages" /><Loading what={`topic "${topic}"`} /></div>;
  const { low, high, count } = info.data;

  return (
    <div className="view messages-view">
      <PageHeader
        title={topic}
        subtitle={<>Messages · offsets {formatCount(low)} … {formatCount(Math.max(low, high - 1))} · {formatCount(count)} events</>}
        actions={<button type="button" onClick={() => setExporting(true)}>Export…</button>}
      />
      <MessageTable
        key={`${client.baseUrl}|${topic}`}
        topic={topic}
        low={low}
        high={high}
        filters={filters}
        setFilters={(f) => {
          setFilters(f);
          onParams({ ...stripFilters(params), ...filterParams(f) });
        }}
        initial={params}
        onPosition={(offset) => onParams({ ...stripFilters(params), ...filterParams(filters), offset: String(offset) })}
      />
      {exporting && <ExportDialog topic={topic} low={low} high={high} filters={filters} onClose={() => setExporting(false)} />}
    </div>
  );
}

const FILTER_KEYS = ['key', 'header', 'bodyContains', 'bodyRegex', 'jsonata'] as const;
function pickFilters(params: Record<string, string>): Partial<Filters> {
  const out: Partial<Filters> = {};
  for (const k of FILTER_KEYS) if (params[k]) out[k] = params[k];
  return out;
}
function filterParams(f: Filters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FILTER_KEYS) if (f[k]) out[k] = f[k];
  return out;
}
function stripFilters(params: Record<string, string>): Record<string, string> {
  const out = { ...params };
  for (const k of FILTER_KEYS) delete out[k];
  delete out.time;
  return out;
}

interface TableProps {
  topic: string;
  low: number;
  high: number;
  filters: Filters;
  setFilters: (f: Filters) => void;
  initial: Record<string, string>;
  onPosition: (offset: number) => void;
}

function MessageTable({ topic, low, high, filters, setFilters, initial, onPosition }: TableProps) {
  const client = useClient();
  const searching = hasFilters(filters);
  const filterQuery = useMemo(() => (searching ? toFilterQuery(filters) : null), [filters, searching]);

  // Where the table starts: an offset from the URL, else the newest events.
  const initialOffset = useMemo(() => {
    const o = Number(initial.offset);
    return initial.offset !== undefined && Number.isInteger(o) ? Math.min(Math.max(o, low), Math.max(low, high - 1)) : null;
  }, []); // only the first render decides
  const [base, setBase] = useState(() => windowBase(initialOffset ?? high - 1, low, high));
  const [searchStart, setSearchStart] = useState<SearchStart>(() => ({ from: initialOffset ?? low }));
  const [selected, setSelected] = useState<number | null>(initialOffset);
  const [detailOpen, setDetailOpen] = useState(initialOffset !== null && initial.detail === '1');
  const [jumpOffset, setJumpOffset] = useState('');
  const [jumpTime, setJumpTime] = useState('');
  const [jumpProblem, setJumpProblem] = useState<unknown>(null);
  const [follow, setFollow] = useState(initialOffset === null);
  const pendingScroll = useRef<PendingScroll | null>(initialOffset === null ? { newest: true, align: 'end' } : { offset: initialOffset, align: 'center' });
  const scroller = useRef<HTMLDivElement>(null);
  const filterInput = useRef<HTMLInputElement>(null);
  const offsetInput = useRef<HTMLInputElement>(null);
  /** The last offset this table put in the URL. */
  const reported = useRef<string | undefined>(initial.offset);

  const [scanLimit, setScanLimit] = useState(DEFAULT_SCAN_LIMIT);
  const search = useSearch(client, topic, filterQuery, searchStart, scanLimit);
  const results = search.state.events;
  const offsetRows = Math.max(0, Math.min(high - base, MAX_ROWS));
  const rowCount = searching ? results.length + (search.state.done ? 0 : 1) : offsetRows;

  const virtualizer = useVirtualizer({
    count: rowCount,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
    // Start where the table opens (the newest events, or the offset asked for), so the first
    // window fetched is the one shown — not the top of the topic.
    initialOffset: () => {
      const p = pendingScroll.current;
      if (!p) return 0;
      const index = p.newest ? rowCount : (p.offset ?? base) - base;
      const height = scroller.current?.clientHeight ?? 600;
      return Math.max(0, index * ROW_HEIGHT - (p.newest ? height : height / 2));
    },
  });
  const items = virtualizer.getVirtualItems();

  // Pages to fetch: those under the visible rows (offsets mode only).
  const wanted = useMemo(() => {
    if (searching || items.length === 0) return [];
    const first = pageOf(base + items[0].index);
    const last = pageOf(base + items[items.length - 1].index);
    const out: number[] = [];
    for (let p = first; p <= last; p++) out.push(p);
    return out;
  }, [searching, items, base]);
  const pages = usePages(client, topic, high, wanted);

  const indexOf = useCallback((offset: number) => (searching ? results.findIndex((e) => e.offset === offset) : offset - base), [searching, results, base]);
  const offsetAt = useCallback((index: number): number | null => {
    if (searching) return results[index]?.offset ?? null;
    return index >= 0 && index < offsetRows ? base + index : null;
  }, [searching, results, base, offsetRows]);

  // Scroll requests wait until the virtualizer knows the new row count, and are repeated for a
  // few frames until the row is in view (the first layout may not have its final size yet).
  useEffect(() => {
    const p = pendingScroll.current;
    if (!p || rowCount === 0) return;
    const index = Math.max(0, Math.min(rowCount - 1, p.newest ? rowCount - 1 : (p.offset ?? base) - base));
    let frames = 0;
    let raf = 0;
    const attempt = () => {
      virtualizer.scrollToIndex(index, { align: p.align });
      raf = requestAnimationFrame(() => {
        const range = virtualizer.range;
        const inView = range !== null && index >= range.startIndex && index <= range.endIndex;
        if (inView || ++frames > 20) {
          if (pendingScroll.current === p) pendingScroll.current = null;
        } else attempt();
      });
    };
    attempt();
    return () => cancelAnimationFrame(raf);
  }, [rowCount, base, virtualizer]);

  // Following the newest events: stay at the bottom as rows are added (moving the window along).
  useEffect(() => {
    if (!follow || searching) return;
    if (base + MAX_ROWS < high) {
      setBase(windowBase(high - 1, low, high));
      pendingScroll.current = { newest: true, align: 'end' };
    } else if (rowCount > 0) virtualizer.scrollToIndex(rowCount - 1, { align: 'end' });
  }, [follow, searching, rowCount, virtualizer, base, low, high]);

  // In search mode, ask for more when the end of the list is visible.
  const lastItem = items.at(-1)?.index ?? -1;
  useEffect(() => {
    if (searching && lastItem >= results.length - 1) search.wantMore();
  }, [searching, lastItem, results.length, search]);
  // New events may extend a finished search: look again once the topic grew.
  const { refresh } = search;
  const seenHigh = useRef(high);
  useEffect(() => {
    if (searching && high !== seenHigh.current) {
      seenHigh.current = high;
      refresh();
    }
  }, [high, searching, refresh]);

  const jumpTo = useCallback((offset: number, align: 'start' | 'center' | 'end' = 'center') => {
    const target = Math.min(Math.max(offset, low), Math.max(low, high - 1));
    setSelected(target);
    setFollow(false);
    reported.current = String(target);
    onPosition(target);
    if (searching) {
      setSearchStart({ from: target });
      return;
    }
    if (target < base || target >= base + MAX_ROWS) {
      const nb = windowBase(target, low, high);
      setBase(nb);
      pendingScroll.current = { offset: target, align };
    } else {
      virtualizer.scrollToIndex(target - base, { align });
    }
  }, [low, high, base, searching, virtualizer, onPosition]);

  // The URL's offset changed from outside (a link, the back button): go there. Offsets the table
  // itself reported are not followed again.
  const wantedOffset = initial.offset;
  useEffect(() => {
    if (wantedOffset === undefined || wantedOffset === reported.current) return;
    reported.current = wantedOffset;
    const o = Number(wantedOffset);
    if (Number.isInteger(o) && o >= 0) jumpTo(o);
  }, [wantedOffset, jumpTo]);

  const jumpNewest = () => {
    if (searching) {
      setSearchStart({ from: Math.max(low, high - 1) });
      return;
    }
    const nb = windowBase(high - 1, low, high);
    if (nb !== base) {
      setBase(nb);
      pendingScroll.current = { newest: true, align: 'end' };
    } else if (rowCount > 0) virtualizer.scrollToIndex(rowCount - 1, { align: 'end' });
    setSelected(high > low ? high - 1 : null);
    setFollow(true);
  };

  const submitOffset = (e: FormEvent) => {
    e.preventDefault();
    const o = Number(jumpOffset.trim());
    if (!jumpOffset.trim() || !Number.isInteger(o) || o < 0) {
      setJumpProblem(new InputProblem(`"${jumpOffset}" is not an offset: type a whole number between ${low} and ${Math.max(low, high - 1)}.`));
      return;
    }
    if (o >= high || o < low) {
      const where = high > low ? `the topic holds offsets ${formatCount(low)} … ${formatCount(high - 1)}` : `the topic is empty (the next event gets offset ${formatCount(high)})`;
      setJumpProblem(new InputProblem(`Offset ${formatCount(o)} is ${o >= high ? 'past the end' : 'before the oldest retained event'}: ${where}. Showing offset ${formatCount(Math.min(Math.max(o, low), Math.max(low, high - 1)))}.`, o >= high ? 'Events get offsets as they arrive: follow the newest, or type a smaller offset.' : 'Older events were removed by retention.'));
    } else setJumpProblem(null);
    jumpTo(o);
  };

  const submitTime = async (e: FormEvent) => {
    e.preventDefault();
    const ms = parseTimeInput(jumpTime);
    if (ms === null) {
      setJumpProblem(new InputProblem(`"${jumpTime}" is not a time: type e.g. 2025-11-25 14:03:00, 2025-11-25T14:03:00Z, a ms timestamp, or -5m.`));
      return;
    }
    setJumpProblem(null);
    if (searching) {
      setFollow(false);
      setSearchStart({ time: ms });
      return;
    }
    try {
      const res = await client.events(topic, { time: String(ms), limit: 1, raw: false });
      const first = res.events[0];
      if (first) jumpTo(first.offset, 'start');
      else {
        setJumpProblem(new InputProblem(`No event at or after ${formatTime(ms)}: showing the newest.`, 'Pick an earlier time to see older events.'));
        jumpNewest();
      }
    } catch (error) {
      setJumpProblem(error);
    }
  };

  const move = (delta: number | 'home' | 'end') => {
    if (rowCount === 0) return;
    const current = selected === null ? -1 : indexOf(selected);
    let index: number;
    if (delta === 'home') index = 0;
    else if (delta === 'end') index = searching ? results.length - 1 : rowCount - 1;
    else index = current === -1 ? (delta > 0 ? items[0]?.index ?? 0 : items.at(-1)?.index ?? 0) : current + delta;
    const max = searching ? results.length - 1 : rowCount - 1;
    index = Math.max(0, Math.min(max, index));
    const offset = offsetAt(index);
    if (offset === null) return;
    setSelected(offset);
    setFollow(false);
    virtualizer.scrollToIndex(index, { align: 'auto' });
    // Moving is the table's business: keep the focus there (the detail pane re-renders).
    scroller.current?.focus({ preventScroll: true });
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    // Keys belong to the table unless the user is typing, or pressing a button with Enter/Space.
    const target = e.target as HTMLElement;
    if (target.closest('input, textarea, select, [contenteditable="true"]')) return;
    if (target.closest('button') && (e.key === 'Enter' || e.key === ' ')) return;
    const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? 400) / ROW_HEIGHT) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(1),
      j: () => move(1),
      ArrowUp: () => move(-1),
      k: () => move(-1),
      PageDown: () => move(page),
      PageUp: () => move(-page),
      Home: () => move('home'),
      End: () => move('end'),
      Enter: () => selected !== null && setDetailOpen(true),
      Escape: () => setDetailOpen(false),
      '/': () => filterInput.current?.focus(),
      g: () => offsetInput.current?.focus(),
    };
    const action = keys[e.key];
    if (action && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      action();
    }
  };

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT;
    if (!atBottom && follow) setFollow(false);
  };

  const windowed = !searching && high - low > MAX_ROWS;
  const s = search.state;

  return (
    <div className="message-browser" onKeyDown={onKeyDown}>
      <div className="toolbar">
        <form onSubmit={submitOffset} className="jump" aria-label="Jump to offset">
          <input ref={offsetInput} name="offset" placeholder="Offset" value={jumpOffset} onChange={(e) => setJumpOffset(e.target.value)} inputMode="numeric" />
          <button type="submit">Go</button>
        </form>
        <form onSubmit={(e) => void submitTime(e)} className="jump" aria-label="Jump to time">
          <input name="time" placeholder="Time: 2025-11-25 14:03 or -5m" value={jumpTime} onChange={(e) => setJumpTime(e.target.value)} />
          <button type="submit">Go</button>
        </form>
        <button type="button" onClick={() => jumpTo(low, 'start')}>Oldest</button>
        <button type="button" onClick={jumpNewest}>Newest</button>
        <label className="inline" title="Keep showing the newest events as they arrive">
          <input type="checkbox" checked={follow} onChange={(e) => (e.target.checked ? jumpNewest() : setFollow(false))} disabled={searching} /> Follow
        </label>
      </div>
      <FilterBar applied={filters} onApply={(f) => { setFilters(f); setSearchStart({ from: selected ?? low }); }} inputRef={filterInput} />
      {jumpProblem !== null && <ErrorBox error={jumpProblem} compact />}
      {searching && (
        <div className="search-status" role="status">
          <span><strong>{formatCount(results.length)}</strong> match{results.length === 1 ? '' : 'es'} for {describeFilters(filters)}</span>
          <span className="muted">
            {' '}· scanned {formatCount(s.scanned)} events{s.scannedTo !== null ? ` up to offset ${formatCount(s.scannedTo)}` : ''}
            {s.done ? ' · reached the newest event' : s.paused === 'limit' ? ` · paused after ${formatCount(s.scanned)} events (the scan bound)` : s.paused === 'stopped' ? ' · stopped' : ''}
          </span>
          {s.filterErrors > 0 && <span className="warn-text"> · the JSONata filter failed on {formatCount(s.filterErrors)} events{s.firstFilterError ? ` (${s.firstFilterError})` : ''}</span>}
          {!s.done && s.startedAt !== null && s.scannedTo !== null && high > s.startedAt && (
            <progress className="scan-progress" max={high - s.startedAt} value={Math.min(high - s.startedAt, s.scannedTo + 1 - s.startedAt)} aria-label="Scan progress" title={`${Math.floor((100 * (s.scannedTo + 1 - s.startedAt)) / (high - s.startedAt))}% of offsets ${formatCount(s.startedAt)} … ${formatCount(high - 1)}`} />
          )}
          {s.loading && <button type="button" className="link" onClick={search.stop}>Stop</button>}
          {!s.done && !s.loading && s.paused !== null && <button type="button" className="link" onClick={search.loadMore}>Continue scanning</button>}
          <label className="inline muted small" title="How many events a scan examines before it waits for you">
            {' '}scan up to{' '}
            <select value={String(scanLimit)} onChange={(e) => setScanLimit(Number(e.target.value))} aria-label="Scan bound">
              {SCAN_LIMITS.map((n) => <option key={n} value={String(n)}>{Number.isFinite(n) ? `${formatCount(n)} events` : 'everything'}</option>)}
            </select>
          </label>
          {s.notes.map((n) => <div key={n} className="muted small">{n}</div>)}
        </div>
      )}
      {windowed && (
        <div className="window-note muted small">
          Showing offsets {formatCount(base)} … {formatCount(base + offsetRows - 1)} of {formatCount(low)} … {formatCount(high - 1)} ({formatCount(MAX_ROWS)} rows at a time); jump to reach the others.
          {base > low && <button type="button" className="link" onClick={() => jumpTo(Math.max(low, base - 1), 'end')}>Earlier</button>}
          {base + offsetRows < high && <button type="button" className="link" onClick={() => jumpTo(base + offsetRows, 'start')}>Later</button>}
        </div>
      )}
      <div className={`split${detailOpen && selected !== null ? ' with-detail' : ''}`}>
        <div className="table-pane">
          <div className="table-head" role="row">
            <div className="c-offset">Offset</div>
            <div className="c-time">Time ({zoneLabel()})</div>
            <div className="c-key">Key</div>
            <div className="c-type">Type</div>
            <div className="c-headers">Headers</div>
            <div className="c-body">Body</div>
          </div>
          {search.state.error !== null && <ErrorBox error={search.state.error} compact onRetry={search.loadMore} />}
          {rowCount === 0 ? (
            <Empty>{searching ? (s.loading ? 'Searching…' : 'No event matches.') : high === low ? 'This topic holds no events (yet, or retention removed them).' : 'No events.'}</Empty>
          ) : (
            <div
              className="table-body"
              ref={scroller}
              tabIndex={0}
              role="grid"
              aria-label={`Events of ${topic}`}
              aria-rowcount={rowCount}
              onScroll={onScroll}
              data-testid="message-table"
            >
              <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
                {items.map((item) => {
                  const offset = offsetAt(item.index);
                  const event = offset === null ? undefined : searching ? results[item.index] : pages.event(offset);
                  const style = { transform: `translateY(${item.start}px)`, height: ROW_HEIGHT };
                  if (offset === null) {
                    return (
                      <div key={`s${item.index}`} className="row sentinel" style={style}>
                        {s.loading ? 'Scanning…' : s.done ? '' : 'More results follow: scroll or continue scanning'}
                      </div>
                    );
                  }
                  return (
                    <Row
                      key={offset}
                      offset={offset}
                      event={event}
                      failed={!searching && pages.error(offset) !== null}
                      selected={offset === selected}
                      style={style}
                      onClick={() => {
                        setSelected(offset);
                        setDetailOpen(true);
                        setFollow(false);
                        scroller.current?.focus();
                      }}
                    />
                  );
                })}
              </div>
            </div>
          )}
          {!searching && pages.error(items[0] ? base + items[0].index : -1) !== null && (
            <ErrorBox error={pages.error(base + (items[0]?.index ?? 0))} compact onRetry={pages.retry} />
          )}
          <div className="table-foot muted small">
            ↑↓ move · PgUp/PgDn page · Home/End oldest/newest · Enter details · Esc close · / filter · g offset
          </div>
        </div>
        {detailOpen && selected !== null && (
          <EventDetail topic={topic} offset={selected} onClose={() => { setDetailOpen(false); scroller.current?.focus(); }} />
        )}
      </div>
    </div>
  );
}

function Row({ offset, event, failed, selected, style, onClick }: { offset: number; event: ApiEvent | undefined; failed: boolean; selected: boolean; style: CSSProperties; onClick: () => void }) {
  const headerCount = event ? Object.keys(event.headers).length : 0;
  return (
    <div className={`row${selected ? ' selected' : ''}${event ? '' : ' pending'}`} style={style} role="row" aria-selected={selected} data-offset={offset} onClick={onClick}>
      <div className="c-offset mono">{offset}</div>
      <div className="c-time mono">{event ? formatTime(event.ts) : ''}</div>
      <div className="c-key mono" title={event?.key ?? undefined}>{event?.key ?? ''}</div>
      <div className="c-type" title={event ? `${event.contentType}, ${event.size} bytes, ${headerCount} headers` : undefined}>{event ? (event.bodyEncoding === 'protobuf' ? 'proto' : event.bodyEncoding === 'avro' ? 'avro' : shortType(event.contentType)) : ''}</div>
      <div className="c-headers mono" title={event ? headerText(event.headers, '\n') : undefined}>{event ? headerText(event.headers, ' · ') : ''}</div>
      <div className="c-body mono">{event ? preview(event.body ?? (event.decodeError ? `⚠ ${event.decodeError}` : `(${event.size} bytes binary)`)) : failed ? '⚠ could not load' : '…'}</div>
    </div>
  );
}

function shortType(ct: string): string {
  return ct.replace('application/', '').replace('text/plain', 'text').replace('octet-stream', 'binary');
}

/** The first offset of the MAX_ROWS-wide window that shows `offset`. */
export function windowBase(offset: number, low: number, high: number): number {
  if (high - low <= MAX_ROWS) return low;
  const centred = offset - Math.floor(MAX_ROWS / 2);
  return Math.max(low, Math.min(centred, high - MAX_ROWS));
}
