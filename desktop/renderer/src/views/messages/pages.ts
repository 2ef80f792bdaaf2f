/**
 * Windows of a topic fetched by offset for the message table: pages of PAGE_SIZE events aligned
 * on absolute offsets, fetched only while visible (never the whole topic), kept in a small LRU,
 * aborted when scrolled away before they arrive. The page holding the high watermark is fetched
 * again when new events arrive.
 *
 * Each fetch is recorded as a `sluice:page-fetch` performance measure (the benchmark reads them).
 */
import { useEffect, useReducer, useRef } from 'react';
import type { ApiEvent } from '../../../../../shared/src/api/events.ts';
import type { AdminClient } from '../../api/client.ts';

export const PAGE_SIZE = 200;
const KEEP_PAGES = 60;

interface PageEntry {
  /** Exclusive end offset this page was (or is being) fetched up to. */
  end: number;
  events: ApiEvent[] | null;
  byOffset: Map<number, ApiEvent> | null;
  error: unknown;
  loadingEnd: number | null;
  abort: AbortController | null;
  usedAt: number;
}

export interface PageView {
  event(offset: number): ApiEvent | undefined;
  /** The error of the page holding this offset, if its fetch failed. */
  error(offset: number): unknown;
  retry(): void;
}

export function pageOf(offset: number): number {
  return Math.floor(offset / PAGE_SIZE);
}

export function usePages(client: AdminClient, topic: string, high: number, wanted: readonly number[]): PageView {
  const cache = useRef(new Map<number, PageEntry>());
  const [, bump] = useReducer((x: number) => x + 1, 0);
  const [retryToken, retry] = useReducer((x: number) => x + 1, 0);
  const key = `${client.baseUrl}\u0000${topic}`;
  const keyRef = useRef(key);
  if (keyRef.current !== key) {
    for (const e of cache.current.values()) e.abort?.abort();
    cache.current = new Map();
    keyRef.current = key;
  }

  const wantedKey = wanted.join(',');
  useEffect(() => {
    const pages = cache.current;
    const want = new Set(wanted);
    const now = performance.now();
    // Abort fetches of pages no longer visible.
    for (const [p, e] of pages) {
      if (!want.has(p) && e.abort) {
        e.abort.abort();
        e.abort = null;
        e.loadingEnd = null;
        if (!e.events) pages.delete(p);
      }
    }
    for (const p of wanted) {
      const start = p * PAGE_SIZE;
      const end = Math.min(high, start + PAGE_SIZE);
      if (end <= start) continue;
      let entry = pages.get(p);
      if (entry) entry.usedAt = now;
      // Up to date, on its way, or failed for this very range (retry() clears failures).
      if (entry && (entry.loadingEnd === end || ((entry.events || entry.error) && entry.end === end))) continue;
      if (!entry) {
        entry = { end, events: null, byOffset: null, error: null, loadingEnd: null, abort: null, usedAt: now };
        pages.set(p, entry);
      }
      entry.abort?.abort();
      const abort = new AbortController();
      entry.abort = abort;
      entry.loadingEnd = end;
      const e = entry;
      const t0 = performance.now();
      client.events(topic, { from: start, limit: end - start, raw: false }, abort.signal).then(
        (res) => {
          if (abort.signal.aborted) return;
          performance.measure('sluice:page-fetch', { start: t0, end: performance.now(), detail: { page: p, events: res.events.length } });
          e.events = res.events;
          e.byOffset = new Map(res.events.map((ev) => [ev.offset, ev]));
          e.end = end;
          e.error = null;
          e.loadingEnd = null;
          e.abort = null;
          bump();
        },
        (error: unknown) => {
          if (abort.signal.aborted) return;
          e.error = error;
          e.end = end;
          e.loadingEnd = null;
          e.abort = null;
          bump();
        },
      );
    }
    // Keep the most recently used pages only.
    if (pages.size > KEEP_PAGES) {
      const old = [...pages.entries()].filter(([p]) => !want.has(p)).sort((a, b) => a[1].usedAt - b[1].usedAt);
      for (const [p, e] of old.slice(0, pages.size - KEEP_PAGES)) {
        e.abort?.abort();
        pages.delete(p);
      }
    }
    // `wanted` is compared by value, through wantedKey.
  }, [client, topic, high, wantedKey, retryToken, key]);

  useEffect(() => () => {
    for (const e of cache.current.values()) e.abort?.abort();
  }, []);

  return {
    event: (offset) => cache.current.get(pageOf(offset))?.byOffset?.get(offset),
    error: (offset) => cache.current.get(pageOf(offset))?.error ?? null,
    retry: () => {
      for (const [p, e] of cache.current) if (e.error) cache.current.delete(p);
      retry();
    },
  };
}
