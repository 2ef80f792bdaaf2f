import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rmemMax, udpKernelDrops } from './udp-drops.ts';

const PROC_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  101: 00000000:157A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1111 2 0000000000000000 5
  102: 0100007F:157A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2222 2 0000000000000000 1234
  103: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3333 2 0000000000000000 9
`;

describe('udpKernelDrops', () => {
  const read = (file: string) => {
    if (file === '/proc/net/udp') return PROC_UDP;
    throw new Error('ENOENT');
  };

  it('reads the drops column of the socket bound to exactly host:port', () => {
    expect(udpKernelDrops('127.0.0.1', 5498, read)).toBe(1234);
    expect(udpKernelDrops('0.0.0.0', 5498, read)).toBe(5);
    expect(udpKernelDrops('127.0.0.1', 53, read)).toBe(9);
  });

  it('matches IPv6 sockets by their address words in /proc/net/udp6', () => {
    const udp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   7: 00000000000000000000000000000000:157A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 3
   8: 00000000000000000000000001000000:157A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2 2 0000000000000000 77
   9: B80D0120000000000000000001000000:157A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 0000000000000000 12
`;
    const read6 = (file: string) => {
      if (file === '/proc/net/udp6') return udp6;
      throw new Error('ENOENT');
    };
    expect(udpKernelDrops('::1', 5498, read6)).toBe(77);
    expect(udpKernelDrops('::', 5498, read6)).toBe(3);
    expect(udpKernelDrops('2001:db8::1', 5498, read6)).toBe(12);
  });

  it('is null when the socket or /proc is not there', () => {
    expect(udpKernelDrops('127.0.0.1', 9999, read)).toBeNull();
    expect(udpKernelDrops('127.0.0.1', 5498, () => { throw new Error('ENOENT'); })).toBeNull();
    expect(rmemMax(() => { throw new Error('ENOENT'); })).toBeNull();
  });

  it.runIf(existsSync('/proc/net/udp'))('finds a real socket of this process', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      expect(udpKernelDrops('127.0.0.1', socket.address().port)).toBe(0);
    } finally {
      socket.close();
    }
  });

  it.runIf(existsSync('/proc/net/udp6'))('finds a real IPv6 socket of this process', async () => {
    const socket = createSocket('udp6');
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(0, '::1', () => resolve(true));
    });
    if (!bound) return; // no IPv6 loopback here
    try {
      expect(udpKernelDrops('::1', socket.address().port)).toBe(0);
    } finally {
      socket.close();
    }
  });
});
