/**
 * `sluice groups [group]`: the consumer groups of a running collector with their committed offset,
 * high watermark, lag and events lost to retention per topic — `kafka-consumer-groups --describe`.
 * Offsets are reset with `sluice replay <group> --group` (a dry run unless --execute).
 */
import type { Command } from 'commander';
import type { Group, GroupsResponse } from '../../../shared/src/api/consumers.ts';
import { action, AdminClient, table, withAdminOptions, type AdminOptions } from './client.ts';

export function registerGroups(program: Command): void {
  withAdminOptions(
    program
      .command('groups')
      .description("list consumer groups with their committed offset and lag per topic (reset offsets with: sluice replay <group> --group)")
      .argument('[group]', 'only this group'),
  )
    .option('--json', 'print the API answer as JSON')
    .action(
      action(async (name: string | undefined, options: AdminOptions & { json?: boolean }) => {
        const client = new AdminClient(options);
        const groups = name === undefined ? (await client.get<GroupsResponse>('/api/v1/groups')).groups : [await client.get<Group>(`/api/v1/groups/${encodeURIComponent(name)}`)];
        if (options.json) {
          console.log(JSON.stringify(name === undefined ? groups : groups[0], null, 2));
          return;
        }
        if (groups.length === 0) {
          console.log('no consumer group has committed an offset on this collector yet');
          return;
        }
        console.log(groupsTable(groups));
      }),
    );
}

export function groupsTable(groups: readonly Group[]): string {
  const rows = groups.flatMap((g) => g.topics.map((t) => [g.name, t.topic, t.committed, t.high, t.lag, t.lost, new Date(t.updatedAt).toISOString()]));
  return table(['GROUP', 'TOPIC', 'COMMITTED', 'HIGH', 'LAG', 'LOST', 'UPDATED'], rows);
}
