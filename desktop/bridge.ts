/**
 * The contract between the Electron shell and the renderer: what `window.sluice` offers and the
 * IPC channels behind it. Types and constants only — the renderer imports this file (it may not
 * import desktop/main or desktop/preload), the preload implements it, main serves it.
 *
 * Every channel is namespaced `sluice:` and listed in IPC_CHANNELS; main refuses anything else,
 * and so does the preload before a message ever leaves the renderer.
 */

/** A collector or hub the app knows. `token` is null when the admin API needs none. */
export interface SavedConnection {
  id: string;
  name: string;
  /** Base URL of the admin API, e.g. `http://127.0.0.1:9410`. */
  url: string;
  token: string | null;
}

export interface ConnectionsState {
  connections: SavedConnection[];
  /**
   * Whether tokens are kept encrypted by the OS keychain (Electron safeStorage). When false the
   * shell keeps tokens for this session only and never writes them to disk.
   */
  tokensPersisted: boolean;
}

export interface SaveFileRequest {
  /** Suggested file name, e.g. `orders-0-999.ndjson`. */
  defaultName: string;
  content: string;
  filters?: { name: string; extensions: string[] }[];
}

export interface SaveFileResult {
  saved: boolean;
  path?: string;
}

/** What the preload exposes as `window.sluice` (absent in a plain browser). */
export interface SluiceBridge {
  readonly kind: 'electron';
  readonly version: string;
  listConnections(): Promise<ConnectionsState>;
  saveConnection(connection: SavedConnection): Promise<ConnectionsState>;
  removeConnection(id: string): Promise<ConnectionsState>;
  saveFile(request: SaveFileRequest): Promise<SaveFileResult>;
}

export const IPC_CHANNELS = {
  listConnections: 'sluice:connections:list',
  saveConnection: 'sluice:connections:save',
  removeConnection: 'sluice:connections:remove',
  saveFile: 'sluice:dialog:save-file',
} as const;

export type IpcChannel = (typeof IPC_CHANNELS)[keyof typeof IPC_CHANNELS];

/** The allow-list both sides check. */
export const ALLOWED_CHANNELS: ReadonlySet<string> = new Set<string>(Object.values(IPC_CHANNELS));

export function isAllowedChannel(channel: unknown): channel is IpcChannel {
  return typeof channel === 'string' && channel.startsWith('sluice:') && ALLOWED_CHANNELS.has(channel);
}

/** The scheme and origin the shell serves the renderer from. */
export const APP_SCHEME = 'sluice';
export const APP_ORIGIN = 'sluice://app';

/** Largest export the shell writes through the save dialog (bigger ones: use the API or CLI). */
export const MAX_SAVE_BYTES = 256 * 1024 * 1024;
