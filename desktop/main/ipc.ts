/**
 * The main side of the preload bridge: the allow-list of IPC channels, the checks on every
 * message (who sent it, what it carries), and the dispatch to handlers. Pure, so ipc.test.ts runs
 * it without Electron; main.ts wires it to ipcMain.
 *
 * A message is refused — the renderer's promise rejects — when its channel is not allow-listed,
 * when it does not come from the app's own page (sluice://app), or when its payload is not what
 * the channel takes. Nothing is ever answered with an Error value.
 */
import {
  ALLOWED_CHANNELS,
  IPC_CHANNELS,
  isAllowedChannel,
  MAX_SAVE_BYTES,
  type ConnectionsState,
  type IpcChannel,
  type SaveFileRequest,
  type SaveFileResult,
  type SavedConnection,
} from '../bridge.ts';
import { isAppUrl } from './security.ts';

export { ALLOWED_CHANNELS };

export class IpcRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpcRefused';
  }
}

export interface IpcHandlers {
  listConnections(): Promise<ConnectionsState> | ConnectionsState;
  saveConnection(connection: SavedConnection): Promise<ConnectionsState> | ConnectionsState;
  removeConnection(id: string): Promise<ConnectionsState> | ConnectionsState;
  saveFile(request: SaveFileRequest): Promise<SaveFileResult>;
}

/** What main knows about the sender of a message (event.senderFrame.url). */
export interface IpcSender {
  url: string | undefined;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function refuse(channel: string, why: string): IpcRefused {
  return new IpcRefused(`${channel}: ${why}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseConnection(input: unknown, channel = IPC_CHANNELS.saveConnection): SavedConnection {
  if (!isRecord(input)) throw refuse(channel, 'expected a connection object');
  const { id, name, url, token } = input;
  const extra = Object.keys(input).filter((k) => !['id', 'name', 'url', 'token'].includes(k));
  if (extra.length > 0) throw refuse(channel, `unknown field ${extra.join(', ')}`);
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw refuse(channel, 'id must be 1–64 letters, digits, _ or -');
  if (typeof name !== 'string' || name.length > 100) throw refuse(channel, 'name must be a string of at most 100 characters');
  if (typeof url !== 'string' || url.length > 2048) throw refuse(channel, 'url must be a string');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse(channel, `url "${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw refuse(channel, 'url must be http:// or https://');
  if (parsed.username || parsed.password) throw refuse(channel, 'url must not carry credentials; use the token field');
  if (token !== null && (typeof token !== 'string' || token.length > 4096)) throw refuse(channel, 'token must be null or a string of at most 4096 characters');
  return { id, name, url: `${parsed.protocol}//${parsed.host}`, token };
}

export function parseId(input: unknown, channel: string): string {
  if (typeof input !== 'string' || !ID_PATTERN.test(input)) throw refuse(channel, 'expected a connection id');
  return input;
}

/** Only a file name is taken from the renderer, never a path: the user picks the folder. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f<>:"|?*]/g, '_').replace(/^\.+/, '').slice(0, 200);
  return cleaned || 'export.txt';
}

export function parseSaveFile(input: unknown, channel = IPC_CHANNELS.saveFile): SaveFileRequest {
  if (!isRecord(input)) throw refuse(channel, 'expected { defaultName, content, filters? }');
  const { defaultName, content, filters } = input;
  if (typeof defaultName !== 'string') throw refuse(channel, 'defaultName must be a string');
  if (typeof content !== 'string') throw refuse(channel, 'content must be a string');
  if (content.length > MAX_SAVE_BYTES) throw refuse(channel, `content is larger than ${MAX_SAVE_BYTES} bytes; export a smaller range or use the API`);
  let safeFilters: { name: string; extensions: string[] }[] | undefined;
  if (filters !== undefined) {
    if (!Array.isArray(filters) || filters.length > 10) throw refuse(channel, 'filters must be a short list');
    safeFilters = filters.map((f) => {
      if (!isRecord(f) || typeof f.name !== 'string' || !Array.isArray(f.extensions) || !f.extensions.every((e) => typeof e === 'string' && /^[A-Za-z0-9]{1,10}$/.test(e))) {
        throw refuse(channel, 'each filter is { name, extensions: ["ndjson", …] }');
      }
      return { name: f.name.slice(0, 60), extensions: f.extensions as string[] };
    });
  }
  return { defaultName: safeFileName(defaultName), content, ...(safeFilters ? { filters: safeFilters } : {}) };
}

/**
 * Dispatches one message. Rejects (never resolves with an error value) on an unknown channel, an
 * untrusted sender or a bad payload.
 */
export async function dispatch(handlers: IpcHandlers, channel: unknown, sender: IpcSender, args: readonly unknown[]): Promise<unknown> {
  if (!isAllowedChannel(channel)) throw new IpcRefused(`IPC channel ${JSON.stringify(channel)} is not allowed`);
  if (!sender.url || !isAppUrl(sender.url)) throw refuse(channel, `refused a message from ${sender.url ?? 'an unknown frame'}: only the app's own page may use the bridge`);
  const c: IpcChannel = channel;
  switch (c) {
    case IPC_CHANNELS.listConnections:
      if (args.length !== 0) throw refuse(c, 'takes no arguments');
      return handlers.listConnections();
    case IPC_CHANNELS.saveConnection:
      if (args.length !== 1) throw refuse(c, 'takes one connection');
      return handlers.saveConnection(parseConnection(args[0]));
    case IPC_CHANNELS.removeConnection:
      if (args.length !== 1) throw refuse(c, 'takes one id');
      return handlers.removeConnection(parseId(args[0], c));
    case IPC_CHANNELS.saveFile:
      if (args.length !== 1) throw refuse(c, 'takes one request');
      return handlers.saveFile(parseSaveFile(args[0]));
  }
}
