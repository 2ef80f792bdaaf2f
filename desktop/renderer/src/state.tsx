/**
 * App-wide state: the saved connections, which one is active, and its AdminClient.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { SavedConnection } from '../../bridge.ts';
import { AdminClient } from './api/client.ts';
import { connectionStore } from './lib/connections.ts';

const ACTIVE_KEY = 'sluice.activeConnection';

interface ConnectionsValue {
  connections: SavedConnection[];
  loaded: boolean;
  tokensPersisted: boolean;
  storeKind: 'electron' | 'browser';
  active: SavedConnection | null;
  client: AdminClient | null;
  setActive(id: string): void;
  save(connection: SavedConnection): Promise<void>;
  remove(id: string): Promise<void>;
  /** A failure of the store itself (the bridge refused, storage full). */
  storeError: string | null;
}

const ConnectionsContext = createContext<ConnectionsValue | null>(null);

export function ConnectionsProvider({ children }: { children: ReactNode }) {
  const store = useMemo(() => connectionStore(), []);
  const [connections, setConnections] = useState<SavedConnection[]>([]);
  const [tokensPersisted, setTokensPersisted] = useState(true);
  const [loaded, setLoaded] = useState(false);
  const [activeId, setActiveId] = useState<string | null>(() => localStorage.getItem(ACTIVE_KEY));
  const [storeError, setStoreError] = useState<string | null>(null);

  useEffect(() => {
    store.list().then(
      (state) => {
        setConnections(state.connections);
        setTokensPersisted(state.tokensPersisted);
        setLoaded(true);
      },
      (error: unknown) => {
        setStoreError(`Could not read saved connections: ${error instanceof Error ? error.message : String(error)}`);
        setLoaded(true);
      },
    );
  }, [store]);

  const setActive = useCallback((id: string) => {
    localStorage.setItem(ACTIVE_KEY, id);
    setActiveId(id);
  }, []);

  const save = useCallback(async (connection: SavedConnection) => {
    try {
      const state = await store.save(connection);
      setConnections(state.connections);
      setTokensPersisted(state.tokensPersisted);
      setStoreError(null);
    } catch (error) {
      setStoreError(`Could not save connection "${connection.name}": ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
  }, [store]);

  const remove = useCallback(async (id: string) => {
    const state = await store.remove(id);
    setConnections(state.connections);
    setTokensPersisted(state.tokensPersisted);
  }, [store]);

  const active = connections.find((c) => c.id === activeId) ?? connections[0] ?? null;
  const client = useMemo(() => (active ? new AdminClient(active) : null), [active]);

  const value: ConnectionsValue = { connections, loaded, tokensPersisted, storeKind: store.kind, active, client, setActive, save, remove, storeError };
  return <ConnectionsContext.Provider value={value}>{children}</ConnectionsContext.Provider>;
}

export function useConnections(): ConnectionsValue {
  const value = useContext(ConnectionsContext);
  if (!value) throw new Error('useConnections outside ConnectionsProvider');
  return value;
}

/** The active connection's client; views are only rendered when there is one. */
export function useClient(): AdminClient {
  const { client } = useConnections();
  if (!client) throw new Error('no active connection');
  return client;
}
