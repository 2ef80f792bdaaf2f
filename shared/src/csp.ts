/**
 * The Content-Security-Policy of the web UI, wherever it is served from: the collector's admin
 * address and the desktop app's own scheme. Scripts, styles and fonts only from the app itself;
 * connections to any collector (the UI talks to the ones the user saved).
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self' http: https: ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
