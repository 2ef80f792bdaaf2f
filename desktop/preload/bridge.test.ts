import { describe, expect, it } from 'vitest';
import { IPC_CHANNELS } from '../bridge.ts';
import { createBridge, guardedInvoke, versionFromArgv, type Invoke } from './bridge.ts';

function fakeMain(answer: unknown = { connections: [], tokensPersisted: true }) {
  const sent: [string, unknown[]][] = [];
  const invoke: Invoke = async (channel, ...args) => {
    sent.push([channel, args]);
    return answer;
  };
  return { sent, invoke };
}

describe('preload bridge', () => {
  it('rejects a channel that is not allow-listed before anything is sent', async () => {
    const { sent, invoke } = fakeMain();
    const call = guardedInvoke(invoke);
    for (const channel of ['sluice:fs:read', 'sluice:connections:list:all', 'ipc:anything', '__proto__', 'sluice:']) {
      await expect(call(channel)).rejects.toThrow(/is not allowed/);
    }
    expect(sent).toEqual([]);
    await call(IPC_CHANNELS.listConnections);
    expect(sent).toEqual([[IPC_CHANNELS.listConnections, []]]);
  });

  it('exposes only its few typed functions, frozen', () => {
    const bridge = createBridge(fakeMain().invoke, '0.1.0');
    expect(Object.keys(bridge).sort()).toEqual(['kind', 'listConnections', 'removeConnection', 'saveConnection', 'saveFile', 'version']);
    expect(Object.isFrozen(bridge)).toBe(true);
    expect(bridge.kind).toBe('electron');
    expect('invoke' in bridge).toBe(false);
  });

  it('sends each call on its own sluice:* channel with plain data only', async () => {
    const { sent, invoke } = fakeMain();
    const bridge = createBridge(invoke, '0.1.0');
    await bridge.listConnections();
    const withExtra = Object.assign({ id: 'a', name: 'A', url: 'http://h:1', token: null }, { evil: () => 1 });
    await bridge.saveConnection(withExtra);
    await bridge.removeConnection('a');
    expect(sent).toEqual([
      [IPC_CHANNELS.listConnections, []],
      [IPC_CHANNELS.saveConnection, [{ id: 'a', name: 'A', url: 'http://h:1', token: null }]],
      [IPC_CHANNELS.removeConnection, ['a']],
    ]);
  });

  it('refuses answers of the wrong shape', async () => {
    await expect(createBridge(fakeMain({ connections: 'nope' }).invoke, 'x').listConnections()).rejects.toThrow(/not a list of connections/);
    await expect(createBridge(fakeMain({ saved: 'yes' }).invoke, 'x').saveFile({ defaultName: 'a', content: '' })).rejects.toThrow(/unexpected/);
    expect(await createBridge(fakeMain({ saved: true, path: '/tmp/a' }).invoke, 'x').saveFile({ defaultName: 'a', content: '' })).toEqual({ saved: true, path: '/tmp/a' });
  });

  it('reads the version main passes', () => {
    expect(versionFromArgv(['electron', '--sluice-version=1.2.3'])).toBe('1.2.3');
    expect(versionFromArgv([])).toBe('unknown');
  });
});
