import { describe, expect, it } from 'vitest';
import { ConnectionVault, type TokenCipher, type VaultStorage } from './connections.ts';

function memoryStorage(initial: string | null = null): VaultStorage & { text: string | null } {
  const s = {
    text: initial,
    read: () => s.text,
    write: (t: string) => {
      s.text = t;
    },
  };
  return s;
}

/** A stand-in for safeStorage: reversible, and visibly not the plain text. */
const xorCipher = (available = true): TokenCipher => ({
  available: () => available,
  encrypt: (plain) => new Uint8Array(Buffer.from(plain).map((b) => b ^ 0x5a)),
  decrypt: (data) => Buffer.from(data.map((b) => b ^ 0x5a)).toString(),
});

describe('ConnectionVault', () => {
  it('never writes a token in clear text and reads it back', () => {
    const storage = memoryStorage();
    const vault = new ConnectionVault(storage, xorCipher());
    vault.save({ id: 'hub', name: 'Hub', url: 'http://10.0.0.5:9410', token: 'very-secret-token-1' });
    expect(storage.text).not.toContain('very-secret-token-1');
    expect(JSON.parse(storage.text!).connections[0].token.encrypted).toMatch(/^[A-Za-z0-9+/=]+$/);
    const again = new ConnectionVault(storage, xorCipher());
    expect(again.state()).toEqual({ connections: [{ id: 'hub', name: 'Hub', url: 'http://10.0.0.5:9410', token: 'very-secret-token-1' }], tokensPersisted: true });
  });

  it('keeps tokens for the session only when no keychain is available', () => {
    const storage = memoryStorage();
    const vault = new ConnectionVault(storage, xorCipher(false));
    const state = vault.save({ id: 'hub', name: 'Hub', url: 'http://10.0.0.5:9410', token: 'very-secret-token-1' });
    expect(state.tokensPersisted).toBe(false);
    expect(state.connections[0].token).toBe('very-secret-token-1');
    expect(storage.text).not.toContain('very-secret-token-1');
    expect(JSON.parse(storage.text!).connections[0].token).toBeNull();
    expect(new ConnectionVault(storage, xorCipher(false)).state().connections[0].token).toBeNull();
  });

  it('updates, removes, and knows the origins it lets requests through to', () => {
    const vault = new ConnectionVault(memoryStorage(), xorCipher());
    vault.save({ id: 'a', name: 'A', url: 'http://127.0.0.1:9410', token: null });
    vault.save({ id: 'b', name: 'B', url: 'https://hub.example:9443', token: null });
    vault.save({ id: 'a', name: 'A2', url: 'http://127.0.0.1:9411', token: null });
    expect(vault.state().connections.map((c) => c.name)).toEqual(['A2', 'B']);
    expect([...vault.origins()].sort()).toEqual(['http://127.0.0.1:9411', 'https://hub.example:9443']);
    expect(vault.remove('b').connections.map((c) => c.id)).toEqual(['a']);
  });

  it('leaves an unreadable file alone instead of overwriting it', () => {
    const storage = memoryStorage('{ not json');
    const vault = new ConnectionVault(storage, xorCipher());
    expect(vault.loadProblem).toMatch(/could not be read/);
    vault.save({ id: 'a', name: 'A', url: 'http://127.0.0.1:9410', token: null });
    expect(storage.text).toBe('{ not json');
  });
});
