/**
 * `sluice topics`: the topics of a running collector, as a table (or JSON), and below them how far
 * behind each sink is on each topic (events, seconds, delivery rate, state).
 */
import type { Command } from 'commander';
import type { SinksResponse, TopicsResponse } from '../../../shared/src/api/core.ts';
import { formatBytes } from '../../../shared/src/format.ts';
import { action, AdminClient, table, withAdminOptions, type AdminOptions } from './client.ts';

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
        const { sinks } = await new AdminClient(options).get<SinksResponse>('/api/v1/sinks');
        const rows = sinks.flatMap((s) =>
          s.topics.map((t) => [s.name, t.topic, s.state === 'running' || s.state === 'backing_off' ? (t.state ?? s.state) : s.state, t.lag, formatSeconds(t.lagSeconds), Math.round(t.rate ?? 0)]),
        );
        if (rows.length > 0) console.log(`\n${table(['SINK', 'TOPIC', 'STATE', 'LAG', 'BEHIND', 'SENT/S'], rows)}`);
      }),
    );
}

/** `0s`, `4.2s`, `3m12s`, `5h04m`: how far behind, readable at a glance. */
export function formatSeconds(seconds: number | undefined): string {
  const s = seconds ?? 0;
  if (s < 60) return `${s < 10 && s > 0 ? s.toFixed(1) : Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
