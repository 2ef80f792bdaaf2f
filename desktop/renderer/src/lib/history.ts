/**
 * Throughput and lag over the last minutes, sampled from the admin API every 2 s while a
 * connection is active. Throughput comes from each source's accepted counter (events/s between
 * samples); lag is each sink's total lag. Kept per connection in memory, at most 10 minutes.
 */
import { useEffect, useState } from 'react';
import type { AdminClient } from '../api/client.ts';

export interface Sample {
  /** Seconds since the epoch (uPlot's x). */
  t: number;
  /** Events/s accepted per source. */
  rates: Record<string, number>;
  /** Lag per sink. */
  lags: Record<string, number>;
}

const KEEP_MS = 10 * 60_000;
const INTERVAL_MS = 2000;

interface Track {
  samples: Sample[];
  last: { at: number; accepted: Record<string, number> } | null;
  listeners: Set<() => void>;
  timer: ReturnType<typeof setInterval> | null;
  users: number;
}

const tracks = new Map<string, Track>();

async function sample(client: AdminClient, track: Track): Promise<void> {
  const [sources, sinks] = await Promise.all([client.sources(), client.sinks()]);
  const now = Date.now();
  const accepted: Record<string, number> = {};
  for (const s of sources.sources) accepted[s.name] = s.accepted;
  const rates: Record<string, number> = {};
  if (track.last) {
    const dt = (now - track.last.at) / 1000;
    for (const [name, count] of Object.entries(accepted)) {
      const before = track.last.accepted[name];
      rates[name] = before === undefined || dt <= 0 ? 0 : Math.max(0, (count - before) / dt);
    }
  }
  track.last = { at: now, accepted };
  const lags: Record<string, number> = {};
  for (const s of sinks.sinks) lags[s.name] = s.lag;
  if (Object.keys(rates).length > 0 || track.samples.length > 0 || Object.keys(lags).length > 0) {
    track.samples = [...track.samples.filter((x) => x.t * 1000 >= now - KEEP_MS), { t: now / 1000, rates, lags }];
  }
  for (const l of track.listeners) l();
}

export function useHistory(client: AdminClient): Sample[] {
  const key = client.connection.id + client.baseUrl;
  const [samples, setSamples] = useState<Sample[]>(() => tracks.get(key)?.samples ?? []);
  useEffect(() => {
    let track = tracks.get(key);
    if (!track) {
      track = { samples: [], last: null, listeners: new Set(), timer: null, users: 0 };
      tracks.set(key, track);
    }
    const t = track;
    const listener = () => setSamples(t.samples);
    t.listeners.add(listener);
    t.users++;
    if (!t.timer) {
      const tick = () => void sample(client, t).catch(() => undefined);
      tick();
      t.timer = setInterval(tick, INTERVAL_MS);
    }
    setSamples(t.samples);
    return () => {
      t.listeners.delete(listener);
      t.users--;
      if (t.users === 0 && t.timer) {
        clearInterval(t.timer);
        t.timer = null;
      }
    };
  }, [client, key]);
  return samples;
}
