/**
 * The forward protocol's optional shared-key handshake, as pure functions over the frames:
 *
 *   server → HELO {nonce, auth, keepalive}
 *   client → PING hostname, salt, sha512_hex(salt + client_hostname + nonce + shared_key),
 *                 username, sha512_hex(auth + username + password)   (both "" when auth is empty)
 *   server → PONG ok, reason, server_hostname, sha512_hex(salt + server_hostname + nonce + shared_key)
 *
 * Digests are over bytes: nonce, salt and auth are binary (Fluent Bit sends 16 random bytes as a
 * msgpack str), hostnames, keys, usernames and passwords are UTF-8. SHA-512 is injected so shared/
 * needs no `node:crypto`; nonces and salts come from the caller (crypto randomness).
 *
 * Every element of our PING is a msgpack str (encodePing), the salt included: Fluent Bit's
 * in_forward refuses a bin salt. Our salt is 16 printable ASCII bytes (createSalt): 16 bytes
 * because older Fluent Bit servers hash exactly 16 bytes of it, ASCII so every decoder (fluentd's
 * msgpack-ruby, JavaScript ones) reads the str intact. As a server we accept str or bin for
 * nonce-like fields and hash whatever bytes arrived.
 */
import { utf8 } from '../../event.ts';
import type { HeloFrame, PingFrame, PongFrame, Sha512Hex } from './types.ts';

function digest(sha512Hex: Sha512Hex, parts: readonly (Uint8Array | string)[]): string {
  const bytes = parts.map((part) => (typeof part === 'string' ? utf8(part) : part));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let pos = 0;
  for (const b of bytes) {
    out.set(b, pos);
    pos += b.length;
  }
  return sha512Hex(out).toLowerCase();
}

/** sha512_hex(salt + hostname + nonce + shared_key): PING carries the client's, PONG the server's hostname. */
export function sharedKeyDigest(sha512Hex: Sha512Hex, salt: Uint8Array, hostname: string, nonce: Uint8Array, sharedKey: string): string {
  return digest(sha512Hex, [salt, hostname, nonce, sharedKey]);
}

/** sha512_hex(auth_salt + username + password). */
export function passwordDigest(sha512Hex: Sha512Hex, authSalt: Uint8Array, username: string, password: string): string {
  return digest(sha512Hex, [authSalt, username, password]);
}

/** Compares hex digests without an early exit, so timing does not reveal how much matched. */
export function digestsEqual(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x.charCodeAt(i) | 0) ^ (y.charCodeAt(i) | 0);
  return diff === 0;
}

const SALT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A PING salt from 16 random bytes: 16 characters of the base64url alphabet (96 bits), as ASCII bytes. */
export function createSalt(random: Uint8Array): Uint8Array {
  if (random.length < 16) throw new RangeError('createSalt needs 16 random bytes');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = SALT_ALPHABET.charCodeAt(random[i] & 63);
  return out;
}

export interface ClientCredentials {
  /** Our hostname as the server will see it (PING client_hostname). */
  hostname: string;
  sharedKey: string;
  /** A fresh salt for this connection (createSalt). */
  salt: Uint8Array;
  username?: string;
  password?: string;
}

/** The client's answer to a HELO. Username and password are sent only when the server asked (non-empty auth). */
export function createPing(helo: HeloFrame, credentials: ClientCredentials, sha512Hex: Sha512Hex): PingFrame {
  const wantsUser = helo.auth.length > 0;
  const username = wantsUser ? (credentials.username ?? '') : '';
  return {
    kind: 'ping',
    clientHostname: credentials.hostname,
    sharedKeySalt: credentials.salt,
    sharedKeyHexdigest: sharedKeyDigest(sha512Hex, credentials.salt, credentials.hostname, helo.nonce, credentials.sharedKey),
    username,
    passwordHexdigest: wantsUser ? passwordDigest(sha512Hex, helo.auth, username, credentials.password ?? '') : '',
  };
}

export interface ServerSecret {
  /** Our hostname (PONG server_hostname). */
  hostname: string;
  sharedKey: string;
  /** The HELO we sent on this connection. */
  helo: HeloFrame;
  /** When HELO asked for users (non-empty auth): the password of a username, undefined if unknown. */
  passwordOf?: (username: string) => string | undefined;
}

export type HandshakeResult = { ok: true } | { ok: false; reason: string };

/** Checks a PING against the HELO we sent. The reason is safe to send back in the PONG. */
export function checkPing(ping: PingFrame, secret: ServerSecret, sha512Hex: Sha512Hex): HandshakeResult {
  if (ping.clientHostname === secret.hostname) {
    // fluentd refuses this too: it is almost always a client pointed at itself
    return { ok: false, reason: 'same hostname between input and output: invalid configuration' };
  }
  const expected = sharedKeyDigest(sha512Hex, ping.sharedKeySalt, ping.clientHostname, secret.helo.nonce, secret.sharedKey);
  if (!digestsEqual(expected, ping.sharedKeyHexdigest)) return { ok: false, reason: 'shared_key mismatch' };
  if (secret.helo.auth.length > 0) {
    const password = secret.passwordOf?.(ping.username);
    const ok = password !== undefined && digestsEqual(passwordDigest(sha512Hex, secret.helo.auth, ping.username, password), ping.passwordHexdigest);
    if (!ok) return { ok: false, reason: 'username/password mismatch' };
  }
  return { ok: true };
}

/** The server's PONG for a PING it has checked. */
export function createPong(ping: PingFrame, secret: ServerSecret, result: HandshakeResult, sha512Hex: Sha512Hex): PongFrame {
  return {
    kind: 'pong',
    authResult: result.ok,
    reason: result.ok ? '' : result.reason,
    serverHostname: secret.hostname,
    sharedKeyHexdigest: result.ok ? sharedKeyDigest(sha512Hex, ping.sharedKeySalt, secret.hostname, secret.helo.nonce, secret.sharedKey) : '',
  };
}

/** Checks the server's PONG: it accepted us, and it knows the shared key too. */
export function checkPong(pong: PongFrame, ping: PingFrame, helo: HeloFrame, sharedKey: string, sha512Hex: Sha512Hex): HandshakeResult {
  if (!pong.authResult) return { ok: false, reason: `server refused the handshake: ${pong.reason || 'no reason given'}` };
  if (pong.serverHostname === ping.clientHostname) {
    return { ok: false, reason: `server hostname equals ours (${pong.serverHostname}): is the client connected to itself?` };
  }
  const expected = sharedKeyDigest(sha512Hex, ping.sharedKeySalt, pong.serverHostname, helo.nonce, sharedKey);
  if (!digestsEqual(expected, pong.sharedKeyHexdigest)) return { ok: false, reason: 'server shared_key digest mismatch: the server does not know our shared key' };
  return { ok: true };
}
