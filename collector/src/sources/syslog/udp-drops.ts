/**
 * What the kernel knows about a UDP socket that Node does not tell: how many datagrams it dropped
 * because the socket's receive buffer was full (the `drops` column of /proc/net/udp and
 * /proc/net/udp6, per socket, since it was created), and the receive-buffer ceiling
 * (net.core.rmem_max). Linux only; elsewhere both are unknown (null).
 *
 *   /proc/net/udp:  sl local_address rem_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode ref pointer drops
 *                   e.g. `1: 0100007F:157A 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 88698 2 0000000000000000 1234`
 *
 * local_address is the address as the kernel stores it, printed as 32-bit words in host order
 * (127.0.0.1 reads 0100007F on little-endian machines), then the port in hex.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';

export type ReadText = (file: string) => string;

const readText: ReadText = (file) => readFileSync(file, 'latin1');

/** 127.0.0.1 → 0100007F (little-endian host order, as /proc prints it). */
function ipv4Hex(host: string): string {
  return host
    .split('.')
    .map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/** ::1 → 00000000000000000000000001000000 (four 32-bit words, each in little-endian host order). */
function ipv6Hex(host: string): string | null {
  const [head, tail] = host.includes('::') ? host.split('::') : [host, null];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === null ? [] : groups(tail);
  const words = tail === null ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (words.length !== 8 || words.some((w) => !/^[0-9a-fA-F]{1,4}$/.test(w))) return null; // e.g. an IPv4-mapped tail: match by port
  const bytes = words.flatMap((w) => {
    const n = parseInt(w, 16);
    return [n >> 8, n & 0xff];
  });
  let out = '';
  for (let i = 0; i < 16; i += 4) for (let j = 3; j >= 0; j--) out += bytes[i + j].toString(16).padStart(2, '0').toUpperCase();
  return out;
}

/**
 * Kernel drops of the UDP socket bound to host:port, or null when unknown (not Linux, or no such
 * socket). With several sockets on the port, the one on exactly `host` counts.
 */
export function udpKernelDrops(host: string, port: number, read: ReadText = readText): number | null {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const hex = isIPv4(host) ? ipv4Hex(host) : isIPv6(host) ? ipv6Hex(host) : null;
  const want = hex === null ? null : `${hex}:${portHex}`;
  let fallback: number | null = null;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = read(file);
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const cols = lines[i].trim().split(/\s+/);
      if (cols.length < 13) continue;
      const local = cols[1];
      if (!local.endsWith(`:${portHex}`)) continue;
      const drops = Number(cols[cols.length - 1]);
      if (!Number.isFinite(drops)) continue;
      if (want !== null && local === want) return drops;
      fallback ??= drops;
    }
  }
  return fallback;
}

/** net.core.rmem_max, the most SO_RCVBUF an unprivileged process gets; null when unknown. */
export function rmemMax(read: ReadText = readText): number | null {
  try {
    const n = Number(read('/proc/sys/net/core/rmem_max').trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
