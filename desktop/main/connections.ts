/**
 * Saved connections, kept by the main process in `connections.json` under the app's user-data
 * folder. Tokens are encrypted with the OS keychain (Electron safeStorage) before they touch the
 * disk. Where no keychain is available (safeStorage unavailable, or Linux's `basic_text`
 * fallback, which is no encryption), tokens are kept in memory for the session only and the UI
 * says so.
 *
 * File format (version 1):
 *   { "version": 1, "connections": [ { "id", "name", "url", "token": null | { "encrypted": "<base64>" } } ] }
 */
import type { ConnectionsState, SavedConnection } from '../bridge.ts';

export interface TokenCipher {
  /** Whether tokens can be encrypted for real on this system. */
  available(): boolean;
  encrypt(plain: string): Uint8Array;
  decrypt(data: Uint8Array): string;
}

export interface VaultStorage {
  read(): string | null;
  /** Replaces the file atomically. */
  write(text: string): void;
}

interface StoredConnection {
  id: string;
  name: string;
  url: string;
  token: null | { encrypted: string };
}

interface VaultFile {
  version: 1;
  connections: StoredConnection[];
}

export class ConnectionVault {
  readonly #storage: VaultStorage;
  readonly #cipher: TokenCipher;
  /** Tokens that could not be stored encrypted: this session only. */
  readonly #sessionTokens = new Map<string, string>();
  #connections: SavedConnection[];
  /** Set when the file could not be read (it is then left alone, not overwritten). */
  readonly loadProblem: string | null;

  constructor(storage: VaultStorage, cipher: TokenCipher) {
    this.#storage = storage;
    this.#cipher = cipher;
    const { connections, problem } = this.#load();
    this.#connections = connections;
    this.loadProblem = problem;
  }

  #load(): { connections: SavedConnection[]; problem: string | null } {
    const text = this.#storage.read();
    if (text === null) return { connections: [], problem: null };
    let file: VaultFile;
    try {
      file = JSON.parse(text) as VaultFile;
      if (file.version !== 1 || !Array.isArray(file.connections)) throw new Error(`unknown format version ${String((file as { version?: unknown }).version)}`);
    } catch (error) {
      return { connections: [], problem: `connections.json could not be read (${(error as Error).message}); it was left as it is` };
    }
    const out: SavedConnection[] = [];
    for (const c of file.connections) {
      let token: string | null = null;
      if (c.token) {
        try {
          token = this.#cipher.available() ? this.#cipher.decrypt(base64ToBytes(c.token.encrypted)) : null;
        } catch {
          token = null; // encrypted by another user or keychain: the user enters it again
        }
      }
      out.push({ id: c.id, name: c.name, url: c.url, token });
    }
    return { connections: out, problem: null };
  }

  #persist(): void {
    if (this.loadProblem) return;
    const canEncrypt = this.#cipher.available();
    const file: VaultFile = {
      version: 1,
      connections: this.#connections.map((c) => ({
        id: c.id,
        name: c.name,
        url: c.url,
        token: c.token && canEncrypt ? { encrypted: bytesToBase64(this.#cipher.encrypt(c.token)) } : null,
      })),
    };
    this.#storage.write(`${JSON.stringify(file, null, 2)}\n`);
  }

  state(): ConnectionsState {
    return {
      connections: this.#connections.map((c) => ({ ...c, token: c.token ?? this.#sessionTokens.get(c.id) ?? null })),
      tokensPersisted: this.#cipher.available(),
    };
  }

  save(connection: SavedConnection): ConnectionsState {
    const i = this.#connections.findIndex((c) => c.id === connection.id);
    const entry = { ...connection };
    if (!this.#cipher.available() && entry.token) {
      this.#sessionTokens.set(entry.id, entry.token);
      entry.token = null;
    } else {
      this.#sessionTokens.delete(entry.id);
    }
    this.#connections = i === -1 ? [...this.#connections, entry] : this.#connections.map((c, j) => (j === i ? entry : c));
    this.#persist();
    return this.state();
  }

  remove(id: string): ConnectionsState {
    this.#connections = this.#connections.filter((c) => c.id !== id);
    this.#sessionTokens.delete(id);
    this.#persist();
    return this.state();
  }

  /** The origins of saved collectors: the only ones the app's requests are let through to. */
  origins(): Set<string> {
    const out = new Set<string>();
    for (const c of this.#connections) {
      try {
        out.add(new URL(c.url).origin);
      } catch {
        // A bad URL never matches anything.
      }
    }
    return out;
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function base64ToBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
