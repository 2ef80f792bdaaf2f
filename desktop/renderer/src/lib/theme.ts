/** Light and dark themes: follow the system until the user picks one, then remember it. */
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { getZoneMode, subscribeZoneMode, type ZoneMode } from './format.ts';

export type Theme = 'light' | 'dark';
const KEY = 'sluice.theme';

function initialTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = useCallback(() => {
    setTheme((t) => {
      const next = t === 'dark' ? 'light' : 'dark';
      localStorage.setItem(KEY, next);
      return next;
    });
  }, []);
  return [theme, toggle];
}

/** The zone times are shown in (lib/format.ts keeps it); a component using it re-renders on a switch. */
export function useZoneMode(): ZoneMode {
  return useSyncExternalStore(subscribeZoneMode, getZoneMode);
}
