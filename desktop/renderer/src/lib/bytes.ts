/** Body bytes as the detail pane shows them: base64 in, text / hex dump / msgpack out. */
import { unpack } from 'msgpackr/unpack';

export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** UTF-8 text, with invalid sequences shown as U+FFFD, and whether the bytes were valid UTF-8. */
export function toText(bytes: Uint8Array): { text: string; valid: boolean } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), valid: true };
  } catch {
    return { text: new TextDecoder('utf-8').decode(bytes), valid: false };
  }
}

/** Classic hex dump: offset, 16 bytes in hex, printable ASCII. */
export function hexDump(bytes: Uint8Array, maxBytes = 64 * 1024): { lines: string[]; truncated: boolean } {
  const n = Math.min(bytes.length, maxBytes);
  const lines: string[] = [];
  for (let i = 0; i < n; i += 16) {
    let hex = '';
    let ascii = '';
    for (let j = 0; j < 16; j++) {
      if (i + j < n) {
        const b = bytes[i + j];
        hex += b.toString(16).padStart(2, '0') + (j === 7 ? '  ' : ' ');
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      } else {
        hex += j === 7 ? '    ' : '   ';
      }
    }
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex} |${ascii}|`);
  }
  return { lines, truncated: bytes.length > maxBytes };
}

/** Decodes msgpack bytes into a JSON-friendly value (binary as base64 strings, Maps as objects). */
export function decodeMsgpack(bytes: Uint8Array): { value: unknown } | { error: string } {
  try {
    return { value: toJsonFriendly(unpack(bytes)) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

function toJsonFriendly(value: unknown): unknown {
  if (value instanceof Uint8Array) return `base64:${toBase64(value)}`;
  if (value instanceof Map) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), toJsonFriendly(v)]));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toJsonFriendly);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonFriendly(v)]));
  return value;
}

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** A one-line preview of a decoded body for the table. */
export function preview(body: unknown, max = 240): string {
  let text: string;
  if (body === null || body === undefined) return '';
  if (typeof body === 'string') text = body;
  else {
    try {
      text = JSON.stringify(body);
    } catch {
      text = String(body);
    }
  }
  text = text.replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
