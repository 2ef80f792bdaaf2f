import { describe, expect, it } from 'vitest';
import { mimeOf, resolveAppFile } from './protocol.ts';

describe('sluice://app/ files', () => {
  const root = '/opt/sluice/renderer/dist';
  it('maps app URLs into the renderer build', () => {
    expect(resolveAppFile(root, 'sluice://app/')).toBe(`${root}/index.html`);
    expect(resolveAppFile(root, 'sluice://app/index.html')).toBe(`${root}/index.html`);
    expect(resolveAppFile(root, 'sluice://app/assets/index-abc.js')).toBe(`${root}/assets/index-abc.js`);
  });
  it('never resolves outside the folder', () => {
    // The URL parser may already fold `..` away; either way the result stays under root.
    for (const url of ['sluice://app/../../etc/passwd', 'sluice://app/%2e%2e/%2e%2e/etc/passwd', 'sluice://app/a/%2E%2E/%2E%2E/%2E%2E/x']) {
      const file = resolveAppFile(root, url);
      expect(file === null || file.startsWith(`${root}/`), `${url} → ${file}`).toBe(true);
    }
  });
  it('refuses encoded separators, NUL bytes and other hosts or schemes', () => {
    for (const url of ['sluice://app/a%5c..%5c..%5cx', 'sluice://app/%00', 'sluice://app/..%2f..%2fetc%2fpasswd', 'sluice://other/index.html', 'file:///etc/passwd']) {
      expect(resolveAppFile(root, url), url).toBeNull();
    }
  });
  it('serves known types', () => {
    expect(mimeOf('a.js')).toMatch(/javascript/);
    expect(mimeOf('a.css')).toMatch(/css/);
    expect(mimeOf('a.bin')).toBe('application/octet-stream');
  });
});
