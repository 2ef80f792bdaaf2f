/**
 * Sizes as people read them, the same in every message, table and view of Sluice:
 * `512 bytes`, `1.5 KiB`, `70 MiB`, `195.3 KiB` (one decimal, dropped when it is 0).
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (Math.abs(n) < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${+v.toFixed(1)} ${units[u]}`;
}
