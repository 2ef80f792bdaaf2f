/**
 * The bridge the preload exposes as `window.sluice`: a few typed functions, each bound to one
 * allow-listed `sluice:*` channel. Pure (it takes `invoke`), so bridge.test.ts checks the
 * allow-list without Electron. An unknown channel rejects before anything is sent; answers are
 * checked for shape before they reach the page.
 */
import {
  IPC_CHANNELS,
  isAllowedChannel,
  type ConnectionsState,
  type SaveFileRequest,
  type SaveFileResult,
  type SavedConnection,
  type SluiceBridge,
} from '../bridge.ts';

export type Invoke = (channel: string, ...args: unknown[]) => Promise<unknown>;

/** Sends on an allow-listed channel; anything else rejects without reaching main. */
export function guardedInvoke(invoke: Invoke): Invoke {
  return (channel, ...args) => {
    if (!isAllowedChannel(channel)) return Promise.reject(new Error(`IPC channel ${JSON.stringify(channel)} is not allowed`));
    return invoke(channel, ...args);
  };
}

function isConnection(v: unknown): v is SavedConnection {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return typeof c.id === 'string' && typeof c.name === 'string' && typeof c.url === 'string' && (c.token === null || typeof c.token === 'string');
}

function asConnectionsState(v: unknown): ConnectionsState {
  const s = v as Partial<ConnectionsState> | null;
  if (!s || !Array.isArray(s.connections) || !s.connections.every(isConnection) || typeof s.tokensPersisted !== 'boolean') {
    throw new Error('the desktop shell answered with something that is not a list of connections');
  }
  return { connections: s.connections.map((c) => ({ id: c.id, name: c.name, url: c.url, token: c.token })), tokensPersisted: s.tokensPersisted };
}

function asSaveResult(v: unknown): SaveFileResult {
  const r = v as Partial<SaveFileResult> | null;
  if (!r || typeof r.saved !== 'boolean' || (r.path !== undefined && typeof r.path !== 'string')) throw new Error('the desktop shell answered the save dialog with something unexpected');
  return r.path === undefined ? { saved: r.saved } : { saved: r.saved, path: r.path };
}

export function createBridge(invoke: Invoke, version: string): SluiceBridge {
  const call = guardedInvoke(invoke);
  return Object.freeze({
    kind: 'electron' as const,
    version,
    listConnections: async () => asConnectionsState(await call(IPC_CHANNELS.listConnections)),
    saveConnection: async (connection: SavedConnection) => asConnectionsState(await call(IPC_CHANNELS.saveConnection, { id: connection.id, name: connection.name, url: connection.url, token: connection.token })),
    removeConnection: async (id: string) => asConnectionsState(await call(IPC_CHANNELS.removeConnection, id)),
    saveFile: async (request: SaveFileRequest) => asSaveResult(await call(IPC_CHANNELS.saveFile, request)),
  });
}

/** The app version main passes as `--sluice-version=…` (webPreferences.additionalArguments). */
export function versionFromArgv(argv: readonly string[]): string {
  const arg = argv.find((a) => a.startsWith('--sluice-version='));
  return arg ? arg.slice('--sluice-version='.length) : 'unknown';
}
