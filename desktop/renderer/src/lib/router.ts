/**
 * Hash routes, so the same build works from the collector (any path prefix), from the Electron
 * shell's custom scheme and from a file: `#/<view>[/<topic or name>][?k=v…]`.
 */
import { useCallback, useEffect, useState } from 'react';

export const VIEWS = ['overview', 'topics', 'topic', 'messages', 'tail', 'replay', 'interceptors', 'groups', 'fleet', 'connections'] as const;
export type ViewName = (typeof VIEWS)[number];

export interface Route {
  view: ViewName;
  /** Topic, source or sink the view is about. */
  arg: string | null;
  params: Record<string, string>;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = text.split('?', 2);
  const [viewRaw, ...rest] = pathPart.split('/');
  const view = (VIEWS as readonly string[]).includes(viewRaw) ? (viewRaw as ViewName) : 'overview';
  const argRaw = rest.join('/');
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(queryPart)) params[k] = v;
  return { view, arg: argRaw ? decodeURIComponent(argRaw) : null, params };
}

export function formatHash(route: { view: ViewName; arg?: string | null; params?: Record<string, string | number | undefined | null> }): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(route.params ?? {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const q = params.toString();
  return `#/${route.view}${route.arg ? `/${encodeURIComponent(route.arg)}` : ''}${q ? `?${q}` : ''}`;
}

export function useRoute(): [Route, (next: Parameters<typeof formatHash>[0], options?: { replace?: boolean }) => void] {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const navigate = useCallback((next: Parameters<typeof formatHash>[0], options: { replace?: boolean } = {}) => {
    const hash = formatHash(next);
    if (hash === location.hash) return;
    if (options.replace) {
      history.replaceState(null, '', hash);
      setRoute(parseHash(hash));
    } else {
      location.hash = hash;
    }
  }, []);
  return [route, navigate];
}
