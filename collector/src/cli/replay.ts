/**
 * `sluice replay SINK --to-offset N | --to-time T | --earliest | --latest | --shift ±N
 *  [--topic T…] [--group] [--execute]`: plans (dry-run) or applies a replay through the admin
 * API and prints the plan per topic; with --execute, follows the sink until it has delivered
 * the replayed events again, with a progress bar.
 */
import type { Command } from 'commander';
import type { SinkStatus } from '../../../shared/src/api/core.ts';
import type { ReplayResponse, ReplayTarget } from '../../../shared/src/api/replay.ts';
import { action, AdminClient, CliError, table, withAdminOptions, type AdminOptions } from './client.ts';

interface ReplayOptions extends AdminOptions {
  toOffset?: string;
  toTime?: string;
  earliest?: boolean;
  latest?: boolean;
  shift?: string;
  topic?: string[];
  group?: boolean;
  execute?: boolean;
  timeout?: string;
}

function integer(value: string, option: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new CliError(`${option}: "${value}" is not an integer`, 2);
  return Number(value);
}

export function targetFrom(o: ReplayOptions): ReplayTarget {
  const given: ReplayTarget[] = [];
  if (o.toOffset !== undefined) given.push({ offset: integer(o.toOffset, '--to-offset') });
  if (o.toTime !== undefined) given.push({ time: /^\d+$/.test(o.toTime) ? Number(o.toTime) : o.toTime });
  if (o.earliest) given.push({ earliest: true });
  if (o.latest) given.push({ latest: true });
  if (o.shift !== undefined) given.push({ shift: integer(o.shift, '--shift') });
  if (given.length !== 1) throw new CliError('give exactly one of --to-offset N, --to-time T, --earliest, --latest, --shift ±N', 2);
  return given[0];
}

export function renderPlan(plan: ReplayResponse): string {
  const rows = plan.topics.map((t) => [t.topic, t.current === null ? '–' : t.current, t.target, t.low, t.high, t.redeliver, t.skip, t.note ?? '']);
  const lines = [table(['TOPIC', 'CURRENT', 'NEW', 'LOW', 'HIGH', 'AGAIN', 'SKIPPED', 'NOTE'], rows)];
  const what = `${plan.redeliver} event${plan.redeliver === 1 ? '' : 's'} ${plan.executed ? 'will be' : 'would be'} delivered again, ${plan.skip} skipped`;
  lines.push('', plan.executed ? `applied to ${plan.consumer}: ${what}` : `dry-run for ${plan.consumer}: ${what}; nothing changed. Add --execute to apply.`);
  return lines.join('\n');
}

export function registerReplay(program: Command): void {
  withAdminOptions(
    program
      .command('replay')
      .description("move a sink's (or, with --group, a consumer group's) cursors to replay or skip events; a dry-run unless --execute")
      .argument('<sink>', 'sink name (with --group: consumer group name)'),
  )
    .option('--to-offset <n>', 'to this offset')
    .option('--to-time <time>', 'to the first event at or after this time (ISO 8601 or ms since the epoch)')
    .option('--earliest', 'to the earliest event retention kept')
    .option('--latest', 'to the end (skip everything not yet delivered)')
    .option('--shift <n>', 'by ±N events from the current cursor (write --shift=-100 or --shift -100)')
    .option('--topic <topic>', 'only this topic (repeatable; default: every topic of the sink or group)', (t: string, all: string[] = []) => [...all, t])
    .option('--group', 'SINK names a consumer group')
    .option('--execute', 'apply the move (without it: show what would happen)')
    .option('--timeout <seconds>', 'with --execute: stop following the sink after this long')
    .action(
      action(async (name: string, options: ReplayOptions) => {
        const client = new AdminClient(options);
        const to = targetFrom(options);
        const path = options.group ? `/api/v1/groups/${encodeURIComponent(name)}/replay` : `/api/v1/sinks/${encodeURIComponent(name)}/replay`;
        const plan = await client.post<ReplayResponse>(path, { to, ...(options.topic ? { topics: options.topic } : {}), execute: options.execute === true });
        console.log(renderPlan(plan));
        if (!plan.executed) return;
        if (options.group) {
          console.log('the group\'s consumers read from the new offsets at their next fetch');
          return;
        }
        await follow(client, name, plan, options.timeout === undefined ? null : Number(options.timeout) * 1000);
      }),
    );
}

/** Follows the sink until every replayed topic's cursor reached the high watermark it had when the replay was applied. */
async function follow(client: AdminClient, sink: string, plan: ReplayResponse, timeoutMs: number | null): Promise<void> {
  const goals = plan.topics.map((t) => ({ topic: t.topic, from: t.target, to: t.high }));
  const total = goals.reduce((a, g) => a + Math.max(0, g.to - g.from), 0);
  if (total === 0) {
    console.log('nothing to deliver');
    return;
  }
  // A CommonJS package: its exports are the default export of the dynamic import.
  const { SingleBar } = (await import('cli-progress')).default;
  const bar = new SingleBar({
    format: `delivering {bar} {percentage}% | {value}/{total} events | {rate} ev/s | sink {state}`,
    barCompleteChar: '█',
    barIncompleteChar: '░',
    hideCursor: true,
    stream: process.stderr,
  });
  bar.start(total, 0, { rate: 0, state: 'running' });
  const started = Date.now();
  const deadline = timeoutMs === null ? Number.POSITIVE_INFINITY : started + timeoutMs;
  let done = 0;
  try {
    for (;;) {
      const status = await client.get<SinkStatus>(`/api/v1/sinks/${encodeURIComponent(sink)}`);
      done = 0;
      for (const g of goals) {
        const cursor = status.topics.find((t) => t.topic === g.topic)?.cursor ?? g.from;
        done += Math.max(0, Math.min(cursor, g.to) - g.from);
      }
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      bar.update(done, { rate: Math.round(done / seconds), state: status.state });
      if (done >= total) break;
      if (status.state === 'failed') throw new CliError(`sink "${sink}" failed while replaying: ${status.lastError?.message ?? 'unknown error'} (${done}/${total} delivered)`);
      if (Date.now() > deadline) throw new CliError(`stopped following after ${timeoutMs! / 1000} s: ${done}/${total} delivered; the sink goes on`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    bar.stop();
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`delivered ${total} replayed event${total === 1 ? '' : 's'} in ${seconds.toFixed(1)} s`);
}
