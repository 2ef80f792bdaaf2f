/** The API's event filters as the filter bar edits them, and their query form. */
import type { FilterQuery } from '../../../../../shared/src/api/events.ts';

export interface Filters {
  key: string;
  /** `name:value`, one per line or comma-separated. */
  header: string;
  bodyContains: string;
  bodyRegex: string;
  jsonata: string;
}

export const NO_FILTERS: Filters = { key: '', header: '', bodyContains: '', bodyRegex: '', jsonata: '' };

export function hasFilters(f: Filters): boolean {
  return Object.values(f).some((v) => v.trim() !== '');
}

export function toFilterQuery(f: Filters): FilterQuery {
  const q: FilterQuery = {};
  if (f.key.trim()) q.key = f.key.trim();
  const headers = f.header.split(/[\n,]/).map((h) => h.trim()).filter(Boolean);
  if (headers.length) q.header = headers;
  if (f.bodyContains) q.bodyContains = f.bodyContains;
  if (f.bodyRegex.trim()) q.bodyRegex = f.bodyRegex.trim();
  if (f.jsonata.trim()) q.jsonata = f.jsonata.trim();
  return q;
}

/** A problem the user can fix before asking the server (a header without `:`). */
export function filterProblem(f: Filters): string | null {
  for (const h of f.header.split(/[\n,]/).map((x) => x.trim()).filter(Boolean)) {
    if (!h.includes(':')) return `Header filter "${h}" needs the form name:value (e.g. level:error).`;
  }
  return null;
}

export function describeFilters(f: Filters): string {
  const parts: string[] = [];
  if (f.key.trim()) parts.push(`key = ${f.key.trim()}`);
  if (f.header.trim()) parts.push(`header ${f.header.trim()}`);
  if (f.bodyContains) parts.push(`body contains "${f.bodyContains}"`);
  if (f.bodyRegex.trim()) parts.push(`body ~ ${f.bodyRegex.trim()}`);
  if (f.jsonata.trim()) parts.push(`JSONata ${f.jsonata.trim()}`);
  return parts.join(' · ');
}
