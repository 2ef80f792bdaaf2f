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
});
