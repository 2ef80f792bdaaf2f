/**
 * Bytes read from a file position → event bodies and how far they reach. Pure: the tail source
 * calls it on what it read from its committed position, and commits `consumed` with the events,
 * so a line is either in a committed event or still ahead of the committed position.
 *
 * - A line ends at LF; a CR before it is dropped. Empty lines make no event (single-line mode).
 * - Multi-line (`start` regex): an event is a line matching `start` and the lines after it up to
 *   the next match; lines before the first match form an event of their own. The event being
 *   built stays uncommitted until the next `start` line, or until `flush`.
 * - A line (or multi-line event) longer than `maxBytes` is cut to `maxBytes`; the rest of the
 *   line is skipped (`discarding` carries over to the next read, and is committed with the position).
 * - `flush` says what may be emitted although more data could still complete it.
 */

export interface SplitOptions {
  start: RegExp | null;
  maxBytes: number;
  /** The previous read ended inside an over-long line: skip to the next LF first. */
  discarding: boolean;
  /**
   * `none`: keep the event being built and a partial last line for later; `events`: emit the
   * event being built (multi-line timeout), keep a partial line; `all`: the data will not grow
   * (a rotated file is finished): emit everything, the partial last line too.
   */
  flush: 'none' | 'events' | 'all';
}

export interface SplitResult {
  bodies: Buffer[];
  /** Bytes of the input covered by `bodies` (or skipped): the next read starts here. */
  consumed: number;
  discarding: boolean;
  truncated: number;
}

export function splitEvents(buf: Buffer, options: SplitOptions): SplitResult {
  const { start, maxBytes, flush } = options;
  const bodies: Buffer[] = [];
  const len = buf.length;
  let truncated = 0;
  let pos = 0;
  let consumed = 0;

  if (options.discarding) {
    const nl = buf.indexOf(0x0a);
    if (nl === -1) return { bodies, consumed: len, discarding: true, truncated };
    pos = consumed = nl + 1;
  }

  if (!start) {
    while (pos < len) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl === -1) break;
      const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      if (end - pos > maxBytes) {
        bodies.push(buf.subarray(pos, pos + maxBytes));
        truncated++;
      } else if (end > pos) {
        bodies.push(buf.subarray(pos, end));
      }
      pos = consumed = nl + 1;
    }
    const rest = len - pos;
    if (rest > maxBytes) {
      bodies.push(buf.subarray(pos, pos + maxBytes));
      truncated++;
      return { bodies, consumed: len, discarding: true, truncated };
    }
    if (flush === 'all' && rest > 0) {
      const end = buf[len - 1] === 0x0d ? len - 1 : len;
      if (end > pos) bodies.push(buf.subarray(pos, end));
      consumed = len;
    }
    return { bodies, consumed, discarding: false, truncated };
  }

  // Multi-line: [groupStart, groupEnd) is the event being built (groupEnd excludes the last LF).
  let groupStart = -1;
  let groupEnd = -1;
  const emit = () => {
    if (groupStart === -1) return;
    if (groupEnd - groupStart > maxBytes) {
      bodies.push(buf.subarray(groupStart, groupStart + maxBytes));
      truncated++;
    } else if (groupEnd > groupStart) {
      bodies.push(buf.subarray(groupStart, groupEnd));
    }
    groupStart = groupEnd = -1;
  };
  while (pos < len) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl === -1) break;
    const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
    if (groupStart !== -1 && start.test(buf.toString('utf8', pos, end))) {
      emit();
      consumed = pos;
    }
    if (groupStart === -1) groupStart = pos;
    groupEnd = end;
    pos = nl + 1;
    if (groupEnd - groupStart > maxBytes) {
      // Over-long event: cut it here; its further lines form their own events.
      emit();
      consumed = pos;
    }
  }
  if (groupStart === -1 && pos > consumed) consumed = pos; // only blank or skipped bytes since
  if (flush === 'all') {
    if (pos < len) {
      const end = buf[len - 1] === 0x0d ? len - 1 : len;
      if (groupStart !== -1 && start.test(buf.toString('utf8', pos, end))) emit();
      if (groupStart === -1) groupStart = pos;
      groupEnd = end;
    }
    emit();
    return { bodies, consumed: len, discarding: false, truncated };
  }
  if (flush === 'events' && groupStart !== -1) {
    emit();
    consumed = pos;
  }
  const held = groupStart !== -1 ? groupStart : pos;
  if (len - held > maxBytes) {
    // The event being built (with the partial line) is already too long: cut it now.
    groupStart = held;
    groupEnd = held + maxBytes;
    emit();
    // The partial last line continues in the file: skip the rest of it.
    return { bodies, consumed: len, discarding: pos < len, truncated };
  }
  return { bodies, consumed, discarding: false, truncated };
}
