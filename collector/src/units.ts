/**
 * Units every component's config uses — durations, sizes, listen and server addresses — as
 * TypeBox schemas with the words a config error uses, and their conversions. A leaf: it imports
 * nothing of the collector, so components and the config loader both depend on it and not on
 * each other.
 */
import { Type } from '@sinclair/typebox';
import { EXPECTED } from '../../shared/src/spec.ts';

/** host:port, IPv6 in brackets; port 0–65535 (0: the system picks a free port). */
export const LISTEN_PATTERN = '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})$';
/** host:port of a server to connect to; port 1–65535. */
export const ADDRESS_PATTERN = '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})$';
export const ADDRESS_EXPECTED = 'host:port with port 1–65535, such as hub.example.com:24224';
export const LISTEN_EXPECTED = 'host:port with port 1–65535, such as 127.0.0.1:9880 or [::1]:9880';

export const Duration = (description: string, defaultValue?: string | number) =>
  Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d|w)$' })], {
    [EXPECTED]: 'a duration such as 30s, 5m or 7d',
    description: `${description} (ms, or a duration like 500ms, 30s, 5m, 12h, 7d)`,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });

export const Size = (description: string, defaultValue?: string | number) =>
  Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$' })], {
    [EXPECTED]: 'a size such as 64MiB, 512KiB or 1GiB',
    description: `${description} (bytes, or a size like 64KiB, 512MiB, 1GiB)`,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  });

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const UNITS_BYTES: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

export function toMs(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9.]+)\s*([a-z]+)$/.exec(value)!;
  return Math.round(Number(m[1]) * UNITS_MS[m[2]]);
}

/** `channel.min_free_space` as the channel takes it: bytes, a ratio of the filesystem, or `auto`. */
export function toMinFreeSpace(value: string | number): number | { ratio: number } | 'auto' {
  if (value === 'auto') return 'auto';
  if (typeof value === 'string' && value.endsWith('%')) return { ratio: Number(value.slice(0, -1).trim()) / 100 };
  return toBytes(value);
}

export function toBytes(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9.]+)\s*([A-Za-z]+)$/.exec(value)!;
  return Math.round(Number(m[1]) * UNITS_BYTES[m[2]]);
}
