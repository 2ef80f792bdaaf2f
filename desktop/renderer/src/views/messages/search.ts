/**
 * Filtered browsing: the server scans forward from a start position and returns matching events
 * page by page (each request bounded in rows and time by the collector). Results accumulate as the
 * user scrolls; a scan that stopped on a limit says so and continues on demand.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiEvent, BrowseResponse, FilterQuery } from '../../../../../shared/src/api/events.ts';
import type { AdminClient } from '../../api/client.ts';

const SEARCH_PAGE = 200;
/** Requests in a row that may run without the user asking (each one found nothing new). */
const AUTO_CONTINUE = 5;

export interface SearchStart {
  from?: number;
  time?: number;
}

export interface SearchState {
  events: ApiEvent[];
  loading: boolean;
  error: unknown;
  /** No more to scan (reached the high watermark when the request ran). */
  done: boolean;
  scanned: number;
  /** Highest offset examined so far. */
  scannedTo: number | null;
  lastStop: BrowseResponse['stopped'] | null;
  filterErrors: number;
  firstFilterError: string | null;
  notes: string[];
  /** Automatic continuation paused: the user must ask for more. */
  paused: boolean;
}

const INITIAL: SearchState = { events: [], loading: false, error: null, done: false, scanned: 0, scannedTo: null, lastStop: null, filterErrors: 0, firstFilterError: null, notes: [], paused: false };

export function useSearch(client: AdminClient, topic: string, filters: FilterQuery | null, start: SearchStart) {
  const [state, setState] = useState<SearchState>(INITIAL);
  const next = useRef<number | null>(null);
  const inFlight = useRef<AbortController | null>(null);
  const emptyRuns = useRef(0);
  const generation = useRef(0);
  const key = JSON.stringify([client.baseUrl, topic, filters, start]);

  useEffect(() => {
    inFlight.current?.abort();
    inFlight.current = null;
    next.current = null;
    emptyRuns.current = 0;
    generation.current++;
    setState(INITIAL);
  }, [key]);

  const load = useCallback((userAsked: boolean) => {
    if (!filters || inFlight.current) return;
    if (userAsked) emptyRuns.current = 0;
    const gen = generation.current;
    const abort = new AbortController();
    inFlight.current = abort;
    setState((s) => ({ ...s, loading: true, error: null, paused: false }));
    const first = next.current === null;
    const query = {
      ...filters,
      direction: 'forward' as const,
      limit: SEARCH_PAGE,
      raw: false,
      ...(first ? (start.time !== undefined ? { time: String(start.time) } : { from: start.from ?? 0 }) : { from: next.current ?? 0 }),
    };
    client.events(topic, query, abort.signal).then(
      (res) => {
        if (gen !== generation.current) return;
        inFlight.current = null;
        next.current = res.next;
        emptyRuns.current = res.events.length === 0 ? emptyRuns.current + 1 : 0;
        setState((s) => ({
          events: [...s.events, ...res.events],
          loading: false,
          error: null,
          done: res.stopped === 'end',
          scanned: s.scanned + res.scanned,
          scannedTo: res.scannedTo,
          lastStop: res.stopped,
          filterErrors: s.filterErrors + res.filterErrors,
          firstFilterError: s.firstFilterError ?? res.firstFilterError ?? null,
          notes: [...new Set([...s.notes, ...res.notes])],
          paused: emptyRuns.current >= AUTO_CONTINUE,
        }));
      },
      (error: unknown) => {
        if (gen !== generation.current || abort.signal.aborted) return;
        inFlight.current = null;
        setState((s) => ({ ...s, loading: false, error }));
      },
    );
  }, [client, topic, filters, start]);

  /** Called when the end of the list is visible. */
  const wantMore = useCallback(() => {
    if (state.done || state.loading || state.error || state.paused) return;
    load(false);
  }, [state.done, state.loading, state.error, state.paused, load]);

  /** New events may have arrived: a finished scan can look again from where it stopped. */
  const refresh = useCallback(() => {
    if (state.done && !state.loading) {
      setState((s) => ({ ...s, done: false }));
    }
  }, [state.done, state.loading]);

  useEffect(() => () => inFlight.current?.abort(), []);

  return { state, wantMore, loadMore: () => load(true), refresh };
}
