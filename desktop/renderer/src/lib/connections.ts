/**
 * Where saved connections live: in Electron, behind the preload bridge (tokens encrypted by the
 * OS keychain through safeStorage); in a browser, in localStorage of the page's origin.
 */
import type { ConnectionsState, SavedConnection } from '../../../bridge.ts';
import { bridge } from './bridge.ts';

export interface ConnectionStore {
  readonly kind: 'electron' | 'browser';
  list(): Promise<ConnectionsState>;
  save(connection: SavedConnection): Promise<ConnectionsState>;
  remove(id: string): Promise<ConnectionsState>;
}

const KEY = 'sluice.connections.v1';

/** The collector that served this page: what a browser connects to by default. */
export function ownOriginConnection(): SavedConnection | null {
  if (typeof location === 'undefined' || !/^https?:$/.test(location.protocol)) return null;
  return { id: 'this', name: 'This collector', url: location.origin, token: null };
}

function isSavedConnection(value: unknown): value is SavedConnection {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.name === 'string' && typeof v.url === 'string' && (v.token === null || typeof v.token === 'string');
}

class BrowserStore implements ConnectionStore {
  readonly kind = 'browser' as const;

  #read(): SavedConnection[] | null {
    try {
      const raw = localStorage.getItem(KEY);
      if (raw === null) return null;
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter(isSavedConnection) : [];
    } catch {
      return [];
    }
  }

  #write(list: SavedConnection[]): ConnectionsState {
    localStorage.setItem(KEY, JSON.stringify(list));
    return { connections: list, tokensPersisted: true };
  }

  async list(): Promise<ConnectionsState> {
    const stored = this.#read();
    if (stored !== null) return { connections: stored, tokensPersisted: true };
    const own = ownOriginConnection();
    return { connections: own ? [own] : [], tokensPersisted: true };
  }

  async save(connection: SavedConnection): Promise<ConnectionsState> {
    const { connections } = await this.list();
    const i = connections.findIndex((c) => c.id === connection.id);
    const next = i === -1 ? [...connections, connection] : connections.map((c, j) => (j === i ? connection : c));
    return this.#write(next);
  }

  async remove(id: string): Promise<ConnectionsState> {
    const { connections } = await this.list();
    return this.#write(connections.filter((c) => c.id !== id));
  }
}

class ElectronStore implements ConnectionStore {
  readonly kind = 'electron' as const;
  constructor(private readonly b: NonNullable<ReturnType<typeof bridge>>) {}
  list() {
    return this.b.listConnections();
  }
  save(connection: SavedConnection) {
    return this.b.saveConnection(connection);
  }
  remove(id: string) {
    return this.b.removeConnection(id);
  }
}

export function connectionStore(): ConnectionStore {
  const b = bridge();
  return b ? new ElectronStore(b) : new BrowserStore();
}

export function newConnectionId(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID().slice(0, 8) : Math.random().toString(36).slice(2, 10);
}
