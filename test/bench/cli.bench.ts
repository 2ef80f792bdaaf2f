/**
 * The `sluice` command's own cost:
 *   cli.help_cpu  CPU seconds (user + system) of `node bin/sluice.js --help`, the price of loading
 *                 the CLI; every command loads only its own code (docs/decisions/runtime-build.md).
 * Baseline: a bare `node -e 0` process, measured the same way in the same run.
 */
import { spawnSync } from 'node:child_process';
import { SLUICE } from '../helpers/process.ts';
import { defineBench, median } from './harness.ts';

/** Reports the process's own CPU time on stderr as it exits; preloaded into both processes alike. */
const CPU_HOOK = `data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('\\ncpu-us '+(u.user+u.system)+'\\n')})`;

function cpuSeconds(args: string[]): number {
  const result = spawnSync(process.execPath, ['--import', CPU_HOOK, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const match = /cpu-us (\d+)/.exec(result.stderr);
  if (!match) throw new Error(`node ${args.join(' ')} did not report its CPU time: ${result.stderr}`);
  return Number(match[1]) / 1e6;
}

export default defineBench({
  name: 'cli',
  summary: 'What the sluice command costs before it does anything: --help',
  run(b) {
    if (!b.wants('cli.help_cpu')) return;
    const runs = b.quick ? 3 : 9;
    cpuSeconds([SLUICE, '--version']); // builds the bundle if the sources changed: not measured
    const sluice: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      sluice.push(cpuSeconds([SLUICE, '--help']));
      bare.push(cpuSeconds(['-e', '0']));
    }
    b.figure('cli.help_cpu', {
      value: median(sluice),
      unit: 's',
      better: 'lower',
      baseline: median(bare),
      notes: `CPU time (user + system, process.cpuUsage at exit) of \`node bin/sluice.js --help\` in a checkout (the compiled bundle, after its freshness check). Baseline: \`node -e 0\`. Median of ${runs} alternating runs: sluice ${sluice.map((s) => s.toFixed(3)).join(' / ')} s, bare node ${bare.map((s) => s.toFixed(3)).join(' / ')} s.`,
    });
  },
});
