/**
 * The sluice: scheme the window loads the renderer from: `sluice://app/<file>` maps to a file of
 * the renderer build; any path that is not a file there is the app (index.html); a path that
 * tries to leave the folder is refused.
 */
import { extname, resolve, sep } from 'node:path';

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** The file under `root` a sluice://app URL names, or null when the path is not allowed. */
export function resolveAppFile(root: string, url: string): string | null {
  let pathname: string;
  try {
    const u = new URL(url);
    if (u.protocol !== 'sluice:' || u.host !== 'app') return null;
    pathname = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  const parts = pathname.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  const full = resolve(root, ...(parts.length === 0 ? ['index.html'] : parts));
  if (!full.startsWith(root + sep)) return null;
  return full;
}

export function mimeOf(file: string): string {
  return MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
}
