/** Cursor names of consumer groups (sinks' are `sink:<name>`, sinks/runner.ts). */
export const GROUP_PREFIX = 'group:';

/** The cursor consumer name of a consumer group; the fetch, commit and replay APIs use the same. */
export function groupConsumer(group: string): string {
  return `${GROUP_PREFIX}${group}`;
}
