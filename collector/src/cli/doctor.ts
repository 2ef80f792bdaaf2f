/**
 * `sluice doctor FILE [--out NEW.db] [--no-progress]`: checks a channel file (SQLite's
 * quick_check, then the CRC of every record batch) and reports every damaged offset range; with
 * `--out`, salvages every readable batch into a new channel file a collector can open.
 * Reads FILE only (read-only), so it is safe on a copy taken from an edge machine; stop the
 * collector first when salvaging its live file, so the salvage has its latest commits.
 *
 * Exit codes: 0 the file is sound; 1 damage was found (and salvaged, with --out); 2 the file
 * cannot be checked (missing, not a database, not a channel).
 */
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { errorMessage } from '../../../shared/src/errors.ts';
import type { DoctorReport } from '../channel/doctor.ts';
import { action, CliError } from './client.ts';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check a channel file for damage and salvage every readable batch into a new file')
    .argument('<file>', 'a channel file (channel.db)')
    .option('--out <file>', 'write every readable batch (offsets, cursors and state kept) to this new channel file')
    .option('--no-progress', 'no progress bar')
    .action(
      action(async (file: string, options: { out?: string; progress: boolean }) => {
        const bar = options.progress && process.stderr.isTTY ? new SingleBar({ format: '{phase} {bar} {percentage}% | {value}/{total} batches', hideCursor: true, stream: process.stderr }) : null;
        let phase: string | null = null;
        let report: DoctorReport;
        // The channel code is loaded when the command runs, so `sluice --help` stays quick.
        const { runDoctor } = await import('../channel/doctor.ts');
        try {
          report = await runDoctor(resolve(file), {
            out: options.out === undefined ? undefined : resolve(options.out),
            progress: (p, done, total) => {
              if (!bar) return;
              const label = p === 'check' ? 'checking ' : 'salvaging';
              if (phase !== p) {
                if (phase !== null) bar.stop();
                phase = p;
                bar.start(total, done, { phase: label });
              } else {
                bar.update(done, { phase: label });
              }
            },
          });
        } catch (error) {
          throw new CliError(errorMessage(error), 2);
        } finally {
          bar?.stop();
        }
        console.log(formatReport(report));
        if (report.damaged.length > 0 || report.fileProblem || report.sqliteCheck.join() !== 'ok') process.exitCode = 1;
      }),
    );
}

export function formatReport(r: DoctorReport): string {
  const lines = [`sluice doctor: ${r.file} (schema version ${r.schemaVersion})`];
  lines.push(r.sqliteCheck.join() === 'ok' ? '  SQLite quick_check: ok' : `  SQLite quick_check: ${r.sqliteCheck.length} finding${r.sqliteCheck.length === 1 ? '' : 's'}`);
  if (r.sqliteCheck.join() !== 'ok') for (const line of r.sqliteCheck.slice(0, 5)) lines.push(`    ${line.split('\n').slice(0, 3).join(' | ')}`);
  lines.push(`  record batches: ${r.checkedBatches} of ${r.batches} checked${r.uncheckedBatches > 0 ? ` (${r.uncheckedBatches} without a CRC, checked by decoding)` : ''}`);
  if (r.fileProblem) lines.push(`  ${r.fileProblem}`);
  if (r.damaged.length === 0) lines.push('  damaged ranges: none');
  else {
    lines.push(`  damaged ranges: ${r.damaged.length}`);
    for (const d of r.damaged) lines.push(`    topic "${d.topic}": offsets ${d.first}–${d.last} (${d.last - d.first + 1} events): ${d.reason}`);
  }
  if (r.salvage) {
    const s = r.salvage;
    lines.push(`  salvaged ${s.events} events in ${s.batches} batches of ${s.topics} topic${s.topics === 1 ? '' : 's'} into ${s.out}${s.lostBatches > 0 ? `; ${s.lostBatches} damaged batch${s.lostBatches === 1 ? '' : 'es'} left out (${s.lostBatches === 1 ? 'its' : 'their'} offsets stay unused)` : ''}`);
    lines.push(`  to use it: stop the collector, move ${r.file} away, and put ${s.out} in its place as channel.db`);
  } else if (r.damaged.length > 0 || r.fileProblem) {
    lines.push(`  salvage every readable batch: sluice doctor ${r.file} --out NEW.db`);
  }
  return lines.join('\n');
}
