/**
 * The shell's security settings, as pure functions so they are unit-tested without Electron
 * (security.test.ts): the window's webPreferences, what the window may navigate to or open, which
 * permissions a page gets, the CSP of the app's own pages, and how requests from the app to the
 * collectors the user saved are let through the collectors' origin checks.
 *
 * The renderer is loaded from `sluice://app/` (a privileged standard scheme served from the
 * renderer build). It talks to collectors over HTTP and WebSockets only, exactly as in a browser.
 */
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';
import { APP_ORIGIN, APP_SCHEME } from '../bridge.ts';
import { UI_CSP } from '../../shared/src/csp.ts';

/** The settings DESIGN §7 requires; checkWebPreferences refuses anything weaker. */
export function secureWebPreferences(preload: string, extraArgs: string[] = []): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
    additionalArguments: extraArgs,
  };
}

export function windowOptions(preload: string, extraArgs: string[] = []): BrowserWindowConstructorOptions {
  return {
    width: 1360,
    height: 880,
    minWidth: 900,
    minHeight: 560,
    title: 'Sluice',
    show: false,
    autoHideMenuBar: true,
    webPreferences: secureWebPreferences(preload, extraArgs),
  };
}

/** Every way a webPreferences object is weaker than secureWebPreferences; [] when it is not. */
export function checkWebPreferences(prefs: WebPreferences | undefined): string[] {
  const problems: string[] = [];
  if (!prefs) return ['webPreferences missing'];
  if (prefs.contextIsolation !== true) problems.push('contextIsolation must be true');
  if (prefs.sandbox !== true) problems.push('sandbox must be true');
  if (prefs.nodeIntegration !== false) problems.push('nodeIntegration must be false');
  if (prefs.nodeIntegrationInWorker === true) problems.push('nodeIntegrationInWorker must be false');
  if (prefs.nodeIntegrationInSubFrames === true) problems.push('nodeIntegrationInSubFrames must be false');
  if (prefs.webSecurity === false) problems.push('webSecurity must stay on');
  if (prefs.allowRunningInsecureContent === true) problems.push('allowRunningInsecureContent must be false');
  if (prefs.webviewTag === true) problems.push('webviewTag must be false');
  if (prefs.experimentalFeatures === true) problems.push('experimentalFeatures must be false');
  if (!prefs.preload) problems.push('a preload script is required');
  return problems;
}

export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === 'app';
  } catch {
    return false;
  }
}

/** The window only ever shows the app itself; everything else is refused. */
export function navigationAllowed(url: string): boolean {
  return isAppUrl(url);
}

/**
 * window.open and target=_blank never open an Electron window. Plain http(s) links (docs, a
 * collector's web UI) may go to the system browser; anything else (file:, javascript:, custom
 * schemes) is refused.
 */
export function windowOpenDecision(url: string): { action: 'deny'; openExternally: boolean } {
  let external = false;
  try {
    const u = new URL(url);
    external = (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
  } catch {
    external = false;
  }
  return { action: 'deny', openExternally: external };
}

/** Permissions a page may get: writing to the clipboard (Copy as JSON). Nothing else. */
const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

export function permissionAllowed(permission: string, requestingUrl: string): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && isAppUrl(requestingUrl);
}

/** The CSP of the app's pages (sent as a header by the sluice: protocol handler). */
/** The same policy the collector serves the UI with. */
export const APP_CSP = UI_CSP;

/** `http://h:p` for http(s) and ws(s) URLs alike (a WebSocket goes to the same collector). */
export function targetOrigin(url: string): string | null {
  try {
    const u = new URL(url);
    const scheme = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
    if (scheme !== 'http:' && scheme !== 'https:') return null;
    return `${scheme}//${u.host}`;
  } catch {
    return null;
  }
}

/**
 * Collectors check the Origin of browser requests (only their own UI and admin.cors_origins may
 * call them). The app's origin, sluice://app, is no web page: for requests it makes to a
 * collector the user saved, the shell drops the Origin header (as for the CLI), and answers the
 * browser's CORS check for the app. Requests to anything else are left untouched.
 */
export function patchRequestHeaders(
  details: { url: string; initiatorOrigin?: string; requestHeaders: Record<string, string> },
  trusted: ReadonlySet<string>,
): Record<string, string> {
  const origin = targetOrigin(details.url);
  if (details.initiatorOrigin !== APP_ORIGIN || origin === null || !trusted.has(origin)) return details.requestHeaders;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(details.requestHeaders)) if (k.toLowerCase() !== 'origin') headers[k] = v;
  return headers;
}

export function patchResponseHeaders(
  details: { url: string; method: string; initiatorOrigin?: string; statusCode: number; responseHeaders?: Record<string, string[]> },
  trusted: ReadonlySet<string>,
): { responseHeaders?: Record<string, string[]>; statusLine?: string } {
  const origin = targetOrigin(details.url);
  if (details.initiatorOrigin !== APP_ORIGIN || origin === null || !trusted.has(origin)) return {};
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(details.responseHeaders ?? {})) {
    if (!k.toLowerCase().startsWith('access-control-')) headers[k] = v;
  }
  headers['Access-Control-Allow-Origin'] = [APP_ORIGIN];
  headers['Access-Control-Allow-Headers'] = ['authorization, content-type, accept'];
  headers['Access-Control-Allow-Methods'] = ['GET, POST, PUT, DELETE, OPTIONS'];
  headers['Access-Control-Max-Age'] = ['600'];
  headers['Vary'] = ['Origin'];
  // A preflight the collector did not recognise (no Origin any more) still succeeds: the real
  // request carries the token and is checked by the collector as usual.
  if (details.method === 'OPTIONS') return { responseHeaders: headers, statusLine: 'HTTP/1.1 204 No Content' };
  return { responseHeaders: headers };
}
