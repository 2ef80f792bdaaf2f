import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, IPC_CHANNELS, type ConnectionsState, type SaveFileRequest, type SavedConnection } from '../bridge.ts';
import { ALLOWED_CHANNELS, dispatch, IpcRefused, parseConnection, parseSaveFile, safeFileName, type IpcHandlers } from './ipc.ts';

const app = { url: `${APP_ORIGIN}/index.html` };

function recordingHandlers() {
  const calls: [string, unknown][] = [];
  const state: ConnectionsState = { connections: [], tokensPersisted: true };
  const handlers: IpcHandlers = {
    listConnections: () => (calls.push(['list', null]), state),
    saveConnection: (c: SavedConnection) => (calls.push(['save', c]), state),
    removeConnection: (id: string) => (calls.push(['remove', id]), state),
    saveFile: async (r: SaveFileRequest) => (calls.push(['saveFile', r]), { saved: true, path: `/tmp/${r.defaultName}` }),
  };
  return { calls, handlers };
}

describe('IPC allow-list in main', () => {
  it('lists exactly the sluice:* channels of the bridge', () => {
    expect([...ALLOWED_CHANNELS].sort()).toEqual(Object.values(IPC_CHANNELS).sort());
    for (const c of ALLOWED_CHANNELS) expect(c.startsWith('sluice:')).toBe(true);
  });

  it('rejects unknown channels without calling anything', async () => {
    const { calls, handlers } = recordingHandlers();
    for (const channel of ['sluice:shell:exec', 'sluice:connections', 'connections:list', 'ELECTRON_BROWSER_REQUIRE', '', 42, null, 'sluice:connections:list ']) {
      await expect(dispatch(handlers, channel, app, [])).rejects.toBeInstanceOf(IpcRefused);
    }
    expect(calls).toEqual([]);
  });

  it('rejects messages from any page but the app', async () => {
    const { calls, handlers } = recordingHandlers();
    for (const url of ['https://evil.example/', 'http://127.0.0.1:9410/', 'file:///tmp/x.html', undefined]) {
      await expect(dispatch(handlers, IPC_CHANNELS.listConnections, { url }, [])).rejects.toThrow(/only the app's own page/);
    }
    expect(calls).toEqual([]);
  });

  it('dispatches allowed channels with checked payloads', async () => {
    const { calls, handlers } = recordingHandlers();
    await dispatch(handlers, IPC_CHANNELS.listConnections, app, []);
    await dispatch(handlers, IPC_CHANNELS.saveConnection, app, [{ id: 'edge-1', name: 'Edge', url: 'http://10.0.0.5:9410/', token: 'secret-token-123' }]);
    await dispatch(handlers, IPC_CHANNELS.removeConnection, app, ['edge-1']);
    const saved = await dispatch(handlers, IPC_CHANNELS.saveFile, app, [{ defaultName: '../../etc/passwd', content: 'x' }]);
    expect(calls).toEqual([
      ['list', null],
      ['save', { id: 'edge-1', name: 'Edge', url: 'http://10.0.0.5:9410', token: 'secret-token-123' }],
      ['remove', 'edge-1'],
      ['saveFile', { defaultName: 'passwd', content: 'x' }],
    ]);
    expect(saved).toEqual({ saved: true, path: '/tmp/passwd' });
  });

  it('rejects bad payloads with a message saying what is wrong', async () => {
    const { calls, handlers } = recordingHandlers();
    await expect(dispatch(handlers, IPC_CHANNELS.listConnections, app, ['extra'])).rejects.toThrow(/takes no arguments/);
    await expect(dispatch(handlers, IPC_CHANNELS.saveConnection, app, [{ id: 'x', name: 'n', url: 'file:///etc', token: null }])).rejects.toThrow(/http/);
    await expect(dispatch(handlers, IPC_CHANNELS.saveConnection, app, [{ id: 'x', name: 'n', url: 'http://u:p@h:1', token: null }])).rejects.toThrow(/credentials/);
    await expect(dispatch(handlers, IPC_CHANNELS.saveConnection, app, [{ id: '../x', name: 'n', url: 'http://h:1', token: null }])).rejects.toThrow(/id/);
    await expect(dispatch(handlers, IPC_CHANNELS.saveConnection, app, [{ id: 'x', name: 'n', url: 'http://h:1', token: null, admin: true }])).rejects.toThrow(/unknown field admin/);
    await expect(dispatch(handlers, IPC_CHANNELS.removeConnection, app, [{ id: 'x' }])).rejects.toThrow(/connection id/);
    await expect(dispatch(handlers, IPC_CHANNELS.saveFile, app, [{ defaultName: 'a.csv', content: 42 }])).rejects.toThrow(/content/);
    expect(calls).toEqual([]);
  });

  it('keeps only a file name from the renderer', () => {
    expect(safeFileName('orders-0-99.ndjson')).toBe('orders-0-99.ndjson');
    expect(safeFileName('/etc/passwd')).toBe('passwd');
    expect(safeFileName('..\\..\\win.ini')).toBe('win.ini');
    expect(safeFileName('...')).toBe('export.txt');
    expect(safeFileName('a<b>:c?.csv')).toBe('a_b__c_.csv');
    expect(parseSaveFile({ defaultName: 'x.csv', content: '', filters: [{ name: 'CSV', extensions: ['csv'] }] }).filters).toEqual([{ name: 'CSV', extensions: ['csv'] }]);
    expect(() => parseSaveFile({ defaultName: 'x', content: '', filters: [{ name: 'x', extensions: ['../sh'] }] })).toThrow(IpcRefused);
    expect(parseConnection({ id: 'a', name: 'A', url: 'https://hub.example:9410/some/path', token: null }).url).toBe('https://hub.example:9410');
  });
});
