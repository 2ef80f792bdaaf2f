/**
 * Byte-level checks on JSON text that run before (or instead of) parsing it: how deep it nests,
 * and where its UTF-8 first goes wrong. Both are linear, allocate nothing, and never recurse, so
 * they are safe on hostile input of any depth (JSON.parse is iterative in V8, but everything that
 * walks its result — JSON.stringify, error locators, renderers — recurses).
 *
 * Structural characters are ASCII, so scanning UTF-8 bytes is exact; string contents are skipped.
 */

/** Depth limit for JSON bodies when nothing else is configured (serde_json's, as Vector uses). */
export const DEFAULT_JSON_MAX_DEPTH = 128;

/**
 * The byte offset of the first `{` or `[` that opens level `limit + 1`, or -1 when `bytes[start,
 * end)` never nests deeper than `limit`. Brackets inside strings do not count; unbalanced input
 * is measured as written (the caller parses it afterwards and reports syntax errors).
 */
export function jsonTooDeepAt(bytes: Uint8Array, limit: number, start = 0, end = bytes.length): number {
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c === 0x22) {
      // Skip the string: jump quote to quote (indexOf is memchr-fast) until one is not escaped.
      for (;;) {
        const q = bytes.indexOf(0x22, i + 1);
        if (q === -1 || q >= end) return -1;
        let backslashes = 0;
        while (bytes[q - 1 - backslashes] === 0x5c) backslashes++;
        i = q;
        if ((backslashes & 1) === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return i;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return -1;
}

/** The same check on a string (char codes; structural characters are the same). */
export function jsonTextTooDeepAt(text: string, limit: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return i;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return -1;
}

/**
 * The offset of the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF, no truncated sequence), or -1 when all of
 * `bytes` is valid. Meant for the error path, after a fast validity check said no.
 */
export function invalidUtf8At(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (i + k >= n || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}
