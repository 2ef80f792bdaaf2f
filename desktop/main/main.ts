/**
 * The Electron main process: one window showing the renderer from sluice://app/, with the
 * settings of security.ts, navigation and new windows locked down, permissions denied, and the
 * IPC bridge of ipc.ts (saved connections with keychain-encrypted tokens, the native save dialog).
 *
 * Built by desktop/launch.js into desktop/dist/main.cjs (CommonJS, electron external).
 */
import { app, BrowserWindow, dialog, ipcMain, net, protocol, safeStorage, session, shell } from 'electron';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ALLOWED_CHANNELS, APP_ORIGIN, APP_SCHEME, type SaveFileRequest, type SaveFileResult } from '../bridge.ts';
import { ConnectionVault, type TokenCipher } from './connections.ts';
import { dispatch, type IpcHandlers } from './ipc.ts';
import { mimeOf, resolveAppFile } from './protocol.ts';
import { APP_CSP, checkWebPreferences, navigationAllowed, patchRequestHeaders, patchResponseHeaders, permissionAllowed, windowOpenDecision, windowOptions } from './security.ts';

// Bundled to desktop/dist/main.cjs: the renderer build and the preload sit next to it.
const here = __dirname;
const RENDERER = resolve(here, '../renderer/dist');
const PRELOAD = join(here, 'preload.cjs');

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

app.enableSandbox();

function cipher(): TokenCipher {
  return {
    // Linux without a keyring falls back to 'basic_text': a fixed key, i.e. no protection.
    available: () => safeStorage.isEncryptionAvailable() && (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text'),
    encrypt: (plain) => safeStorage.encryptString(plain),
    decrypt: (data) => safeStorage.decryptString(Buffer.from(data)),
  };
}

function vaultStorage(file: string) {
  return {
    read: () => (existsSync(file) ? readFileSync(file, 'utf8') : null),
    write: (text: string) => {
      mkdirSync(resolve(file, '..'), { recursive: true });
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, file);
    },
  };
}

async function saveFile(window: BrowserWindow | null, request: SaveFileRequest): Promise<SaveFileResult> {
  const options = { defaultPath: join(app.getPath('downloads'), request.defaultName), filters: request.filters ?? [] };
  const result = window ? await dialog.showSaveDialog(window, options) : await dialog.showSaveDialog(options);
  if (result.canceled || !result.filePath) return { saved: false };
  writeFileSync(result.filePath, request.content);
  return { saved: true, path: result.filePath };
}

function createWindow(): BrowserWindow {
  const options = windowOptions(PRELOAD, [`--sluice-version=${app.getVersion()}`]);
  const problems = checkWebPreferences(options.webPreferences);
  if (problems.length > 0) throw new Error(`refusing to open a window with weakened security: ${problems.join('; ')}`);
  const win = new BrowserWindow(options);
  const contents = win.webContents;

  contents.on('will-navigate', (event, url) => {
    if (!navigationAllowed(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!navigationAllowed(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const decision = windowOpenDecision(url);
    if (decision.openExternally) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

app.whenReady().then(() => {
  const vault = new ConnectionVault(vaultStorage(join(app.getPath('userData'), 'connections.json')), cipher());
  if (vault.loadProblem) console.error(`sluice desktop: ${vault.loadProblem}`);

  // The renderer build, with its CSP, from sluice://app/.
  protocol.handle(APP_SCHEME, async (request) => {
    const file = resolveAppFile(RENDERER, request.url);
    if (file === null) return new Response('refused', { status: 400 });
    const target = existsSync(file) && statSync(file).isFile() ? file : join(RENDERER, 'index.html');
    if (!existsSync(target)) return new Response(`The renderer is not built (${RENDERER}): run npm run desktop, which builds it.`, { status: 503 });
    const response = await net.fetch(pathToFileURL(target).toString());
    return new Response(response.body, { status: 200, headers: { 'content-type': mimeOf(target), 'content-security-policy': APP_CSP, 'x-content-type-options': 'nosniff' } });
  });

  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((contents, permission, callback) => callback(permissionAllowed(permission, contents.getURL())));
  ses.setPermissionCheckHandler((_contents, permission, requestingOrigin) => permissionAllowed(permission, `${requestingOrigin}/`));
  const filter = { urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*'] };
  ses.webRequest.onBeforeSendHeaders(filter, (details, callback) => callback({ requestHeaders: patchRequestHeaders(details, vault.origins()) }));
  ses.webRequest.onHeadersReceived(filter, (details, callback) => callback(patchResponseHeaders(details, vault.origins())));

  let window: BrowserWindow | null = null;
  const handlers: IpcHandlers = {
    listConnections: () => vault.state(),
    saveConnection: (c) => vault.save(c),
    removeConnection: (id) => vault.remove(id),
    saveFile: (request) => saveFile(window, request),
  };
  for (const channel of ALLOWED_CHANNELS) {
    ipcMain.handle(channel, (event, ...args: unknown[]) => dispatch(handlers, channel, { url: event.senderFrame?.url }, args));
  }

  window = createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) window = createWindow();
  });
});

// No other app may open windows or web contents of ours.
app.on('web-contents-created', (_event, contents) => {
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
