/** Formatting for numbers, sizes and times as the UI shows them. */

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export { formatBytes } from '../../../../shared/src/format.ts';

export function formatRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M/s`;
  if (perSec >= 1e4) return `${(perSec / 1e3).toFixed(1)}k/s`;
  return `${perSec.toFixed(perSec < 10 && perSec % 1 !== 0 ? 1 : 0)}/s`;
}

export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 2 : 1)}%`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * Times are shown in one zone for the whole UI, local or UTC, switched in the sidebar and
 * remembered. Every time the UI prints carries its zone: in the column header or as a suffix.
 */
export type ZoneMode = 'local' | 'utc';
const ZONE_KEY = 'sluice.timezone';
let zoneMode: ZoneMode = readZoneMode();
const zoneListeners = new Set<() => void>();

function readZoneMode(): ZoneMode {
  try {
    return globalThis.localStorage?.getItem(ZONE_KEY) === 'utc' ? 'utc' : 'local';
  } catch {
    return 'local';
  }
}

export function getZoneMode(): ZoneMode {
  return zoneMode;
}

export function setZoneMode(mode: ZoneMode): void {
  zoneMode = mode;
  try {
    globalThis.localStorage?.setItem(ZONE_KEY, mode);
  } catch {
    // private mode: the choice lasts for this page only
  }
  for (const l of zoneListeners) l();
}

export function subscribeZoneMode(listener: () => void): () => void {
  zoneListeners.add(listener);
  return () => zoneListeners.delete(listener);
}

/** The zone times are shown in: `UTC`, or the local offset at `ms` (`UTC+01:00`). */
export function zoneLabel(ms = Date.now(), mode = zoneMode): string {
  if (mode === 'utc') return 'UTC';
  const off = -new Date(ms).getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `UTC${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** Time with milliseconds in the chosen zone: `2025-11-25 04:16:03.127` (the zone is said beside it). */
export function formatTime(ms: number | null | undefined, mode = zoneMode): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  if (mode === 'utc') {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** formatTime with its zone: `2025-11-25 04:16:03.127 UTC`. */
export function formatTimeZoned(ms: number | null | undefined, mode = zoneMode): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return `${formatTime(ms, mode)} ${zoneLabel(ms, mode)}`;
}

/** Headers as `name=value` pairs, content-type left out (the Type column shows it). */
export function headerText(headers: Record<string, string>, separator: string): string {
  return Object.entries(headers).filter(([k]) => k !== 'content-type').map(([k, v]) => `${k}=${v}`).join(separator);
}

export function formatAgo(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.round((now - ms) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * Parses what a user types as a time: an ISO date (`2025-11-25T04:16`), a
 * `YYYY-MM-DD HH:MM[:SS[.mmm]]` in the zone the UI shows (local or UTC), ms since the epoch, or a
 * relative `-5m` / `-2h` / `-1d`.
 * Returns ms since the epoch, or null when it is none of these.
 */
export function parseTimeInput(text: string, now = Date.now(), mode = zoneMode): number | null {
  const t = text.trim();
  if (!t) return null;
  const rel = /^-(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(t);
  if (rel) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Math.round(now - Number(rel[1]) * unit);
  }
  if (/^\d{11,}$/.test(t)) return Number(t);
  const local = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(t);
  if (local) {
    const [, y, mo, d, h, mi, s, frac] = local;
    const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), Number((frac ?? '0').padEnd(3, '0'))] as const;
    return mode === 'utc' ? Date.UTC(...parts) : new Date(...parts).getTime();
  }
  const parsed = Date.parse(t);
  return Number.isNaN(parsed) ? null : parsed;
}
