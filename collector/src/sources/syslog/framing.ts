/**
 * Syslog over a stream (TCP, TLS): RFC 6587 framing, detected per message.
 *
 *   octet counting:         MSG-LEN SP SYSLOG-MSG      e.g. `16 <13>1 - - - - - hi`
 *   non-transparent (LF):   SYSLOG-MSG LF               e.g. `<13>Mar  1 12:00:00 h app: hi\n`
 *
 * A frame that starts with a digit and reads `DIGITS SP` is octet-counted; anything else runs
 * to the next LF (a trailing CR is the parser's to drop). RFC 5425 (TLS) always uses octet
 * counting, which this covers. Messages longer than `maxMessageBytes` are truncated to that
 * length; the rest of the frame is skipped.
 */

export type FramingMode = 'auto' | 'octet_counting' | 'newline';

export class SyslogFramer {
  readonly #max: number;
  readonly #mode: FramingMode;
  #pending: Buffer | null = null;
  /** Bytes still to discard: the tail of an over-long octet-counted frame. */
  #skip = 0;
  /** Discarding up to the next LF: the tail of an over-long LF-framed message. */
  #skipLine = false;
  truncated = 0;
  /** Size of the last truncated message: its declared length (octet counting), or -1 when only "more than max" is known. */
  lastTruncatedSize = 0;

  constructor(options: { maxMessageBytes: number; mode?: FramingMode }) {
    this.#max = options.maxMessageBytes;
    this.#mode = options.mode ?? 'auto';
  }

  /** Feeds bytes; returns the complete messages they finish (slices of the input). */
  push(chunk: Buffer): Buffer[] {
    const b = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = null;
    const out: Buffer[] = [];
    let i = 0;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, b.length);
      this.#skip -= n;
      i = n;
    }
    if (this.#skipLine) {
      const nl = b.indexOf(0x0a, i);
      if (nl === -1) return out;
      this.#skipLine = false;
      i = nl + 1;
    }
    while (i < b.length) {
      const c = b[i];
      // Stray separators between frames.
      if (c === 0x0a || c === 0x0d || c === 0x00) {
        i++;
        continue;
      }
      if (this.#mode !== 'newline' && c >= 0x30 && c <= 0x39) {
        let j = i;
        let len = 0;
        while (j < b.length && j - i < 10 && b[j] >= 0x30 && b[j] <= 0x39) len = len * 10 + (b[j++] - 0x30);
        if (j >= b.length) break; // need more bytes to decide
        if (b[j] === 0x20 && j - i < 10) {
          const start = j + 1;
          const keep = Math.min(len, this.#max);
          if (start + keep > b.length) {
            if (len > this.#max && b.length - start >= this.#max) {
              // Over-long: emit the first max bytes, skip the rest as it arrives.
              out.push(b.subarray(start, start + keep));
              this.truncated++;
              this.lastTruncatedSize = len;
              this.#skip = len - keep - (b.length - start - keep);
              return out;
            }
            break; // incomplete frame
          }
          out.push(b.subarray(start, start + keep));
          if (len > keep) {
            this.truncated++;
            this.lastTruncatedSize = len;
          }
          const skipEnd = start + len;
          if (skipEnd > b.length) {
            this.#skip = skipEnd - b.length;
            return out;
          }
          i = skipEnd;
          continue;
        }
      }
      if (this.#mode === 'octet_counting') {
        // Not a length: resynchronise at the next LF.
        const nl = b.indexOf(0x0a, i);
        if (nl === -1) {
          this.#skipLine = true;
          return out;
        }
        i = nl + 1;
        continue;
      }
      const nl = b.indexOf(0x0a, i);
      if (nl === -1) {
        if (b.length - i > this.#max) {
          out.push(b.subarray(i, i + this.#max));
          this.truncated++;
          this.lastTruncatedSize = -1;
          this.#skipLine = true;
          return out;
        }
        break;
      }
      if (nl - i > this.#max) {
        out.push(b.subarray(i, i + this.#max));
        this.truncated++;
        this.lastTruncatedSize = nl - i;
      } else {
        out.push(b.subarray(i, nl));
      }
      i = nl + 1;
    }
    if (i < b.length) this.#pending = Buffer.from(b.subarray(i)); // a copy: don't pin the whole chunk
    return out;
  }

  /** Whether bytes of an unfinished message are buffered or being skipped. */
  get partial(): boolean {
    return this.#pending !== null || this.#skip > 0 || this.#skipLine;
  }

  /** At end of stream: a last LF-framed message without its LF. */
  end(): Buffer[] {
    const rest = this.#pending;
    this.#pending = null;
    if (!rest || rest.length === 0 || this.#skipLine) return [];
    // An unfinished octet-counted frame is incomplete: drop it rather than store half a message.
    if (this.#mode !== 'newline' && /^\d{1,10} /.test(rest.toString('latin1', 0, 11))) return [];
    return [rest.subarray(0, this.#max)];
  }
}
