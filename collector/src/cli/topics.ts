/** `sluice topics`: the topics of a running collector, as a table (or JSON). */
import type { Command } from 'commander';
import type { TopicsResponse } from '../../../shared/src/api/core.ts';
import { action, AdminClient, formatBytes, table, withAdminOptions, type AdminOptions } from './client.ts';

export function registerTopics(program: Command): void {
  withAdminOptions(program.command('topics').description('list the topics of a running collector: offsets, counts, bytes, rates'))
    .option('--json', 'print the API answer as JSON')
    .action(
      action(async (options: AdminOptions & { json?: boolean }) => {
        const { topics } = await new AdminClient(options).get<TopicsResponse>('/api/v1/topics');
        if (options.json) {
          console.log(JSON.stringify(topics, null, 2));
          return;
        }
        if (topics.length === 0) {
          console.log('no topics yet');
          return;
        }
        console.log(
          table(
            ['TOPIC', 'LOW', 'HIGH', 'EVENTS', 'BYTES', 'RATE/S', 'LAST EVENT'],
            topics.map((t) => [t.name, t.low, t.high, t.count, formatBytes(t.bytes), t.ratePerSec, t.lastTs === null ? '–' : new Date(t.lastTs).toISOString()]),
          ),
        );
      }),
    );
}
