/** `sluice edges [EDGE]`: on a hub, the edges that report to it, worst first (docs/fleet.md). */
import type { Command } from 'commander';
import type { EdgeSummary, EdgesResponse } from '../../../shared/src/api/fleet.ts';
import { action, AdminClient, table, withAdminOptions, type AdminOptions } from './client.ts';

function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

export function registerEdges(program: Command): void {
  withAdminOptions(program.command('edges').description('on a hub: the edges that report to it — last seen, state, backlog, oldest undelivered — worst first').argument('[edge]', 'one edge: its topics and sinks'))
    .option('--json', 'print the API answer as JSON')
    .action(
      action(async (id: string | undefined, options: AdminOptions & { json?: boolean }) => {
        const client = new AdminClient(options);
        const now = Date.now();
        if (id !== undefined) {
          const edge = await client.get<EdgeSummary>(`/api/v1/edges/${encodeURIComponent(id)}`);
          if (options.json) return void console.log(JSON.stringify(edge, null, 2));
          console.log(`${edge.id} (${edge.host}, sluice ${edge.version}): ${edge.state}, last seen ${ago(edge.lastSeen, now)}, report made ${new Date(edge.reportedAt).toISOString()}`);
          console.log(table(['TOPIC', 'BACKLOG', 'OLDEST (S)', 'STORED BYTES'], edge.latest.topics.map((t) => [t.topic, t.backlogEvents, Math.round(t.oldestUndeliveredSeconds), t.storedBytes])));
          console.log(table(['SINK', 'TYPE', 'STATE', 'LAG', 'LAST ERROR'], edge.latest.sinks.map((s) => [s.name, s.type, s.state, s.lag, s.lastError ? `${s.lastError.message} (${ago(s.lastError.at, now)})` : '–'])));
          return;
        }
        const { edges } = await client.get<EdgesResponse>('/api/v1/edges');
        if (options.json) return void console.log(JSON.stringify(edges, null, 2));
        if (edges.length === 0) return void console.log('no edge has reported to this collector yet');
        console.log(table(['EDGE', 'HOST', 'STATE', 'LAST SEEN', 'BACKLOG', 'OLDEST (S)', 'FILL %', 'VERSION'], edges.map((e) => [e.id, e.host, e.state, ago(e.lastSeen, now), e.backlogEvents, Math.round(e.oldestUndeliveredSeconds), Math.round(e.latest.channel.fill * 100), e.version])));
      }),
    );
}
