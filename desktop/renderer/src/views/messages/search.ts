/**
 * Filtered browsing: the server scans forward from a start position and returns matching events
 * page by page (each request bounded in rows and time by the collector). The scan keeps going on
 * its own, request after request, until it has a page more than the list shows, reaches the newest
 * event, or has examined the user's bound of events (`scanLimit`); the user can stop it. Results
 * accumulate as the user scrolls, each scroll to the end asking for another page of matches.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiEvent, BrowseResponse, FilterQuery } from '../../../../../shared/src/api/events.ts';
import type { AdminClient } from '../../api/client.ts';

const SEARCH_PAGE = 200;
/** Events a scan may examine before it pauses for the user, unless they choose another bound. */
export const DEFAULT_SCAN_LIMIT = 1_000_000;
export const SCAN_LIMITS = [100_000, 1_000_000, 10_000_000, Number.POSITIVE_INFINITY] as const;

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
  /** Why the scan waits for the user: it examined their bound of events, or they stopped it. */
  paused: 'limit' | 'stopped' | null;
  /** The offset the scan started at (for progress). */
  startedAt: number | null;
}

const INITIAL: SearchState = { events: [], loading: false, error: null, done: false, scanned: 0, scannedTo: null, lastStop: null, filterErrors: 0, firstFilterError: null, notes: [], paused: null, startedAt: null };

export function useSearch(client: AdminClient, topic: string, filters: FilterQuery | null, start: SearchStart, scanLimit = DEFAULT_SCAN_LIMIT) {
  const [state, setState] = useState<SearchState>(INITIAL);
  const next = useRef<number | null>(null);
  const inFlight = useRef<AbortController | null>(null);
  /** Matches wanted before the scan rests: a page beyond what the list shows. */
  const want = useRef(SEARCH_PAGE);
  /** Events examined since the user last let the scan go on. */
  const budgetUsed = useRef(0);
  const generation = useRef(0);
  const key = JSON.stringify([client.baseUrl, topic, filters, start]);

  useEffect(() => {
    inFlight.current?.abort();
    inFlight.current = null;
    next.current = null;
    want.current = SEARCH_PAGE;
    budgetUsed.current = 0;
    generation.current++;
    setState(INITIAL);
  }, [key]);

  const load = useCallback(() => {
    if (!filters || inFlight.current) return;
    const gen = generation.current;
    const abort = new AbortController();
    inFlight.current = abort;
    setState((s) => ({ ...s, loading: true, error: null, paused: null }));
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
        budgetUsed.current += res.scanned;
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
          paused: res.stopped !== 'end' && budgetUsed.current >= scanLimit ? 'limit' : s.paused === 'stopped' ? 'stopped' : null,
          startedAt: s.startedAt ?? (first ? res.scannedFrom : null),
        }));
      },
      (error: unknown) => {
        if (gen !== generation.current || abort.signal.aborted) return;
        inFlight.current = null;
        setState((s) => ({ ...s, loading: false, error }));
      },
    );
  }, [client, topic, filters, start, scanLimit]);

  // Keep scanning on our own until a page more than shown is found, the end, or the user's bound.
  useEffect(() => {
    if (!filters || state.loading || state.done || state.error !== null || state.paused !== null) return;
    if (state.events.length >= want.current && state.lastStop !== null) return;
    load();
  }, [filters, state.loading, state.done, state.error, state.paused, state.events.length, state.lastStop, load]);

  // A larger bound chosen while paused at the old one lets the scan go on.
  useEffect(() => {
    if (budgetUsed.current < scanLimit) setState((s) => (s.paused === 'limit' ? { ...s, paused: null } : s));
  }, [scanLimit]);

  /** Called when the end of the list is visible: another page of matches. */
  const wantMore = useCallback(() => {
    if (state.done || state.loading || state.error || state.paused !== null) return;
    if (want.current <= state.events.length) want.current = state.events.length + SEARCH_PAGE;
    load();
  }, [state.done, state.loading, state.error, state.paused, state.events.length, load]);

  /** The user lets a paused (or failed) scan go on: another bound of events from here. */
  const loadMore = useCallback(() => {
    budgetUsed.current = 0;
    if (want.current <= state.events.length) want.current = state.events.length + SEARCH_PAGE;
    setState((s) => ({ ...s, paused: null, error: null }));
  }, [state.events.length]);

  /** The user stops the scan; what was found stays. */
  const stop = useCallback(() => {
    inFlight.current?.abort();
    inFlight.current = null;
    generation.current++;
    setState((s) => ({ ...s, loading: false, paused: 'stopped' }));
  }, []);

  /** New events may have arrived: a finished scan can look again from where it stopped. */
  const refresh = useCallback(() => {
    if (state.done && !state.loading) {
      setState((s) => ({ ...s, done: false }));
    }
  }, [state.done, state.loading]);

  useEffect(() => () => inFlight.current?.abort(), []);

  return { state, wantMore, loadMore, stop, refresh };
}
