import { describe, expect, it } from 'vitest';
import { APP_ORIGIN } from '../bridge.ts';
import {
  APP_CSP,
  checkWebPreferences,
  navigationAllowed,
  patchRequestHeaders,
  patchResponseHeaders,
  permissionAllowed,
  secureWebPreferences,
  targetOrigin,
  windowOpenDecision,
  windowOptions,
} from './security.ts';

describe('window security settings', () => {
  it('uses context isolation, the sandbox, no Node integration, web security on', () => {
    const prefs = windowOptions('/app/preload.cjs').webPreferences!;
    expect(prefs.contextIsolation).toBe(true);
    expect(prefs.sandbox).toBe(true);
    expect(prefs.nodeIntegration).toBe(false);
    expect(prefs.nodeIntegrationInWorker).toBe(false);
    expect(prefs.nodeIntegrationInSubFrames).toBe(false);
    expect(prefs.webSecurity).toBe(true);
    expect(prefs.allowRunningInsecureContent).toBe(false);
    expect(prefs.webviewTag).toBe(false);
    expect(prefs.preload).toBe('/app/preload.cjs');
    expect(checkWebPreferences(prefs)).toEqual([]);
  });

  it('refuses any weakened setting', () => {
    const base = secureWebPreferences('/p.cjs');
    expect(checkWebPreferences({ ...base, contextIsolation: false })).toEqual(['contextIsolation must be true']);
    expect(checkWebPreferences({ ...base, sandbox: false })).toEqual(['sandbox must be true']);
    expect(checkWebPreferences({ ...base, nodeIntegration: true })).toEqual(['nodeIntegration must be false']);
    expect(checkWebPreferences({ ...base, webSecurity: false })).toEqual(['webSecurity must stay on']);
    expect(checkWebPreferences({ ...base, webviewTag: true })).toEqual(['webviewTag must be false']);
    expect(checkWebPreferences({ ...base, preload: undefined })).toEqual(['a preload script is required']);
    // Leaving a setting out is weaker too: Electron's defaults are not what we rely on.
    const { sandbox: _s, ...noSandbox } = base;
    expect(checkWebPreferences(noSandbox)).toEqual(['sandbox must be true']);
    expect(checkWebPreferences(undefined)).toEqual(['webPreferences missing']);
  });

  it('lets the window navigate only within the app', () => {
    expect(navigationAllowed(`${APP_ORIGIN}/index.html`)).toBe(true);
    expect(navigationAllowed(`${APP_ORIGIN}/index.html#/messages/orders`)).toBe(true);
    for (const url of ['https://example.com/', 'http://127.0.0.1:9410/', 'file:///etc/passwd', 'sluice://evil/index.html', 'javascript:alert(1)', 'data:text/html,hi', 'not a url']) {
      expect(navigationAllowed(url), url).toBe(false);
    }
  });

  it('never opens Electron windows; http(s) links go to the system browser, nothing else does', () => {
    expect(windowOpenDecision('https://github.com/')).toEqual({ action: 'deny', openExternally: true });
    expect(windowOpenDecision('http://127.0.0.1:9410/')).toEqual({ action: 'deny', openExternally: true });
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'sluice://app/index.html', 'smb://host/share', 'https://user:pw@example.com/', '']) {
      expect(windowOpenDecision(url), url).toEqual({ action: 'deny', openExternally: false });
    }
  });

  it('grants only clipboard writes, and only to the app', () => {
    expect(permissionAllowed('clipboard-sanitized-write', `${APP_ORIGIN}/index.html`)).toBe(true);
    expect(permissionAllowed('clipboard-sanitized-write', 'https://example.com/')).toBe(false);
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read', 'fullscreen', 'hid', 'serial', 'usb']) {
      expect(permissionAllowed(p, `${APP_ORIGIN}/index.html`), p).toBe(false);
    }
  });

  it('has a CSP without inline scripts or eval', () => {
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).not.toContain('unsafe-inline');
    expect(APP_CSP).not.toContain('unsafe-eval');
    expect(APP_CSP).toContain("object-src 'none'");
  });
});

describe('requests from the app to saved collectors', () => {
  const trusted = new Set(['http://127.0.0.1:9410']);

  it('maps ws(s) URLs to the collector origin', () => {
    expect(targetOrigin('ws://127.0.0.1:9410/api/v1/topics/a/tail')).toBe('http://127.0.0.1:9410');
    expect(targetOrigin('wss://hub:9410/x')).toBe('https://hub:9410');
    expect(targetOrigin('file:///x')).toBeNull();
  });

  it('drops the Origin header only for the app, only towards saved collectors', () => {
    const headers = { Origin: APP_ORIGIN, Authorization: 'Bearer t' };
    expect(patchRequestHeaders({ url: 'http://127.0.0.1:9410/api/v1/topics', initiatorOrigin: APP_ORIGIN, requestHeaders: headers }, trusted)).toEqual({ Authorization: 'Bearer t' });
    expect(patchRequestHeaders({ url: 'ws://127.0.0.1:9410/api/v1/topics/a/tail', initiatorOrigin: APP_ORIGIN, requestHeaders: headers }, trusted)).toEqual({ Authorization: 'Bearer t' });
    // Another collector the user did not save, or a request the app did not make: untouched.
    expect(patchRequestHeaders({ url: 'http://10.0.0.5:9410/api/v1/topics', initiatorOrigin: APP_ORIGIN, requestHeaders: headers }, trusted)).toBe(headers);
    expect(patchRequestHeaders({ url: 'http://127.0.0.1:9410/api/v1/topics', initiatorOrigin: 'https://evil.example', requestHeaders: headers }, trusted)).toBe(headers);
  });

  it('answers the CORS check for the app and turns its preflights into 204', () => {
    const get = patchResponseHeaders({ url: 'http://127.0.0.1:9410/api/v1/topics', method: 'GET', initiatorOrigin: APP_ORIGIN, statusCode: 200, responseHeaders: { 'content-type': ['application/json'], 'access-control-allow-origin': ['http://other'] } }, trusted);
    expect(get.responseHeaders?.['Access-Control-Allow-Origin']).toEqual([APP_ORIGIN]);
    expect(get.responseHeaders?.['access-control-allow-origin']).toBeUndefined();
    expect(get.responseHeaders?.['content-type']).toEqual(['application/json']);
    expect(get.statusLine).toBeUndefined();
    const options = patchResponseHeaders({ url: 'http://127.0.0.1:9410/api/v1/topics', method: 'OPTIONS', initiatorOrigin: APP_ORIGIN, statusCode: 400 }, trusted);
    expect(options.statusLine).toBe('HTTP/1.1 204 No Content');
    expect(options.responseHeaders?.['Access-Control-Allow-Headers']?.[0]).toContain('authorization');
    expect(patchResponseHeaders({ url: 'http://10.0.0.5:9410/', method: 'GET', initiatorOrigin: APP_ORIGIN, statusCode: 200 }, trusted)).toEqual({});
    expect(patchResponseHeaders({ url: 'http://127.0.0.1:9410/', method: 'GET', initiatorOrigin: 'https://evil.example', statusCode: 200 }, trusted)).toEqual({});
  });
});
